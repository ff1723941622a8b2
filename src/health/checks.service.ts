import { DAY_MS, resolvePolicy } from "../archival/policy";
import { openDatabase } from "../db/client";
import type { AppContext } from "../platform/context";
import { hotQueries } from "../videos/queries";
import { findRuleViolations } from "../videos/stored-rules";
import type { BindingCheck, Growth, IndexReport, IntegrityCheck } from "./schemas";

/**
 * The individual checks. Cheap ones run live; the ones that scan the whole database (quick_check,
 * foreign_key_check, exact row counts) run in the hourly snapshot job and the report reads the last
 * snapshot, so a report never scans a large table.
 */
export const DEFAULT_SIZE_LIMIT_BYTES = 10 * 1024 ** 3;
const appTables = ["videos", "video_context", "memory", "conversations", "messages"];

export async function bindingCheck(ctx: AppContext): Promise<BindingCheck> {
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

export async function integrityCheck(ctx: AppContext): Promise<IntegrityCheck> {
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
  const rules = await invariantsCheck(ctx);
  return {
    quick_check: messages,
    ok: messages.length === 1 && messages[0] === "ok",
    foreign_key_violations: violations,
    invariants: {
      videos_overdue_for_purge: overdue?.n ?? 0,
      conversations_active_before_created: backwards?.n ?? 0,
      api_rule_violations: rules.rule_violations,
    },
    broken_rules: rules.broken_rules,
    note: "D1 allows no PRAGMA integrity_check; quick_check and foreign_key_check are what it offers.",
  };
}

/**
 * A read-only check as D1 statements plus how to read their results, so a report can send many
 * checks in one `db.batch()` (one round trip) rather than one round trip per statement.
 */
export interface BatchedRead<T> {
  statements: D1PreparedStatement[];
  read: (results: D1Result[]) => T;
}

type ReadResults<R extends Record<string, BatchedRead<unknown>>> = { [K in keyof R]: ReturnType<R[K]["read"]> };

/** Sends every read's statements in one batch (none when there are none) and hands each read its own results. */
export async function runBatched<R extends Record<string, BatchedRead<unknown>>>(
  d1: D1Database,
  reads: R,
): Promise<ReadResults<R>> {
  const entries = Object.entries(reads);
  const statements = entries.flatMap(([, read]) => read.statements);
  const results = statements.length > 0 ? await d1.batch(statements) : [];
  let offset = 0;
  const out: Record<string, unknown> = {};
  for (const [name, read] of entries) {
    out[name] = read.read(results.slice(offset, offset + read.statements.length));
    offset += read.statements.length;
  }
  return out as ReadResults<R>;
}

function countOf(result: D1Result): number {
  return (result.results[0] as { n?: number } | undefined)?.n ?? 0;
}

export function foreignKeysOnRead(ctx: AppContext): BatchedRead<boolean> {
  return {
    statements: [ctx.d1.prepare("PRAGMA foreign_keys")],
    read: ([result]) => (result.results[0] as { foreign_keys?: number } | undefined)?.foreign_keys === 1,
  };
}

/**
 * Stored rows that break the data API's rules: written around the API before D1's triggers
 * enforced them. One scan per rule, so it runs live only on request (`keeper health integrity`)
 * and in the hourly snapshot.
 */
export async function invariantsCheck(ctx: AppContext) {
  const broken = await findRuleViolations(ctx.d1);
  return { ok: broken.length === 0, rule_violations: broken.reduce((sum, rule) => sum + rule.count, 0), broken_rules: broken };
}

export async function exactRowCounts(ctx: AppContext): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of appTables) {
    counts[table] = (await ctx.d1.prepare(`SELECT count(*) AS n FROM "${table}"`).first<{ n: number }>())?.n ?? 0;
  }
  return counts;
}

/**
 * Every index with its table and columns, and each hot API query's plan: table scans and unused
 * indexes flagged. One read, batchable with other checks: the columns come from the
 * `pragma_index_info` table-valued function joined to the index list, not a PRAGMA per index.
 */
