import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { startJob } from "../maintenance/jobs.service";
import { JobRunSchema } from "../maintenance/routes";
import type { KeeperEnv } from "../platform/context";
import { decimalInteger } from "../platform/query-params";
import { jsonBody as body, jsonContent as json, keeperRoute, problems } from "../platform/route";
import { BackupCheck, listBackupsWithChecks } from "./backup-checks.service";
import { backupIdPattern, requireManifest } from "./catalog.service";
import { openDump } from "./download.service";
import { ManifestSchema } from "./manifest";
import { PruneResult, pruneBackups, RetentionRules } from "./prune.service";
import { requestRestore } from "./restore.service";
import { verifyBackup } from "./verify.service";

const idParams = z.object({ id: z.string().regex(backupIdPattern, "a backup id: YYYYMMDDTHHMMSSZ-xxxx") });
const TableRows = z.object({ name: z.string(), rows: z.number() });
const RestorePlanSchema = z
  .object({
    id: z.string(),
    target: z.enum(["scratch", "main"]),
    tables: z.array(TableRows).openapi({ description: "The tables restored, with the backup's row counts" }),
    drops: z.array(z.string()).openapi({ description: "Tables dropped first (children before parents); only with force" }),
    occupied: z.array(TableRows).openapi({ description: "Tables of the target that already hold rows" }),
    rows: z.number(),
  })
  .openapi("RestorePlan");
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
    last_check: z
      .union([BackupCheck, z.null()])
      .openapi({ description: "The latest verify or drill of this backup; null: never checked" }),
  })
  .openapi("BackupSummary");

export const createBackupRoute = keeperRoute({
  method: "post",
  path: "/admin/backups",
  operationId: "backups.create",
  scope: "admin",
  tags: ["backups"],
  summary: "Start the backup Workflow (every table to R2); follow it at /admin/jobs/{run.id}",
  request: body(z.object({}).strict().openapi({ example: {} })),
  responses: {
    200: json(
      "The job's run, still running; started: false means a backup was already running and this is it",
      z.object({ run: JobRunSchema, started: z.boolean() }),
    ),
  },
});

export const listBackupsRoute = keeperRoute({
  method: "get",
  path: "/admin/backups",
  operationId: "backups.list",
  scope: "read",
  tags: ["backups"],
  summary: "Complete backups (those with a manifest), newest first",
  description:
    "Each backup listed is one R2 read of its manifest: with `limit`, only the newest backups' manifests are read (the free plan allows 50 R2 calls per request).",
  request: {
    query: z.object({
      limit: decimalInteger(1, 1000)
        .optional()
        .openapi({ description: "Only the newest this many backups (default: all of them)" }),
    }),
  },
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
  responses: { 200: json("Manifest", ManifestSchema), 404: problems[404] },
});

export const downloadBackupRoute = keeperRoute({
  method: "get",
  path: "/admin/backups/{id}/download",
  operationId: "backups.download",
  scope: "admin",
  tags: ["backups"],
  summary:
    "The dump as one zstd stream (its objects' frames in order): `zstd -d` gives SQL for `wrangler d1 execute --file`; whole for an empty database, or with dataOnly=true the rows for a database `wrangler d1 migrations apply` created",
  request: {
    params: idParams,
    query: z.object({
      dataOnly: z
        .enum(["true", "false"])
        .default("false")
        .openapi({ description: "true: rows and sqlite_sequence only, no schema and no migration ledgers" }),
    }),
  },
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
  summary: "Re-read every object: sha256, decompression, and every value parsed back against the manifest's digests",
  request: { params: idParams },
  responses: {
    200: json(
      "Verification",
      z.object({
        id: z.string(),
        ok: z.boolean(),
        objects: z.number(),
        rows: z.number(),
        problems: z.array(z.string()),
        checked_at: z.string().openapi({ description: "When this outcome was recorded (the backup list shows the latest)" }),
      }),
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
  summary:
    "Start the restore Workflow: check every object, back main up first (when it is the target), restore into SCRATCH_DB (default) or main, then compare digests with the manifest",
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
    200: json("The plan (dryRun: true); nothing was changed", z.object({ dryRun: z.literal(true), plan: RestorePlanSchema })),
    202: json(
      "The restore job's run, just started: follow it at /admin/jobs/{run.id}; its counts name the safety backup as soon as it exists",
      z.object({ dryRun: z.literal(false), run: JobRunSchema }),
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
  responses: { 200: json("Kept, deleted and why", PruneResult), 428: problems[428] },
});

export const drillRoute = keeperRoute({
  method: "post",
  path: "/admin/backups/drill",
  operationId: "backups.drill",
  scope: "admin",
  tags: ["backups"],
  summary: "Start the restore drill Workflow: the newest backup into SCRATCH_DB, digests compared with the manifest",
  responses: {
    202: json(
      "The drill job's run, still running; started: false means a drill was already running and this is it",
      z.object({ run: JobRunSchema, started: z.boolean() }),
    ),
    423: problems[423],
  },
});

export function registerBackupRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(createBackupRoute, async (c) => {
    const ctx = c.get("ctx");
    const started = await startJob({
      ctx,
      input: { kind: "backup", trigger: "manual", params: { requestedAt: ctx.now().getTime() } },
    });
    return c.json(started, 200);
  });
  app.openapi(listBackupsRoute, async (c) =>
    c.json({ items: await listBackupsWithChecks({ ctx: c.get("ctx"), input: c.req.valid("query") }) }, 200),
  );
  app.openapi(showBackupRoute, async (c) => c.json(await requireManifest(c.get("ctx"), c.req.valid("param").id), 200));
  app.openapi(downloadBackupRoute, async (c) => {
    const dump = await openDump({
      ctx: c.get("ctx"),
      input: { id: c.req.valid("param").id, dataOnly: c.req.valid("query").dataOnly === "true" },
    });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const pump = async () => {
      for await (const part of dump.parts) {
        if (part.bytes instanceof ReadableStream) await part.bytes.pipeTo(writable, { preventClose: true });
        else {
          const writer = writable.getWriter();
          await writer.write(part.bytes);
          writer.releaseLock();
        }
      }
      await writable.close();
    };
    c.executionCtx.waitUntil(pump().catch((error) => writable.abort(error)));
    const suffix = c.req.valid("query").dataOnly === "true" ? "-data" : "";
    return c.body(readable, 200, {
      "Content-Type": "application/zstd",
      "Content-Disposition": `attachment; filename="${dump.id}${suffix}.sql.zst"`,
    }) as never;
  });
  app.openapi(verifyBackupRoute, async (c) =>
    c.json(await verifyBackup({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200),
  );
  app.openapi(restoreBackupRoute, async (c) => {
    const result = await requestRestore({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), id: c.req.valid("param").id } });
    return result.dryRun ? c.json(result, 200) : c.json(result, 202);
  });
  app.openapi(pruneBackupsRoute, async (c) => c.json(await pruneBackups({ ctx: c.get("ctx"), input: c.req.valid("json") }), 200));
  app.openapi(drillRoute, async (c) => {
    const ctx = c.get("ctx");
    return c.json(
      await startJob({ ctx, input: { kind: "drill", trigger: "manual", params: { requestedAt: ctx.now().getTime() } } }),
      202,
    );
  });
}
