import { DAY_MS, resolvePolicy } from "../archival/policy";
import { openDatabase } from "../db/client";
import { lastRun } from "../maintenance/runs";
import type { AppContext } from "../platform/context";
import { hotQueries } from "../videos/queries";

/**
 * The individual checks. Cheap ones run live; the ones that scan the whole database (quick_check,
 * foreign_key_check, exact row counts) run in the hourly snapshot job and the report reads the last
 * snapshot, so a report never scans a large table.
 */
export const DEFAULT_SIZE_LIMIT_BYTES = 10 * 1024 ** 3;
const appTables = ["videos", "video_context", "memory", "conversations", "messages"];

export async function bindingCheck(ctx: AppContext) {
  const started = performance.now();
  const result = await ctx.d1.prepare("SELECT 1 AS ok").run();
  return {
    round_trip_ms: Math.round((performance.now() - started) * 100) / 100,
    duration_ms: result.meta.duration ?? null,
    size_bytes: result.meta.size_after ?? null,
    served_by_region: result.meta.served_by_region ?? null,
    served_by_primary: (result.meta as { served_by_primary?: boolean }).served_by_primary ?? null,
    note: "D1 has no connection pool; this is the round trip of a trivial query and where it was served.",
  };
}

export async function integrityCheck(ctx: AppContext) {
  const { results: quick } = await ctx.d1.prepare("PRAGMA quick_check").all<Record<string, string>>();
  const messages = quick.map((row) => Object.values(row)[0]);
  const { results: fk } = await ctx.d1.prepare("PRAGMA foreign_key_check").all<{ table: string; parent: string }>();
  const violations: Record<string, number> = {};
  for (const row of fk) violations[row.table] = (violations[row.table] ?? 0) + 1;
  // Invariants no constraint can state: purges that are overdue (past the configured purge window,
  // per category where one has its own), and conversations whose last activity is before their creation.
  const policy = resolvePolicy(ctx.env as unknown as Record<string, unknown>);
  const now = ctx.now().getTime();
  const categoryCutoffs = Object.fromEntries(
    Object.entries(policy.categories).map(([category, window]) => [category, now - window.deleteDays * DAY_MS]),
  );
  const overdue = await ctx.d1
    .prepare(
      `SELECT count(*) AS n FROM videos
       WHERE deleted_at IS NOT NULL
         AND deleted_at < coalesce((SELECT value FROM json_each(?) WHERE key = videos.category), ?)`,
    )
    .bind(JSON.stringify(categoryCutoffs), now - policy.deleteDays * DAY_MS)
    .first<{ n: number }>();
  const backwards = await ctx.d1
    .prepare("SELECT count(*) AS n FROM conversations WHERE updated_at < created_at")
    .first<{ n: number }>();
  return {
    quick_check: messages,
    ok: messages.length === 1 && messages[0] === "ok",
    foreign_key_violations: violations,
    invariants: {
      videos_overdue_for_purge: overdue?.n ?? 0,
      conversations_active_before_created: backwards?.n ?? 0,
    },
    note: "D1 allows no PRAGMA integrity_check; quick_check and foreign_key_check are what it offers.",
  };
}

export async function foreignKeysOn(ctx: AppContext): Promise<boolean> {
  const row = await ctx.d1.prepare("PRAGMA foreign_keys").first<{ foreign_keys: number }>();
  return row?.foreign_keys === 1;
}

export async function exactRowCounts(ctx: AppContext): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of appTables) {
    counts[table] = (await ctx.d1.prepare(`SELECT count(*) AS n FROM "${table}"`).first<{ n: number }>())?.n ?? 0;
  }
  return counts;
}

