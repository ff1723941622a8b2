import { checkSchemaReadiness } from "../migrations/readiness.service";
import type { AppContext } from "../platform/context";
import {
  bindingCheck,
  exactRowCounts,
  failedRunCountRead,
  foreignKeysOnRead,
  growth,
  indexCheckRead,
  integrityCheck,
  lastGoodBackupAgeHoursRead,
  recentSnapshotsRead,
  runBatched,
  type Snapshot,
  sizeLimit,
  slowQueryCountRead,
} from "./checks.service";
import type { HealthReport, QueryStatistic, SlowQuery } from "./schemas";
import { scoreHealth } from "./score";

const DAY = 86_400_000;

/**
 * The full report: live cheap checks, the last snapshot for the costly ones, and the score with
 * every check's contribution. Never scans a large table (the snapshot job does that hourly).
 */
export async function healthReport({ ctx }: { ctx: AppContext }): Promise<HealthReport> {
  const now = ctx.now().getTime();
  // Three D1 round trips: the binding's own (timed alone, so it measures a trivial query), then one
  // batch of every other read-only check and, in parallel, the migration ledger.
  const binding = await bindingCheck(ctx);
  const readsAndSchema = Promise.all([
    runBatched(ctx.d1, {
      snapshots: recentSnapshotsRead(ctx, now - 7 * DAY),
      indexes: indexCheckRead(ctx),
      foreignKeysOn: foreignKeysOnRead(ctx),
      slowQueries24h: slowQueryCountRead(ctx, now - DAY),
      lastGoodBackupAgeHours: lastGoodBackupAgeHoursRead(ctx),
      failedRuns24h: failedRunCountRead(ctx, now - DAY),
    }),
    // Beside the batch, not in it: on a database nobody migrated its query fails, which would fail the whole batch.
    checkSchemaReadiness({ ctx }),
  ]);
  const [reads, schema] = await readsAndSchema;
  const latest: Snapshot | null = reads.snapshots.at(-1) ?? null;
  const size = binding.size_bytes ?? latest?.size_bytes ?? 0;
  const growthFigures = growth(reads.snapshots, now, size, sizeLimit(ctx.env as unknown as Record<string, unknown>));
  const facts = {
    integrityOk: latest ? latest.quick_check.length === 1 && latest.quick_check[0] === "ok" : true,
    foreignKeysOn: reads.foreignKeysOn,
    orphanedMemory: latest?.foreign_key_violations.memory ?? 0,
    orphanedContext: latest?.foreign_key_violations.video_context ?? 0,
    slowQueries24h: reads.slowQueries24h,
    lastGoodBackupAgeHours: reads.lastGoodBackupAgeHours,
    failedRuns24h: reads.failedRuns24h,
    daysUntilLimit: growthFigures.days_until_limit,
    hotQueryFullScans: reads.indexes.full_scans,
    apiRuleViolations: latest?.rule_violations ?? 0,
    pendingMigrations: schema.pending.length,
    unknownAppliedMigrations: schema.unknown_applied.length,
  };
  const scored = scoreHealth(facts);
  return {
    time: new Date(now).toISOString(),
    score: scored.score,
    status: scored.status,
    checks: scored.checks,
    facts,
    schema: {
      ...schema,
      summary: schema.ready
        ? "schema matches the Worker's migrations"
        : `${schema.pending.length} migration(s) pending, ${schema.unknown_applied.length} unknown to this Worker: data routes answer 503`,
    },
    size: {
      bytes: size,
      limit_bytes: growthFigures.limit_bytes,
      row_counts: latest?.row_counts ?? null,
      counted_at: latest ? new Date(latest.at).toISOString() : null,
    },
    growth: growthFigures,
    binding,
    snapshot: latest
      ? {
          at: new Date(latest.at).toISOString(),
          quick_check: latest.quick_check,
          foreign_key_violations: latest.foreign_key_violations,
        }
      : null,
  };
}