export function indexCheckRead(ctx: AppContext) {
  const queries = hotQueries(openDatabase(ctx.d1)).map(({ name, query }) => ({ name, ...query.toSQL() }));
  return {
    statements: [
      ctx.d1.prepare(
        `SELECT m.name, m.tbl_name, i.name AS column_name FROM sqlite_schema AS m JOIN pragma_index_info(m.name) AS i
         WHERE m.type = 'index' AND m.name NOT LIKE 'sqlite_%' AND m.tbl_name NOT LIKE '_cf_%' ORDER BY m.tbl_name, m.name, i.seqno`,
      ),
      ...queries.map(({ sql, params }) => ctx.d1.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params)),
    ],
    read: ([indexColumns, ...planResults]: D1Result[]): IndexReport => {
      const used = new Set<string>();
      const plans = queries.map(({ name }, i) => {
        const steps = (planResults[i].results as { detail: string }[]).map((row) => row.detail);
        for (const step of steps) for (const match of step.matchAll(/USING (?:COVERING )?INDEX (\S+)/g)) used.add(match[1]);
        return {
          name,
          plan: steps,
          full_scan: steps.some((step) => /^SCAN /.test(step) && !/USING/.test(step)),
          temp_sort: steps.some((step) => step.includes("TEMP B-TREE")),
        };
      });
      const indexes = new Map<string, { name: string; table: string; columns: string[] }>();
      for (const row of indexColumns.results as { name: string; tbl_name: string; column_name: string | null }[]) {
        const index = indexes.get(row.name) ?? { name: row.name, table: row.tbl_name, columns: [] };
        index.columns.push(row.column_name ?? "(expression)");
        indexes.set(row.name, index);
      }
      return {
        indexes: [...indexes.values()].map((index) => ({ ...index, used_by_hot_queries: used.has(index.name) })),
        hot_queries: plans,
        full_scans: plans.filter((plan) => plan.full_scan).length,
        note: "Indexes not used by a hot API query may still serve constraints (UNIQUE), foreign keys or maintenance jobs.",
      };
    },
  } satisfies BatchedRead<unknown>;
}

export async function indexCheck(ctx: AppContext): Promise<IndexReport> {
  return (await runBatched(ctx.d1, { indexes: indexCheckRead(ctx) })).indexes;
}

export function slowQueryCountRead(ctx: AppContext, sinceMs: number): BatchedRead<number> {
  return {
    statements: [ctx.d1.prepare("SELECT count(*) AS n FROM keeper_query_slow WHERE at >= ? AND reason = 'slow'").bind(sinceMs)],
    read: ([result]) => countOf(result),
  };
}

export function failedRunCountRead(ctx: AppContext, sinceMs: number): BatchedRead<number> {
  return {
    statements: [
      ctx.d1.prepare("SELECT count(*) AS n FROM keeper_job_runs WHERE status = 'failed' AND started_at >= ?").bind(sinceMs),
    ],
    read: ([result]) => countOf(result),
  };
}

/** Hours since the latest succeeded backup run (latest by start, as the run list orders them) finished. */
export function lastGoodBackupAgeHoursRead(ctx: AppContext): BatchedRead<number | null> {
  return {
    statements: [
      ctx.d1.prepare(
        "SELECT finished_at FROM keeper_job_runs WHERE job = 'backups.create' AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1",
      ),
    ],
    read: ([result]) => {
      const finishedAt = (result.results[0] as { finished_at: number | null } | undefined)?.finished_at;
      return finishedAt === undefined || finishedAt === null ? null : (ctx.now().getTime() - finishedAt) / 3_600_000;
    },
  };
}

export interface Snapshot {
  at: number;
  size_bytes: number;
  row_counts: Record<string, number>;
  quick_check: string[];
  foreign_key_violations: Record<string, number>;
  score: number | null;
  status: string | null;
  rule_violations: number | null;
}

type SnapshotRow = Omit<Snapshot, "row_counts" | "quick_check" | "foreign_key_violations" | "rule_violations"> & {
  rule_violations?: number | null;
  row_counts: string;
  quick_check: string;
  foreign_key_violations: string;
};

export function recentSnapshotsRead(ctx: AppContext, sinceMs: number): BatchedRead<Snapshot[]> {
  return {
    statements: [
      ctx.d1
        .prepare(
          // Every column, so a report still answers while a migration adding a column is pending.
          "SELECT * FROM keeper_health_snapshots WHERE at >= ? ORDER BY at",
        )
        .bind(sinceMs),
    ],
    read: ([result]) =>
      (result.results as SnapshotRow[]).map((row) => ({
        ...row,
        rule_violations: row.rule_violations ?? null,
        row_counts: JSON.parse(row.row_counts),
        quick_check: JSON.parse(row.quick_check),
        foreign_key_violations: JSON.parse(row.foreign_key_violations),
      })),
  };
}

export async function recentSnapshots(ctx: AppContext, sinceMs: number): Promise<Snapshot[]> {
  return (await runBatched(ctx.d1, { snapshots: recentSnapshotsRead(ctx, sinceMs) })).snapshots;
}

/**
 * Growth from snapshots: bytes per day over the last day and week (least squares over the points),
 * and at the weekly rate, days until the limit (10 GB, D1's maximum, or HEALTH_SIZE_LIMIT_BYTES).
 */
export function growth(
  snapshots: { at: number; size_bytes: number }[],
  now: number,
  currentBytes: number,
  limitBytes: number,
): Growth {
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