/** Every index with its table and columns, and each hot API query's plan: table scans and unused indexes flagged. */
export async function indexCheck(ctx: AppContext) {
  const { results: indexes } = await ctx.d1
    .prepare(
      "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' AND tbl_name NOT LIKE '_cf_%' ORDER BY tbl_name, name",
    )
    .all<{ name: string; tbl_name: string }>();
  const listed = [];
  for (const index of indexes) {
    const { results: columns } = await ctx.d1.prepare(`PRAGMA index_info("${index.name}")`).all<{ name: string | null }>();
    listed.push({ name: index.name, table: index.tbl_name, columns: columns.map((c) => c.name ?? "(expression)") });
  }
  const plans = [];
  const used = new Set<string>();
  for (const { name, query } of hotQueries(openDatabase(ctx.d1))) {
    const { sql, params } = query.toSQL();
    const { results } = await ctx.d1
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...params)
      .all<{ detail: string }>();
    const steps = results.map((row) => row.detail);
    for (const step of steps) for (const match of step.matchAll(/USING (?:COVERING )?INDEX (\S+)/g)) used.add(match[1]);
    plans.push({
      name,
      plan: steps,
      full_scan: steps.some((step) => /^SCAN /.test(step) && !/USING/.test(step)),
      temp_sort: steps.some((step) => step.includes("TEMP B-TREE")),
    });
  }
  return {
    indexes: listed.map((index) => ({ ...index, used_by_hot_queries: used.has(index.name) })),
    hot_queries: plans,
    full_scans: plans.filter((plan) => plan.full_scan).length,
    note: "Indexes not used by a hot API query may still serve constraints (UNIQUE), foreign keys or maintenance jobs.",
  };
}

export async function slowQueryCount(ctx: AppContext, sinceMs: number): Promise<number> {
  const row = await ctx.d1
    .prepare("SELECT count(*) AS n FROM keeper_query_slow WHERE at >= ? AND reason = 'slow'")
    .bind(sinceMs)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

export async function failedRunCount(ctx: AppContext, sinceMs: number): Promise<number> {
  const row = await ctx.d1
    .prepare("SELECT count(*) AS n FROM keeper_job_runs WHERE status = 'failed' AND started_at >= ?")
    .bind(sinceMs)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

export async function lastGoodBackupAgeHours(ctx: AppContext): Promise<number | null> {
  const run = await lastRun({ ctx, input: { job: "backups.create", status: "succeeded" } });
  if (!run?.finished_at) return null;
  return (ctx.now().getTime() - Date.parse(run.finished_at)) / 3_600_000;
}

export interface Snapshot {
  at: number;
  size_bytes: number;
  row_counts: Record<string, number>;
  quick_check: string[];
  foreign_key_violations: Record<string, number>;
  score: number | null;
  status: string | null;
}

export async function recentSnapshots(ctx: AppContext, sinceMs: number): Promise<Snapshot[]> {
  const { results } = await ctx.d1
    .prepare(
      "SELECT at, size_bytes, row_counts, quick_check, foreign_key_violations, score, status FROM keeper_health_snapshots WHERE at >= ? ORDER BY at",
    )
    .bind(sinceMs)
    .all<{
      at: number;
      size_bytes: number;
      row_counts: string;
      quick_check: string;
      foreign_key_violations: string;
      score: number | null;
      status: string | null;
    }>();
  return results.map((row) => ({
    ...row,
    row_counts: JSON.parse(row.row_counts),
    quick_check: JSON.parse(row.quick_check),
    foreign_key_violations: JSON.parse(row.foreign_key_violations),
  }));
}

/**
 * Growth from snapshots: bytes per day over the last day and week (least squares over the points),
 * and at the weekly rate, days until the limit (10 GB, D1's maximum, or HEALTH_SIZE_LIMIT_BYTES).
 */
export function growth(snapshots: { at: number; size_bytes: number }[], now: number, currentBytes: number, limitBytes: number) {
  const slope = (windowMs: number) => {
    const points = snapshots.filter((s) => s.at >= now - windowMs);
    if (points.length < 2) return null;
    const n = points.length;
    const mx = points.reduce((sum, p) => sum + p.at, 0) / n;
    const my = points.reduce((sum, p) => sum + p.size_bytes, 0) / n;
    const sxx = points.reduce((sum, p) => sum + (p.at - mx) ** 2, 0);
    if (sxx === 0) return null;
    const sxy = points.reduce((sum, p) => sum + (p.at - mx) * (p.size_bytes - my), 0);
    return (sxy / sxx) * 86_400_000;
  };
  const perDayLastDay = slope(86_400_000);
  const perDayLastWeek = slope(7 * 86_400_000);
  const rate = perDayLastWeek ?? perDayLastDay;
  const daysUntilLimit = rate !== null && rate > 0 ? Math.max(0, (limitBytes - currentBytes) / rate) : null;
  return {
    bytes_per_day_last_day: perDayLastDay,
    bytes_per_day_last_week: perDayLastWeek,
    limit_bytes: limitBytes,
    days_until_limit: daysUntilLimit,
  };
}

export function sizeLimit(env: Record<string, unknown>): number {
  const configured = Number(env.HEALTH_SIZE_LIMIT_BYTES ?? "");
  return Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_SIZE_LIMIT_BYTES;
}
