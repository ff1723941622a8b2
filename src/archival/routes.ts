import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { decimalInteger } from "../platform/query-params";
import { jsonBody as body, jsonContent as json, keeperRoute, problems } from "../platform/route";
import { pageOf, Video } from "../videos/present";
import { idString, PageQuery } from "../videos/validators";
import { listArchivedConversations, restoreArchivedConversation } from "./conversations-archive.service";
import { cleanupOrphans, optimizeDatabase } from "./orphans.service";
import { applyPolicies, policyStatus } from "./policies.service";
import { PolicyOverrides } from "./policy";
import { purgeVideo } from "./purge.service";
import { reindexArchives } from "./reindex.service";
import { OrphanRows, PolicyRunResult, PolicyStatus } from "./schemas";
import { listDeletedVideos, restoreVideo, softDeleteVideo } from "./soft-delete.service";

const videoParams = z.object({ id: idString });
const Destructive = { dryRun: z.boolean().default(false), confirm: z.boolean().default(false) };

const VideoChange = z.object({ video: Video, changed: z.boolean() }).openapi("VideoChange");
const Counts = z.object({
  videos: z.number(),
  video_context: z.number(),
  memory: z.number(),
  conversations: z.number(),
  messages: z.number(),
});
const PurgeResult = z
  .object({
    id: z.string(),
    dryRun: z.boolean(),
    counts: Counts,
    media: z.object({ keys: z.array(z.string()), deleted: z.number(), error: z.string().nullable() }),
  })
  .openapi("PurgeResult");
const OrphanReport = z
  .object({
    dryRun: z.boolean(),
    rows: OrphanRows,
    media: z.object({ videos: z.array(z.string()), keys: z.number() }),
  })
  .openapi("OrphanReport");
const ArchivedConversation = z
  .object({
    conversation_id: z.string(),
    video_id: z.string(),
    archive_key: z.string(),
    message_count: z.number(),
    last_activity_at: z.string(),
    archived_at: z.string(),
    restored_at: z.string().nullable(),
  })
  .openapi("ArchivedConversation");
export const softDeleteRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/videos/{id}/soft-delete",
  operationId: "archival.softDeleteVideo",
  scope: "admin",
  tags: ["archival"],
  summary: "Soft-delete a video: hidden from the data API, purged after the retention window",
  request: { params: videoParams },
  responses: { 200: json("The video (changed: false when it was already soft-deleted)", VideoChange), 404: problems[404] },
});

export const restoreVideoRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/videos/{id}/restore",
  operationId: "archival.restoreVideo",
  scope: "admin",
  tags: ["archival"],
  summary: "Undo a soft delete",
  request: { params: videoParams },
  responses: { 200: json("The video (changed: false when it was live)", VideoChange), 404: problems[404], 409: problems[409] },
});

export const listDeletedRoute = keeperRoute({
  method: "get",
  path: "/admin/archival/deleted",
  operationId: "archival.listDeleted",
  scope: "read",
  tags: ["archival"],
  summary: "Soft-deleted videos, most recently deleted first, with their age",
  request: { query: PageQuery },
  responses: {
    200: json("A page of soft-deleted videos", pageOf(Video.extend({ deleted_days_ago: z.number() }), "DeletedVideoPage")),
  },
});

export const purgeRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/videos/{id}/purge",
  operationId: "archival.purgeVideo",
  scope: "admin",
  tags: ["archival"],
  summary: "Permanently delete a video, its context, memory, conversations, messages and MEDIA files",
  description: "dryRun returns exactly the row counts and MEDIA keys it would remove. A live video needs force: true.",
  request: {
    params: videoParams,
    ...body(
      z
        .object({ ...Destructive, force: z.boolean().default(false) })
        .strict()
        .openapi({ example: { dryRun: true } }),
    ),
  },
  responses: {
    200: json("What was (or would be) removed", PurgeResult),
    404: problems[404],
    409: problems[409],
    428: problems[428],
  },
});

export const archiveConversationsRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/archive-conversations",
  operationId: "archival.archiveConversations",
  scope: "admin",
  tags: ["archival"],
  summary: "Archive conversations idle longer than archiveDays to R2, then remove them from D1",
  request: body(
    z
      .object({ ...Destructive, archiveDays: PolicyOverrides.shape.archiveDays })
      .strict()
      .openapi({ example: { dryRun: true, archiveDays: 30 } }),
  ),
  responses: { 200: json("The run (or the plan)", PolicyRunResult), 423: problems[423], 428: problems[428], 502: problems[502] },
});

export const listArchivedRoute = keeperRoute({
  method: "get",
  path: "/admin/archival/archived-conversations",
  operationId: "archival.listArchived",
  scope: "read",
  tags: ["archival"],
  summary: "Find archived conversations by video or id",
  request: {
    query: z.object({
      video_id: idString.optional(),
      conversation_id: idString.optional(),
      limit: decimalInteger(1, 500).default(100),
    }),
  },
  responses: { 200: json("Archived conversations", z.object({ items: z.array(ArchivedConversation) })) },
});

