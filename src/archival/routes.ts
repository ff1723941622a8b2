import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { problemContentType } from "../platform/problem";
import { keeperRoute, ProblemSchema, problems } from "../platform/route";
import { archiveConversations, listArchivedConversations, restoreConversation } from "./conversation-archive.service";
import { listDeletedVideos, restoreVideo, softDeleteVideo } from "./lifecycle.service";
import { optimizeDatabase } from "./optimize.service";
import { cleanupOrphans } from "./orphans.service";
import { applyPolicies, previewPolicies, retentionStatus } from "./policies.service";
import { retentionPolicyFrom } from "./policy";
import { purgeVideo } from "./purge.service";
import {
  ApplyPoliciesInput,
  ArchiveConversationsInput,
  ArchivedQuery,
  DeletedQuery,
  DestructiveInput,
  IdParam,
  StatusQuery,
  toOverrides,
} from "./validators";

/** Soft delete, restore, purge and retention are operator actions: every route here is admin scope. */
const scope = "admin" as const;
const tags = ["archival"];
const ok = (description: string) => ({
  description,
  content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
});
const upstream = {
  description: "An R2 write or read-back failed; D1 was left unchanged",
  content: { [problemContentType]: { schema: ProblemSchema } },
};
const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { "application/json": { schema } } },
});

const statusRoute = keeperRoute({
  method: "get",
  path: "/admin/archival/status",
  scope,
  tags,
  summary: "What each retention policy would do now, and the last run",
  request: { query: StatusQuery },
  responses: { 200: ok("Policy preview and last run") },
});
const softDeleteRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/videos/{id}/soft-delete",
  scope,
  tags,
  summary: "Soft-delete a video (hidden from the data API; purged after the retention window)",
  request: { params: IdParam },
  responses: { 200: ok("Soft-deleted (changed: false if it already was)"), 404: problems[404] },
});
const restoreRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/videos/{id}/restore",
  scope,
  tags,
  summary: "Restore a soft-deleted video",
  request: { params: IdParam },
  responses: { 200: ok("Restored (changed: false if it was live)"), 404: problems[404] },
});
const listDeletedRoute = keeperRoute({
  method: "get",
  path: "/admin/archival/deleted",
  scope,
  tags,
  summary: "Soft-deleted videos with deletion time and age, oldest first",
  request: { query: DeletedQuery },
  responses: { 200: ok("A page of soft-deleted videos") },
});
const purgeRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/videos/{id}/purge",
  scope,
  tags,
  summary: "Permanently delete a soft-deleted video with its rows and MEDIA objects (dry_run previews)",
  request: { params: IdParam, ...jsonBody(DestructiveInput) },
  responses: {
    200: ok("Impact (dry run) or what was deleted"),
    404: problems[404],
    409: problems[409],
    413: problems[413],
    422: problems[422],
    428: problems[428],
  },
});
const archiveRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/conversations/archive",
  scope,
  tags,
  summary: "Archive conversations idle for more than N days to BACKUPS, then remove them from D1",
  request: jsonBody(ArchiveConversationsInput),
  responses: {
    200: ok("What was (or would be) archived"),
    413: problems[413],
    422: problems[422],
    428: problems[428],
    502: upstream,
  },
});
const listArchivedRoute = keeperRoute({
  method: "get",
  path: "/admin/archival/conversations",
  scope,
  tags,
  summary: "Find archived conversations by video or id",
  request: { query: ArchivedQuery },
  responses: { 200: ok("Archived conversations") },
});
const restoreConversationRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/conversations/{id}/restore",
  scope,
  tags,
  summary: "Put an archived conversation back into D1",
  request: { params: IdParam },
  responses: { 200: ok("Restored"), 404: problems[404], 409: problems[409], 502: upstream },
});
const cleanupRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/cleanup",
  scope,
  tags,
  summary: "Delete rows whose parent is gone and MEDIA objects of videos that no longer exist",
  request: jsonBody(DestructiveInput),
  responses: { 200: ok("Orphans found and removed"), 413: problems[413], 422: problems[422], 428: problems[428] },
});
const optimizeRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/optimize",
  scope,
  tags,
  summary: "PRAGMA optimize (D1 allows neither VACUUM nor ANALYZE), with size before/after",
  request: jsonBody(DestructiveInput),
  responses: { 200: ok("Sizes before and after"), 413: problems[413], 422: problems[422], 428: problems[428] },
});
const applyRoute = keeperRoute({
  method: "post",
  path: "/admin/archival/apply-policies",
  scope,
  tags,
  summary: "Run every retention policy now, under the same lease as the cron run",
  request: jsonBody(ApplyPoliciesInput),
  responses: {
    200: ok("The preview (dry run) or the run record"),
    413: problems[413],
    422: problems[422],
    423: problems[423],
    428: problems[428],
  },
});

export function registerArchivalRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(statusRoute, async (c) => {
    const q = c.req.valid("query");
    return c.json(await retentionStatus({ ctx: c.get("ctx"), input: toOverrides(q) }), 200);
  });
  app.openapi(softDeleteRoute, async (c) =>
    c.json(await softDeleteVideo({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(restoreRoute, async (c) => c.json(await restoreVideo({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200));
  app.openapi(listDeletedRoute, async (c) =>
    c.json(await listDeletedVideos({ ctx: c.get("ctx"), input: c.req.valid("query") }), 200),
  );
  app.openapi(purgeRoute, async (c) => {
    const body = c.req.valid("json");
    const result = await purgeVideo({
      ctx: c.get("ctx"),
      input: { id: c.req.valid("param").id, dryRun: body.dry_run, confirm: body.confirm },
    });
    return c.json({ ...result }, 200);
  });
  app.openapi(archiveRoute, async (c) => {
    const ctx = c.get("ctx");
    const body = c.req.valid("json");
    const olderThanDays = body.older_than_days ?? retentionPolicyFrom(ctx.env as unknown as Record<string, unknown>).archiveDays;
    return c.json(
      { ...(await archiveConversations({ ctx, input: { olderThanDays, dryRun: body.dry_run, confirm: body.confirm } })) },
      200,
    );
  });
  app.openapi(listArchivedRoute, async (c) => {
    const q = c.req.valid("query");
    return c.json(
      await listArchivedConversations({
        ctx: c.get("ctx"),
        input: { videoId: q.video_id, conversationId: q.id, limit: q.limit },
      }),
      200,
    );
  });
  app.openapi(restoreConversationRoute, async (c) =>
    c.json(await restoreConversation({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(cleanupRoute, async (c) => {
    const body = c.req.valid("json");
    return c.json(
      { ...(await cleanupOrphans({ ctx: c.get("ctx"), input: { dryRun: body.dry_run, confirm: body.confirm } })) },
      200,
    );
  });
  app.openapi(optimizeRoute, async (c) => {
    const body = c.req.valid("json");
    if (!body.dry_run && !body.confirm) {
      throw new KeeperError("CONFIRMATION_REQUIRED", "Send confirm: true (or dry_run: true)");
    }
    return c.json(await optimizeDatabase({ ctx: c.get("ctx"), input: { dryRun: body.dry_run } }), 200);
  });
  app.openapi(applyRoute, async (c) => {
    const ctx = c.get("ctx");
    const body = c.req.valid("json");
    const overrides = toOverrides(body);
    if (body.dry_run) return c.json({ dry_run: true, ...(await previewPolicies({ ctx, input: overrides })) }, 200);
    const run = await applyPolicies({ ctx, input: { ...overrides, trigger: "manual", confirm: body.confirm } });
    return c.json({ dry_run: false, run }, 200);
  });
}
