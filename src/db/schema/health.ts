import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Query statistics per normalized statement and hour, written by the query monitor once per
 * request (after the response). Latency buckets are per-bucket counts (not cumulative). Rows older
 * than 30 days are deleted, so sums over this table can go down: /metrics reads keeper_query_totals.
 */
export const queryStats = sqliteTable(
  "keeper_query_stats",
  {
    statement: text("statement").notNull(),
    hour: integer("hour").notNull(),
    calls: integer("calls").notNull(),
    totalMs: real("total_ms").notNull(),
    maxMs: real("max_ms").notNull(),
    rowsRead: integer("rows_read").notNull(),
    rowsWritten: integer("rows_written").notNull(),
    rowsReturned: integer("rows_returned").notNull(),
    slowCalls: integer("slow_calls").notNull(),
    le5: integer("le_5").notNull().default(0),
    le25: integer("le_25").notNull().default(0),
    le100: integer("le_100").notNull().default(0),
    le250: integer("le_250").notNull().default(0),
    le1000: integer("le_1000").notNull().default(0),
    leInf: integer("le_inf").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.statement, t.hour] }), index("idx_keeper_query_stats_hour").on(t.hour)],
);

/**
 * Every query the monitor has recorded since the table was created, in one row that only grows (the
 * same batch that writes keeper_query_stats adds to it, and nothing prunes it): the counters and the
 * cumulative latency histogram of /metrics, which Prometheus' rate() requires never to go down.
 */
export const queryTotals = sqliteTable(
  "keeper_query_totals",
  {
    id: integer("id").primaryKey(),
    calls: integer("calls").notNull(),
    totalMs: real("total_ms").notNull(),
    slowCalls: integer("slow_calls").notNull(),
    rowsRead: integer("rows_read").notNull(),
    rowsWritten: integer("rows_written").notNull(),
    le5: integer("le_5").notNull(),
    le25: integer("le_25").notNull(),
    le100: integer("le_100").notNull(),
    le250: integer("le_250").notNull(),
    le1000: integer("le_1000").notNull(),
    leInf: integer("le_inf").notNull(),
  },
  () => [check("keeper_query_totals_one_row", sql`"id" = 1`)],
);

/** The slow-query log: over the threshold, or reading far more rows than it returned. */
export const querySlowLog = sqliteTable(
  "keeper_query_slow",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    statement: text("statement").notNull(),
    durationMs: real("duration_ms").notNull(),
    rowsRead: integer("rows_read").notNull(),
    rowsReturned: integer("rows_returned").notNull(),
    reason: text("reason", { enum: ["slow", "wide"] }).notNull(),
  },
  (t) => [check("keeper_query_slow_reason", sql`"reason" IN ('slow', 'wide')`), index("idx_keeper_query_slow_at").on(t.at)],
);

/** Hourly snapshot: size, row counts, and the results of the checks too costly to run per report. */
export const healthSnapshots = sqliteTable(
  "keeper_health_snapshots",
  {
    at: integer("at").primaryKey(),
    sizeBytes: integer("size_bytes").notNull(),
    rowCounts: text("row_counts").notNull(),
    quickCheck: text("quick_check").notNull(),
    foreignKeyViolations: text("foreign_key_violations").notNull(),
    score: integer("score"),
    status: text("status"),
    /** Stored rows breaking the data API's rules then (src/videos/stored-rules.ts); null before it was counted. */
    ruleViolations: integer("rule_violations"),
  },
  () => [check("keeper_health_snapshots_counts_json", sql`json_valid("row_counts") AND json_valid("foreign_key_violations")`)],
);

/** What has already been alerted: the last status and the last failed job run, so alerts fire once. */
export const alertState = sqliteTable("keeper_alert_state", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  at: integer("at").notNull(),
});
