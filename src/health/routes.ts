import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { listBackupsWithChecks } from "../backups/backup-checks.service";
import { newestBackups } from "../backups/catalog.service";
import { dumpSizeByTable } from "../backups/manifest";
import { JobRunSchema } from "../maintenance/routes";
import { listRuns, runExclusive } from "../maintenance/runs";
import { getMigrationStatus } from "../migrations/status.service";
import type { KeeperEnv } from "../platform/context";
import { decimalInteger } from "../platform/query-params";
import { jsonContent as json, keeperRoute } from "../platform/route";
import { deliver, webhookUrls } from "./alerts";
import { bindingCheck, indexCheck, integrityCheck, recentSnapshots } from "./checks.service";
import { Dashboard } from "./dashboard";
import { runningAndLongJobs } from "./long-jobs";
import { renderMetrics } from "./metrics";
import { healthReport, queryStatistics, slowQueries, takeSnapshot } from "./report.service";
import {
  BindingCheck,
  DeliveryResult,
  GrowthReport,
  HealthReport,
  IndexReport,
  IntegrityCheck,
  QueryStatistic,
  SizeReport,
  SlowQuery,
} from "./schemas";

/** The backups the dashboard lists, newest first: it reads only their manifests from R2. */
const DASHBOARD_BACKUPS = 10;

const Window = z.object({
  hours: decimalInteger(1, 24 * 30).default(24),
  limit: decimalInteger(1, 500).default(50),
});

const get = <S extends z.ZodType>(path: string, operationId: `health.${string}`, summary: string, schema: S) =>
  keeperRoute({
    method: "get",
    path,
    operationId,
    scope: "read",
    tags: ["health"],
    summary,
    responses: { 200: json(summary, schema) },
  });

export const reportRoute = get(
  "/admin/health",
  "health.report",
  "Health report: score, status and every check's contribution",
  HealthReport,
);
export const sizeRoute = get(
  "/admin/health/size",
  "health.size",
  "Size now, rows per table (last snapshot), and the size limit",
  SizeReport,
);
export const growthRoute = get(
  "/admin/health/growth",
  "health.growth",
  "Growth per day over the last day and week, and days until the limit",
  GrowthReport,
);
export const integrityRoute = get(
  "/admin/health/integrity",
  "health.integrity",
  "PRAGMA quick_check, foreign_key_check and the schema's invariants (live)",
  IntegrityCheck,
);
export const indexesRoute = get(
  "/admin/health/indexes",
  "health.indexes",
  "Every index, and the plan of each hot API query",
  IndexReport,
);
export const bindingRoute = get(
  "/admin/health/binding",
  "health.binding",
  "Round trip of a trivial query and where D1 served it",
  BindingCheck,
);
export const queriesRoute = keeperRoute({
  method: "get",
  path: "/admin/health/queries",
  operationId: "health.queries",
  scope: "read",
  tags: ["health"],
  summary: "Query statistics per normalized statement: calls, mean, p50/p95 bounds, max, rows read per row returned",
  request: { query: Window },
  responses: { 200: json("Statistics", z.object({ items: z.array(QueryStatistic) })) },
});
export const slowQueriesRoute = keeperRoute({
  method: "get",
  path: "/admin/health/slow-queries",
  operationId: "health.slowQueries",
  scope: "read",
  tags: ["health"],
  summary: "The slow-query log: over SLOW_QUERY_MS, or reading far more rows than returned",
  request: { query: Window },
  responses: { 200: json("Slow queries", z.object({ items: z.array(SlowQuery) })) },
});

export const snapshotRoute = keeperRoute({
  method: "post",
  path: "/admin/health/snapshot",
  operationId: "health.snapshot",
  scope: "admin",
  tags: ["health"],
  summary: "Take the hourly snapshot now (exact counts, quick_check, foreign_key_check)",
  responses: { 200: json("The run", JobRunSchema) },
});

export const testWebhookRoute = keeperRoute({
  method: "post",
  path: "/admin/health/test-webhook",
  operationId: "health.testWebhook",
  scope: "admin",
  tags: ["health"],
  summary: "Send a signed test alert to every configured webhook",
  responses: { 200: json("Delivery per URL", z.object({ urls: z.number(), results: z.array(DeliveryResult) })) },
});

export const metricsRoute = keeperRoute({
  method: "get",
  path: "/metrics",
  operationId: "health.metrics",
  scope: "read",
  tags: ["health"],
  summary: "Prometheus metrics (text exposition format)",
  responses: { 200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } } },
});

export const dashboardRoute = keeperRoute({
  method: "get",
  path: "/admin/dashboard",
  operationId: "health.dashboard",
  scope: "read",
  tags: ["health"],
  summary: "The operator dashboard (HTML, no JavaScript)",
  request: {
    query: z.object({
      token: z.string().optional().openapi({
        description: "Development only (KEEPER_ENV=development): the bearer token, since a browser cannot send the header",
      }),
    }),
  },
  responses: { 200: { description: "Dashboard", content: { "text/html": { schema: z.string() } } } },
});