export const restoreConversationRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/archived-conversations/{conversationId}/restore",
  operationId: "archival.restoreConversation",
  scope: "admin",
  tags: ["archival"],
  summary: "Put an archived conversation (and its messages) back into D1",
  request: { params: z.object({ conversationId: idString }) },
  responses: {
    200: json(
      "Restored",
      z.object({ conversation_id: z.string(), video_id: z.string(), messages: z.number(), archive_key: z.string() }),
    ),
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

const ReindexResult = z
  .object({
    dryRun: z.boolean(),
    manifests: z.number().openapi({ description: "Manifests found under archives/conversations/" }),
    inserted: z
      .array(ArchivedConversation.omit({ restored_at: true }))
      .openapi({ description: "Index entries added (or, on a dry run, that would be)" }),
    already_indexed: z.number(),
    in_d1: z
      .number()
      .openapi({ description: "Conversations named by a manifest that are in D1 (kept or restored): not indexed" }),
    unreadable: z
      .array(z.object({ manifest: z.string(), reason: z.string() }))
      .openapi({ description: "Manifests whose archive is missing or does not match its sha256: skipped" }),
  })
  .openapi("ReindexResult");

export const reindexRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/reindex",
  operationId: "archival.reindex",
  scope: "admin",
  tags: ["archival"],
  summary: "Rebuild the archived-conversation index from the archive manifests in R2",
  description:
    "Adds the entries the index lacks (after a rollback, say); entries already indexed are left alone. dryRun lists what it would add.",
  request: body(
    z
      .object(Destructive)
      .strict()
      .openapi({ example: { dryRun: true } }),
  ),
  responses: { 200: json("What was (or would be) added", ReindexResult), 428: problems[428] },
});

export const cleanupRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/cleanup",
  operationId: "archival.cleanupMedia",
  scope: "admin",
  tags: ["archival"],
  summary: "Remove orphaned rows and MEDIA files of videos that no longer exist",
  request: body(
    z
      .object(Destructive)
      .strict()
      .openapi({ example: { dryRun: true } }),
  ),
  responses: { 200: json("What was (or would be) removed", OrphanReport), 428: problems[428] },
});

export const optimizeRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/optimize",
  operationId: "archival.optimize",
  scope: "admin",
  tags: ["archival"],
  summary: "PRAGMA optimize (D1 has no VACUUM/ANALYZE) with size before and after",
  responses: {
    200: json(
      "Sizes",
      z.object({
        size_before_bytes: z.number().nullable(),
        size_after_bytes: z.number().nullable(),
        duration_ms: z.number(),
        note: z.string(),
      }),
    ),
  },
});

export const policiesStatusRoute = keeperRoute({
  method: "get",
  path: "/admin/archival/status",
  operationId: "archival.status",
  scope: "read",
  tags: ["archival"],
  summary: "What each retention policy would do now, and its last run",
  request: {
    query: z.object({
      archive_days: decimalInteger(1, 3650).optional(),
      delete_days: decimalInteger(1, 3650).optional(),
    }),
  },
  responses: { 200: json("Policy status", PolicyStatus) },
});

export const applyPoliciesRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/apply-policies",
  operationId: "archival.applyPolicies",
  scope: "admin",
  tags: ["archival"],
  summary: "Start the retention Workflow now (the same job and lease as the daily cron); follow it at /admin/jobs/{run.id}",
  request: body(
    PolicyOverrides.extend(Destructive)
      .strict()
      .openapi({ example: { dryRun: true, archiveDays: 30, deleteDays: 7 } }),
  ),
  responses: { 200: json("The run (or the plan)", PolicyRunResult), 423: problems[423], 428: problems[428], 502: problems[502] },
});

export function registerArchivalRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(softDeleteRoute, async (c) =>
    c.json(await softDeleteVideo({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(restoreVideoRoute, async (c) =>
    c.json(await restoreVideo({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(listDeletedRoute, async (c) =>
    c.json(await listDeletedVideos({ ctx: c.get("ctx"), input: c.req.valid("query") }), 200),
  );
  app.openapi(purgeRoute, async (c) =>
    c.json(await purgeVideo({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), id: c.req.valid("param").id } }), 200),
  );
  app.openapi(archiveConversationsRoute, async (c) => {
    const input = c.req.valid("json");
    const result = await applyPolicies({
      ctx: c.get("ctx"),
      input: { ...input, trigger: "manual", purge: false, cleanup: false, optimize: false },
    });
    return c.json(result, 200);
  });
  app.openapi(listArchivedRoute, async (c) => {
    const query = c.req.valid("query");
    const items = await listArchivedConversations({
      ctx: c.get("ctx"),
      input: { videoId: query.video_id, conversationId: query.conversation_id, limit: query.limit },
    });
    return c.json({ items }, 200);
  });
  app.openapi(restoreConversationRoute, async (c) =>
    c.json(await restoreArchivedConversation({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(reindexRoute, async (c) => {
    const input = c.req.valid("json");
    if (!input.dryRun && !input.confirm)
      throw new KeeperError(
        "CONFIRMATION_REQUIRED",
        "Reindex writes the archive index; send confirm: true (try dryRun: true first)",
      );
    return c.json(await reindexArchives({ ctx: c.get("ctx"), input }), 200);
  });
  app.openapi(cleanupRoute, async (c) => {
    const input = c.req.valid("json");
    if (!input.dryRun && !input.confirm)
      throw new KeeperError("CONFIRMATION_REQUIRED", "Cleanup deletes data; send confirm: true (try dryRun: true first)");
    return c.json(await cleanupOrphans({ ctx: c.get("ctx"), input }), 200);
  });
  app.openapi(optimizeRoute, async (c) => c.json(await optimizeDatabase({ ctx: c.get("ctx") }), 200));
  app.openapi(policiesStatusRoute, async (c) => {
    const query = c.req.valid("query");
    return c.json(
      await policyStatus({ ctx: c.get("ctx"), input: { archiveDays: query.archive_days, deleteDays: query.delete_days } }),
      200,
    );
  });
  app.openapi(applyPoliciesRoute, async (c) =>
    c.json(await applyPolicies({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), trigger: "manual" } }), 200),
  );
}