/** The hourly snapshot: exact counts, size, quick_check and foreign_key_check, and the score then. */
export async function takeSnapshot(ctx: AppContext) {
  const at = ctx.now().getTime();
  const integrity = await integrityCheck(ctx);
  const counts = await exactRowCounts(ctx);
  const size = (await bindingCheck(ctx)).size_bytes ?? 0;
  await ctx.d1
    .prepare(
      "INSERT OR REPLACE INTO keeper_health_snapshots (at, size_bytes, row_counts, quick_check, foreign_key_violations, rule_violations) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(
      at,
      size,
      JSON.stringify(counts),
      JSON.stringify(integrity.quick_check),
      JSON.stringify(integrity.foreign_key_violations),
      integrity.invariants.api_rule_violations,
    )
    .run();
  const report = await healthReport({ ctx });
  await ctx.d1
    .prepare("UPDATE keeper_health_snapshots SET score = ?, status = ? WHERE at = ?")
    .bind(report.score, report.status, at)
    .run();
  // Monitoring history is kept bounded: statistics 30 days, the slow log 7, snapshots 90.
  await ctx.d1.batch([
    ctx.d1.prepare("DELETE FROM keeper_query_stats WHERE hour < ?").bind(at - 30 * DAY),
    ctx.d1.prepare("DELETE FROM keeper_query_slow WHERE at < ?").bind(at - 7 * DAY),
    ctx.d1.prepare("DELETE FROM keeper_health_snapshots WHERE at < ?").bind(at - 90 * DAY),
  ]);
  ctx.logger.info("health snapshot", { score: report.score, status: report.status, size_bytes: size, rows: counts });
  return report;
}

export async function queryStatistics({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { hours: number; limit: number };
}): Promise<QueryStatistic[]> {
  const since = ctx.now().getTime() - input.hours * 3_600_000;
  const { results } = await ctx.d1
    .prepare(
      `SELECT statement, sum(calls) AS calls, sum(total_ms) AS total_ms, max(max_ms) AS max_ms, sum(rows_read) AS rows_read,
              sum(rows_written) AS rows_written, sum(rows_returned) AS rows_returned, sum(slow_calls) AS slow_calls,
              sum(le_5) AS le_5, sum(le_25) AS le_25, sum(le_100) AS le_100, sum(le_250) AS le_250, sum(le_1000) AS le_1000, sum(le_inf) AS le_inf
       FROM keeper_query_stats WHERE hour >= ? GROUP BY statement ORDER BY sum(total_ms) DESC LIMIT ?`,
    )
    .bind(Math.floor(since / 3_600_000) * 3_600_000, input.limit)
    .all<Record<string, number> & { statement: string }>();
  return results.map((row) => {
    const buckets = [row.le_5, row.le_25, row.le_100, row.le_250, row.le_1000, row.le_inf];
    const bound = [5, 25, 100, 250, 1000, Number.POSITIVE_INFINITY];
    const quantile = (q: number) => {
      const target = q * row.calls;
      let seen = 0;
      for (let i = 0; i < buckets.length; i++) {
        seen += buckets[i];
        if (seen >= target) return bound[i] === Number.POSITIVE_INFINITY ? row.max_ms : bound[i];
      }
      return row.max_ms;
    };
    return {
      statement: row.statement,
      calls: row.calls,
      mean_ms: row.calls ? row.total_ms / row.calls : 0,
      p50_ms_at_most: quantile(0.5),
      p95_ms_at_most: quantile(0.95),
      max_ms: row.max_ms,
      rows_read: row.rows_read,
      rows_written: row.rows_written,
      rows_returned: row.rows_returned,
      rows_read_per_row_returned: row.rows_returned ? row.rows_read / row.rows_returned : row.rows_read,
      slow_calls: row.slow_calls,
      buckets: {
        le_5: row.le_5,
        le_25: row.le_25,
        le_100: row.le_100,
        le_250: row.le_250,
        le_1000: row.le_1000,
        le_inf: row.le_inf,
      },
    };
  });
}

export async function slowQueries({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { hours: number; limit: number };
}): Promise<SlowQuery[]> {
  const since = ctx.now().getTime() - input.hours * 3_600_000;
  const { results } = await ctx.d1
    .prepare(
      "SELECT at, statement, duration_ms, rows_read, rows_returned, reason FROM keeper_query_slow WHERE at >= ? ORDER BY at DESC LIMIT ?",
    )
    .bind(since, input.limit)
    .all<{ at: number; statement: string; duration_ms: number; rows_read: number; rows_returned: number; reason: string }>();
  return results.map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
}