export function registerHealthRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(reportRoute, async (c) => c.json(await healthReport({ ctx: c.get("ctx") }), 200));
  app.openapi(sizeRoute, async (c) => {
    const report = await healthReport({ ctx: c.get("ctx") });
    return c.json({ ...report.size, growth: report.growth }, 200);
  });
  app.openapi(growthRoute, async (c) => {
    const ctx = c.get("ctx");
    const report = await healthReport({ ctx });
    const points = (await recentSnapshots(ctx, ctx.now().getTime() - 7 * 86_400_000)).map((s) => ({
      at: new Date(s.at).toISOString(),
      size_bytes: s.size_bytes,
    }));
    return c.json({ ...report.growth, current_bytes: report.size.bytes, points }, 200);
  });
  app.openapi(integrityRoute, async (c) => c.json(await integrityCheck(c.get("ctx")), 200));
  app.openapi(indexesRoute, async (c) => c.json(await indexCheck(c.get("ctx")), 200));
  app.openapi(bindingRoute, async (c) => c.json(await bindingCheck(c.get("ctx")), 200));
  app.openapi(queriesRoute, async (c) =>
    c.json({ items: await queryStatistics({ ctx: c.get("ctx"), input: c.req.valid("query") }) }, 200),
  );
  app.openapi(slowQueriesRoute, async (c) =>
    c.json({ items: await slowQueries({ ctx: c.get("ctx"), input: c.req.valid("query") }) }, 200),
  );
  app.openapi(snapshotRoute, async (c) => {
    const ctx = c.get("ctx");
    const run = await runExclusive({
      ctx,
      input: { job: "health.snapshot", trigger: "manual" },
      work: async () => {
        const report = await takeSnapshot(ctx);
        return { counts: { score: report.score, status: report.status, size_bytes: report.size.bytes } };
      },
    });
    return c.json(run, 200);
  });
  app.openapi(testWebhookRoute, async (c) => {
    const ctx = c.get("ctx");
    const results = await deliver(ctx, { kind: "test", text: "d1-keeper test alert: webhook delivery and signature work" });
    return c.json({ urls: webhookUrls(ctx.env as unknown as Record<string, unknown>).length, results }, 200);
  });
  app.openapi(metricsRoute, async (c) =>
    c.text(await renderMetrics({ ctx: c.get("ctx") }), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
  app.openapi(dashboardRoute, async (c) => {
    const ctx = c.get("ctx");
    const report = await healthReport({ ctx });
    const now = ctx.now().getTime();
    const points = await recentSnapshots(ctx, now - 7 * 86_400_000);
    const indexes = await indexCheck(ctx);
    const migrations = await getMigrationStatus({ ctx });
    const manifests = await newestBackups({ ctx, input: { limit: DASHBOARD_BACKUPS } });
    const newest = manifests[0];
    const dumpSizes = newest ? dumpSizeByTable(newest) : new Map<string, { sql_bytes: number }>();
    const page = Dashboard({
      data: {
        time: report.time,
        score: report.score,
        status: report.status,
        checks: report.checks,
        sizeBytes: report.size.bytes,
        limitBytes: report.growth.limit_bytes,
        daysUntilLimit: report.growth.days_until_limit,
        points: points.map((p) => ({ at: p.at, size_bytes: p.size_bytes, score: p.score })),
        tables: Object.entries(report.size.row_counts ?? {})
          .map(([name, rows]) => ({ name, rows, dumpBytes: dumpSizes.get(name)?.sql_bytes ?? null }))
          .sort((a, b) => b.rows - a.rows),
        topQueries: (await queryStatistics({ ctx, input: { hours: 24, limit: 10 } })).map((q) => ({
          ...q,
          total_ms: q.mean_ms * q.calls,
        })),
        slow: await slowQueries({ ctx, input: { hours: 24, limit: 20 } }),
        indexes: {
          total: indexes.indexes.length,
          unused: indexes.indexes.filter((index) => !index.used_by_hot_queries).map((index) => index.name),
          fullScans: indexes.hot_queries.filter((plan) => plan.full_scan),
        },
        migrations: {
          current: migrations.current?.name ?? null,
          applied: migrations.applied.length,
          pending: migrations.pending.map((entry) => entry.name),
          drift: migrations.drift.length,
        },
        runs: await listRuns({ ctx, input: { limit: 15 } }),
        longJobs: await runningAndLongJobs({ ctx, input: { limit: 10 } }),
        tableSizesFrom: newest ? { id: newest.id, created_at: newest.created_at } : null,
        backups: await listBackupsWithChecks({ ctx, input: { manifests } }),
      },
    });
    return c.html(`<!doctype html>${await page}`, 200);
  });
}
