import { z } from "@hono/zod-openapi";

/**
 * The shapes the health routes answer with. The services declare their results as these types, so
 * a field added to a service and not here (or the other way round) fails `npm run typecheck`.
 */

const nullableNumber = z.number().nullable();

export const HealthCheck = z
  .object({ name: z.string(), ok: z.boolean(), penalty: z.number(), detail: z.string(), source: z.enum(["seed", "keeper"]) })
  .openapi("HealthCheck");

export const BindingCheck = z
  .object({
    round_trip_ms: z.number(),
    duration_ms: nullableNumber,
    size_bytes: nullableNumber,
    served_by_region: z.string().nullable(),
    served_by_primary: z.boolean().nullable(),
    note: z.string(),
  })
  .openapi("BindingCheck");
export type BindingCheck = z.output<typeof BindingCheck>;

const PerTable = z.record(z.string(), z.number()).openapi({ description: "Per table name" });

export const IntegrityCheck = z
  .object({
    quick_check: z.array(z.string()),
    ok: z.boolean(),
    foreign_key_violations: PerTable,
    invariants: z.object({
      videos_overdue_for_purge: z.number(),
      conversations_active_before_created: z.number(),
      api_rule_violations: z.number(),
    }),
    broken_rules: z.array(
      z.object({
        rule: z.string(),
        table: z.enum(["videos", "video_context", "memory", "conversations", "messages"]),
        column: z.string(),
        count: z.number(),
        examples: z.array(z.union([z.string(), z.number()])).openapi({ description: "Ids of a few offending rows" }),
      }),
    ),
    note: z.string(),
  })
  .openapi("IntegrityCheck");
export type IntegrityCheck = z.output<typeof IntegrityCheck>;

export const IndexReport = z
  .object({
    indexes: z.array(
      z.object({ name: z.string(), table: z.string(), columns: z.array(z.string()), used_by_hot_queries: z.boolean() }),
    ),
    hot_queries: z.array(
      z.object({ name: z.string(), plan: z.array(z.string()), full_scan: z.boolean(), temp_sort: z.boolean() }),
    ),
    full_scans: z.number(),
    note: z.string(),
  })
  .openapi("IndexReport");
export type IndexReport = z.output<typeof IndexReport>;

export const Growth = z
  .object({
    bytes_per_day_last_day: nullableNumber,
    bytes_per_day_last_week: nullableNumber,
    limit_bytes: z.number(),
    days_until_limit: nullableNumber,
  })
  .openapi("Growth");
export type Growth = z.output<typeof Growth>;

export const Size = z
  .object({
    bytes: z.number(),
    limit_bytes: z.number(),
    row_counts: PerTable.nullable().openapi({ description: "Exact rows per table at the last snapshot" }),
    counted_at: z.string().nullable(),
  })
  .openapi("Size");

export const HealthReport = z
  .object({
    time: z.string(),
    score: z.number(),
    status: z.enum(["healthy", "warning", "critical"]),
    checks: z.array(HealthCheck),
    facts: z.object({
      integrityOk: z.boolean(),
      foreignKeysOn: z.boolean(),
      orphanedMemory: z.number(),
      orphanedContext: z.number(),
      slowQueries24h: z.number(),
      lastGoodBackupAgeHours: nullableNumber,
      failedRuns24h: z.number(),
      daysUntilLimit: nullableNumber,
      hotQueryFullScans: z.number(),
      apiRuleViolations: z.number(),
      pendingMigrations: z.number(),
      unknownAppliedMigrations: z.number(),
    }),
    schema: z.object({
      ready: z.boolean(),
      pending: z.array(z.string()),
      unknown_applied: z.array(z.string()),
      summary: z.string(),
    }),
    size: Size,
    growth: Growth,
    binding: BindingCheck,
    snapshot: z.object({ at: z.string(), quick_check: z.array(z.string()), foreign_key_violations: PerTable }).nullable(),
  })
  .openapi("HealthReport");
export type HealthReport = z.output<typeof HealthReport>;

export const SizeReport = Size.extend({ growth: Growth }).openapi("SizeReport");

export const GrowthReport = Growth.extend({
  current_bytes: z.number(),
  points: z.array(z.object({ at: z.string(), size_bytes: z.number() })),
}).openapi("GrowthReport");

export const QueryStatistic = z
  .object({
    statement: z.string().openapi({ description: "Normalized SQL (literals replaced by ?)" }),
    calls: z.number(),
    mean_ms: z.number(),
    p50_ms_at_most: z.number(),
    p95_ms_at_most: z.number(),
    max_ms: z.number(),
    rows_read: z.number(),
    rows_written: z.number(),
    rows_returned: z.number(),
    rows_read_per_row_returned: z.number(),
    slow_calls: z.number(),
    buckets: z.object({
      le_5: z.number(),
      le_25: z.number(),
      le_100: z.number(),
      le_250: z.number(),
      le_1000: z.number(),
      le_inf: z.number(),
    }),
  })
  .openapi("QueryStatistic");
export type QueryStatistic = z.output<typeof QueryStatistic>;

export const SlowQuery = z
  .object({
    at: z.string(),
    statement: z.string(),
    duration_ms: z.number(),
    rows_read: z.number(),
    rows_returned: z.number(),
    reason: z.string(),
  })
  .openapi("SlowQuery");
export type SlowQuery = z.output<typeof SlowQuery>;

export const DeliveryResult = z
  .object({ url: z.string(), ok: z.boolean(), status: nullableNumber, attempts: z.number() })
  .openapi("DeliveryResult");
export type DeliveryResult = z.output<typeof DeliveryResult>;
