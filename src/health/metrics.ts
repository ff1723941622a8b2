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

  const since = Math.floor((ctx.now().getTime() - 86_400_000) / 3_600_000) * 3_600_000;
  const totals = await ctx.d1
    .prepare(
      "SELECT coalesce(sum(calls),0) AS calls, coalesce(sum(total_ms),0) AS total_ms, coalesce(sum(slow_calls),0) AS slow, coalesce(sum(le_5),0) AS b0, coalesce(sum(le_25),0) AS b1, coalesce(sum(le_100),0) AS b2, coalesce(sum(le_250),0) AS b3, coalesce(sum(le_1000),0) AS b4, coalesce(sum(le_inf),0) AS b5 FROM keeper_query_stats WHERE hour >= ?",
    )
    .bind(since)
    .first<Record<string, number>>();
  const t = totals ?? {};
  out.family("keeper_query_duration_ms", "histogram", "D1 query duration over the last 24 hours, in milliseconds.");
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((bound, i) => {
    cumulative += t[`b${i}`] ?? 0;
    out.sample("keeper_query_duration_ms_bucket", cumulative, { le: String(bound) });
  });
  cumulative += t.b5 ?? 0;
  out.sample("keeper_query_duration_ms_bucket", cumulative, { le: "+Inf" });
  out.sample("keeper_query_duration_ms_sum", t.total_ms ?? 0);
  out.sample("keeper_query_duration_ms_count", t.calls ?? 0);
  out.family("keeper_slow_queries", "gauge", "Queries over the slow threshold in the last 24 hours.");
  out.sample("keeper_slow_queries", t.slow ?? 0);

  const backup = await lastRun({ ctx, input: { job: "backups.create", status: "succeeded" } });
  out.family("keeper_last_backup_age_seconds", "gauge", "Seconds since the last successful backup (absent: none yet).");
  if (backup?.finished_at)
    out.sample("keeper_last_backup_age_seconds", (ctx.now().getTime() - Date.parse(backup.finished_at)) / 1000);
  const lastAny = await lastRun({ ctx, input: { job: "backups.create" } });
  out.family("keeper_last_backup_success", "gauge", "1 when the most recent backup run succeeded.");
  out.sample("keeper_last_backup_success", lastAny?.status === "succeeded" ? 1 : 0);

  const { results: runs } = await ctx.d1
    .prepare(
      "SELECT job, status, count(*) AS n FROM keeper_job_runs WHERE started_at >= ? GROUP BY job, status ORDER BY job, status",
    )
    .bind(ctx.now().getTime() - 86_400_000)
    .all<{ job: string; status: string; n: number }>();
  out.family("keeper_job_runs", "gauge", "Maintenance job runs in the last 24 hours by outcome.");
  for (const run of runs) out.sample("keeper_job_runs", run.n, { job: run.job, status: run.status });
  return out.toString();
}
