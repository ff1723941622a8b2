import { lastRun } from "../maintenance/runs";
import type { AppContext } from "../platform/context";
import { LATENCY_BUCKETS } from "./monitor";
import { healthReport } from "./report.service";

/** Prometheus text exposition format (version 0.0.4): HELP and TYPE for every family, escaped labels. */
const label = (value: string) => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');

class Exposition {
  private readonly lines: string[] = [];
  family(name: string, type: "gauge" | "counter" | "histogram", help: string) {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, value: number, labels: Record<string, string> = {}) {
    const rendered = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`);
    this.lines.push(
      `${name}${rendered.length ? `{${rendered.join(",")}}` : ""} ${Number.isFinite(value) ? value : value > 0 ? "+Inf" : "NaN"}`,
    );
  }
  toString() {
    return `${this.lines.join("\n")}\n`;
  }
}

interface QueryTotalsRow {
  calls: number;
  total_ms: number;
  slow_calls: number;
  rows_read: number;
  rows_written: number;
  le_5: number;
  le_25: number;
  le_100: number;
  le_250: number;
  le_1000: number;
  le_inf: number;
}
const emptyTotals: QueryTotalsRow = {
  calls: 0,
  total_ms: 0,
  slow_calls: 0,
  rows_read: 0,
  rows_written: 0,
  le_5: 0,
  le_25: 0,
  le_100: 0,
  le_250: 0,
  le_1000: 0,
  le_inf: 0,
};

export async function renderMetrics({ ctx }: { ctx: AppContext }): Promise<string> {
  const report = await healthReport({ ctx });
  const out = new Exposition();
  out.family("keeper_health_score", "gauge", "Health score, 0-100 (healthy >= 80, warning >= 60).");
  out.sample("keeper_health_score", report.score);
  out.family("keeper_health_check_penalty", "gauge", "Points each health check currently takes off the score.");
  for (const check of report.checks) out.sample("keeper_health_check_penalty", check.penalty, { check: check.name });
  out.family("keeper_database_size_bytes", "gauge", "D1 database size (meta.size_after).");
  out.sample("keeper_database_size_bytes", report.size.bytes);
  out.family("keeper_table_rows", "gauge", "Rows per table at the last hourly snapshot.");
  for (const [table, rows] of Object.entries(report.size.row_counts ?? {})) out.sample("keeper_table_rows", rows, { table });

  // All-time totals (never pruned): counters and a cumulative histogram, as rate() and
  // histogram_quantile() expect. A missing row means the monitor has recorded nothing yet.
  const totals =
    (await ctx.d1
      .prepare(
        "SELECT calls, total_ms, slow_calls, rows_read, rows_written, le_5, le_25, le_100, le_250, le_1000, le_inf FROM keeper_query_totals WHERE id = 1",
      )
      .first<QueryTotalsRow>()) ?? emptyTotals;
  const sampled = "(sampled: QUERY_MONITOR_SAMPLE_RATE of requests)";
  out.family("keeper_query_duration_seconds", "histogram", `Time the Worker waited for each D1 query ${sampled}.`);
  const perBucket = [totals.le_5, totals.le_25, totals.le_100, totals.le_250, totals.le_1000];
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((boundMs, i) => {
    cumulative += perBucket[i];
    out.sample("keeper_query_duration_seconds_bucket", cumulative, { le: String(boundMs / 1000) });
  });
  out.sample("keeper_query_duration_seconds_bucket", cumulative + totals.le_inf, { le: "+Inf" });
  out.sample("keeper_query_duration_seconds_sum", totals.total_ms / 1000);
  out.sample("keeper_query_duration_seconds_count", totals.calls);
  out.family("keeper_queries_slow_total", "counter", `D1 queries slower than SLOW_QUERY_MS ${sampled}.`);
  out.sample("keeper_queries_slow_total", totals.slow_calls);
  out.family("keeper_query_rows_read_total", "counter", `Rows D1 read for the Worker's queries ${sampled}.`);
  out.sample("keeper_query_rows_read_total", totals.rows_read);
  out.family("keeper_query_rows_written_total", "counter", `Rows D1 wrote for the Worker's queries ${sampled}.`);
  out.sample("keeper_query_rows_written_total", totals.rows_written);

  const backup = await lastRun({ ctx, input: { job: "backups.create", status: "succeeded" } });
  out.family("keeper_last_backup_age_seconds", "gauge", "Seconds since the last successful backup (absent: none yet).");
  if (backup?.finished_at)
    out.sample("keeper_last_backup_age_seconds", (ctx.now().getTime() - Date.parse(backup.finished_at)) / 1000);
  const lastAny = await lastRun({ ctx, input: { job: "backups.create" } });
  out.family("keeper_last_backup_success", "gauge", "1 when the most recent backup run succeeded.");
  out.sample("keeper_last_backup_success", lastAny?.status === "succeeded" ? 1 : 0);

  // Finished runs only ever accumulate (nothing deletes keeper_job_runs), so they are counters; a
  // running one changes status when it ends, so it is a gauge of its own.
  const { results: runs } = await ctx.d1
    .prepare("SELECT job, status, count(*) AS n FROM keeper_job_runs GROUP BY job, status ORDER BY job, status")
    .all<{ job: string; status: string; n: number }>();
  out.family("keeper_job_runs_total", "counter", "Finished maintenance job runs by outcome.");
  for (const run of runs.filter((r) => r.status !== "running"))
    out.sample("keeper_job_runs_total", run.n, { job: run.job, status: run.status });
  out.family("keeper_job_runs_running", "gauge", "Maintenance job runs in progress.");
  for (const run of runs.filter((r) => r.status === "running")) out.sample("keeper_job_runs_running", run.n, { job: run.job });
  return out.toString();
}
