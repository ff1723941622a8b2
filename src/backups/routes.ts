import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { jsonBody as body, jsonContent as json, keeperRoute, problems } from "../platform/route";
import { backupIdPattern, listBackups, requireManifest, summarize } from "./catalog.service";
import { createBackup } from "./create.service";
import { runRestoreDrill } from "./drill.service";
import { pruneBackups, RetentionRules } from "./prune.service";
import { restoreBackup } from "./restore.service";
import { verifyBackup } from "./verify.service";

const idParams = z.object({ id: z.string().regex(backupIdPattern, "a backup id: YYYYMMDDTHHMMSSZ-xxxx") });
const Loose = z.record(z.string(), z.unknown());
const Summary = z
  .object({
    id: z.string(),
    created_at: z.string(),
    finished_at: z.string(),
    schema_version: z.string().nullable(),
    tables: z.number(),
    rows: z.number(),
    bytes: z.number(),
    sql_bytes: z.number(),
    duration_ms: z.number(),
    bookmark: z.string().nullable(),
  })
  .openapi("BackupSummary");

export const createBackupRoute = keeperRoute({
  method: "post",
  path: "/admin/backups",
  operationId: "backups.create",
  scope: "admin",
  tags: ["backups"],
  summary: "Back up every table to R2 (resumes an unfinished backup first)",
  request: body(
    z
      .object({
        budgetMs: z
          .number()
          .int()
          .min(1000)
          .max(14 * 60_000)
          .optional(),
      })
      .strict()
      .openapi({ example: {} }),
  ),
  responses: {
    200: json(
      "The run; complete: false means call again (or let the cron) to continue",
      z.object({ run: Loose, backup_id: z.string().nullable(), complete: z.boolean() }),
    ),
    423: problems[423],
  },
});

export const listBackupsRoute = keeperRoute({
  method: "get",
  path: "/admin/backups",
  operationId: "backups.list",
  scope: "read",
  tags: ["backups"],
  summary: "Complete backups (those with a manifest), newest first",
  responses: { 200: json("Backups", z.object({ items: z.array(Summary) })) },
});

export const showBackupRoute = keeperRoute({
  method: "get",
  path: "/admin/backups/{id}",
  operationId: "backups.get",
  scope: "read",
  tags: ["backups"],
  summary: "A backup's manifest",
  request: { params: idParams },
  responses: { 200: json("Manifest", Loose), 404: problems[404] },
});

export const downloadBackupRoute = keeperRoute({
  method: "get",
  path: "/admin/backups/{id}/download",
  operationId: "backups.download",
  scope: "admin",
  tags: ["backups"],
  summary:
    "The whole dump as one zstd stream (its objects' frames in order): `zstd -d` gives SQL for `wrangler d1 execute --file`",
  request: { params: idParams },
  responses: {
    200: {
      description: "zstd-compressed SQL",
      content: { "application/zstd": { schema: z.string().openapi({ format: "binary" }) } },
    },
    404: problems[404],
  },
});

export const verifyBackupRoute = keeperRoute({
  method: "post",
  path: "/admin/backups/{id}/verify",
  operationId: "backups.verify",
  scope: "admin",
  tags: ["backups"],
  summary: "Re-read every object: sha256, decompression and row counts against the manifest",
  request: { params: idParams },
  responses: {
    200: json(
      "Verification",
      z.object({ id: z.string(), ok: z.boolean(), objects: z.number(), rows: z.number(), problems: z.array(z.string()) }),
    ),
    404: problems[404],
  },
});

export const restoreBackupRoute = keeperRoute({
  method: "post",
  path: "/admin/backups/{id}/restore",
  operationId: "backups.restore",
  scope: "admin",
  tags: ["backups"],
  summary: "Restore into SCRATCH_DB (default) or the main database, then compare digests with the manifest",
  request: {
    params: idParams,
    ...body(
      z
        .object({
          target: z.enum(["scratch", "main"]).default("scratch"),
          tables: z.array(z.string().min(1).max(128)).min(1).max(200).optional(),
          force: z.boolean().default(false),
          dryRun: z.boolean().default(false),
          confirm: z.boolean().default(false),
        })
        .strict()
        .openapi({ example: { target: "scratch", dryRun: true } }),
    ),
  },
  responses: {
    200: json(
      "The plan or the result",
      z.object({ dryRun: z.boolean(), plan: Loose, verified: z.boolean().nullable(), mismatches: z.array(Loose) }),
    ),
    404: problems[404],
    409: problems[409],
    422: problems[422],
    423: problems[423],
    428: problems[428],
  },
});

export const pruneBackupsRoute = keeperRoute({
  method: "post",
  path: "/admin/backups/prune",
  operationId: "backups.prune",
  scope: "admin",
  tags: ["backups"],
  summary: "Delete backups no retention rule keeps (never the newest), and leftovers of failed runs",
  request: body(
    RetentionRules.extend({ dryRun: z.boolean().default(false), confirm: z.boolean().default(false) })
      .strict()
      .openapi({ example: { dryRun: true, keepDays: 30 } }),
  ),
  responses: { 200: json("Kept, deleted and why", Loose), 428: problems[428] },
});

export const drillRoute = keeperRoute({
  method: "post",
  path: "/admin/backups/drill",
  operationId: "backups.drill",
  scope: "admin",
  tags: ["backups"],
  summary: "Restore drill: the newest backup into SCRATCH_DB, digests compared with the manifest",
  responses: { 200: json("The run", Loose), 423: problems[423] },
});

export function registerBackupRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(createBackupRoute, async (c) =>
    c.json(await createBackup({ ctx: c.get("ctx"), input: { trigger: "manual", budgetMs: c.req.valid("json").budgetMs } }), 200),
  );
  app.openapi(listBackupsRoute, async (c) => c.json({ items: (await listBackups({ ctx: c.get("ctx") })).map(summarize) }, 200));
  app.openapi(showBackupRoute, async (c) =>
    c.json((await requireManifest(c.get("ctx"), c.req.valid("param").id)) as unknown as Record<string, unknown>, 200),
  );
  app.openapi(downloadBackupRoute, async (c) => {
    const ctx = c.get("ctx");
    const manifest = await requireManifest(ctx, c.req.valid("param").id);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const pump = async () => {
      for (const object of manifest.objects) {
        const stored = await ctx.backups.get(object.key);
        if (!stored) throw new Error(`object ${object.key} is missing`);
        await stored.body.pipeTo(writable, { preventClose: true });
      }
      await writable.close();
    };
    c.executionCtx.waitUntil(pump().catch((error) => writable.abort(error)));
    return c.body(readable, 200, {
      "Content-Type": "application/zstd",
      "Content-Disposition": `attachment; filename="${manifest.id}.sql.zst"`,
    }) as never;
  });
  app.openapi(verifyBackupRoute, async (c) =>
    c.json(await verifyBackup({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(restoreBackupRoute, async (c) =>
    c.json(await restoreBackup({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), id: c.req.valid("param").id } }), 200),
  );
  app.openapi(pruneBackupsRoute, async (c) => c.json(await pruneBackups({ ctx: c.get("ctx"), input: c.req.valid("json") }), 200));
  app.openapi(drillRoute, async (c) => c.json(await runRestoreDrill({ ctx: c.get("ctx"), input: { trigger: "manual" } }), 200));
}
