import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { ApiClient } from "../client.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, table } from "../output.ts";

/**
 * `keeper health …`: the seed's health_check.py (report, size, growth, integrity) plus indexes,
 * query statistics, the slow-query log, the binding check and a test alert.
 */

const hours = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 720)
    throw new InvalidArgumentError("must be a whole number of hours from 1 to 720");
  return parsed;
};
const mb = (bytes: number | null) => (bytes === null ? "unknown" : `${(bytes / 1024 / 1024).toFixed(2)} MB`);

export function registerHealth(program: Command, context: CommandContext) {
  const health = program
    .command("health")
    .description("Health of the database: score, size, growth, integrity, indexes, queries");
  const call = <D>(pending: (api: ApiClient["api"]) => Promise<{ data?: D; error?: unknown; response: Response }>) => {
    const client = context.client();
    return client.call(pending(client.api));
  };

  health
    .command("report")
    .description("The health report: score, status and every check's contribution")
    .action(async () => {
      const report = await call((api) => api.GET("/admin/health"));
      emit(context.output(), report, () =>
        [
          `score ${report.score} — ${report.status}   (${report.time})`,
          table(
            ["check", "result", "penalty", "detail"],
            report.checks.map((c) => [c.name, c.ok ? "ok" : "FAILING", c.penalty ? `-${c.penalty}` : "0", c.detail]),
          ),
          keyValues([
            ["size", `${mb(report.size.bytes)} of ${mb(report.size.limit_bytes)}`],
            [
              "growth",
              report.growth.days_until_limit === null
                ? "not growing"
                : `limit in ${report.growth.days_until_limit.toFixed(1)} days`,
            ],
            ["round trip", `${report.binding.round_trip_ms} ms`],
            ["schema", report.schema.summary],
          ]),
        ].join("\n"),
      );
      if (report.status === "critical") process.exitCode = 1;
    });

  health
    .command("size")
    .description("Size now and rows per table (last hourly snapshot)")
    .action(async () => {
      const size = await call((api) => api.GET("/admin/health/size"));
      emit(context.output(), size, () =>
        [
          keyValues([
            ["size", mb(size.bytes)],
            ["limit", mb(size.limit_bytes)],
            ["rows counted at", size.counted_at ?? "no snapshot yet (keeper health snapshot)"],
          ]),
          table(["table", "rows"], Object.entries(size.row_counts ?? {})),
        ].join("\n"),
      );
    });

  health
    .command("growth")
    .description("Growth per day and the projection to the size limit")
    .action(async () => {
      const growth = await call((api) => api.GET("/admin/health/growth"));
      const perDay = (v: number | null) => (v === null ? "not enough snapshots" : `${(v / 1024 / 1024).toFixed(3)} MB/day`);
      emit(context.output(), growth, () =>
        keyValues([
          ["last day", perDay(growth.bytes_per_day_last_day)],
          ["last week", perDay(growth.bytes_per_day_last_week)],
          ["limit", mb(growth.limit_bytes)],
          ["days until limit", growth.days_until_limit === null ? "never at this rate" : growth.days_until_limit.toFixed(1)],
          ["snapshots", growth.points.length],
        ]),
      );
    });

  health
    .command("integrity")
    .description("PRAGMA quick_check, foreign_key_check and the schema's invariants")
    .action(async () => {
      const result = await call((api) => api.GET("/admin/health/integrity"));
      emit(context.output(), result, () =>
        keyValues([
          ["quick_check", result.quick_check.join("; ")],
          [
            "foreign keys",
            Object.keys(result.foreign_key_violations).length ? JSON.stringify(result.foreign_key_violations) : "no violations",
          ],
          ...Object.entries(result.invariants).map(([name, n]): [string, unknown] => [name, n]),
        ]),
      );
      if (!result.ok) process.exitCode = 1;
    });

  health
    .command("indexes")
    .description("Every index, and each hot API query's plan")
    .action(async () => {
      const result = await call((api) => api.GET("/admin/health/indexes"));
      emit(context.output(), result, () =>
        [
          table(
            ["index", "table", "columns", "hot queries use it"],
            result.indexes.map((i) => [i.name, i.table, i.columns.join(", "), i.used_by_hot_queries ? "yes" : "no"]),
          ),
          table(
            ["hot query", "plan", "full scan"],
            result.hot_queries.map((q) => [q.name, q.plan.join(" | "), q.full_scan ? "YES" : "no"]),
          ),
        ].join("\n"),
      );
    });

  health
    .command("queries")
    .description("Query statistics per normalized statement")
    .option("--hours <n>", "how far back", hours, 24)
    .action(async (options: { hours: number }) => {
      const query = { hours: options.hours, limit: 50 };
      const result = await call((api) => api.GET("/admin/health/queries", { params: { query } }));
      emit(context.output(), result, () =>
        table(
          ["calls", "mean ms", "p95 ≤ ms", "max ms", "read/returned", "statement"],
          result.items.map((q) => [
            q.calls,
            q.mean_ms.toFixed(2),
            q.p95_ms_at_most,
            q.max_ms.toFixed(1),
            q.rows_read_per_row_returned.toFixed(1),
            q.statement.slice(0, 80),
          ]),
        ),
      );
    });

  health
    .command("slow-queries")
    .description("The slow-query log")
    .option("--hours <n>", "how far back", hours, 24)
    .action(async (options: { hours: number }) => {
      const query = { hours: options.hours, limit: 50 };
      const result = await call((api) => api.GET("/admin/health/slow-queries", { params: { query } }));
      emit(context.output(), result, () =>
        table(
          ["at", "ms", "why", "statement"],
          result.items.map((q) => [q.at, q.duration_ms.toFixed(1), q.reason, q.statement.slice(0, 90)]),
        ),
      );
    });

  health
    .command("binding")
    .description("Round trip of a trivial query and where D1 served it (the seed's connection-pool check)")
    .action(async () => {
      const result = await call((api) => api.GET("/admin/health/binding"));
      emit(context.output(), result, () => keyValues(Object.entries(result)));
    });

  health
    .command("snapshot")
    .description("Take the hourly snapshot now")
    .action(async () => {
      const run = await call((api) => api.POST("/admin/health/snapshot"));
      emit(context.output(), run, () => `${run.status}: ${JSON.stringify(run.counts)}`);
    });

  health
    .command("test-webhook")
    .description("Send a signed test alert to every configured webhook")
    .action(async () => {
      const result = await call((api) => api.POST("/admin/health/test-webhook"));
      emit(context.output(), result, () =>
        result.urls === 0
          ? "no webhook configured (ALERT_WEBHOOK_URLS)"
          : table(
              ["url", "ok", "status", "attempts"],
              result.results.map((r) => [r.url, r.ok, r.status, r.attempts]),
            ),
      );
      if (result.results.some((r) => !r.ok)) process.exitCode = 1;
    });
}
