import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** keeper's own operations tables, shared by every area (prefix keeper_ so backups can tell them apart). */

/** Every destructive or state-changing operation writes one row here, in the same batch as the change. */
export const auditLog = sqliteTable(
  "keeper_audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    dryRun: integer("dry_run", { mode: "boolean" }).notNull().default(false),
    detail: text("detail"),
  },
  (t) => [
    check("keeper_audit_log_detail_json", sql`"detail" IS NULL OR json_valid("detail")`),
    index("idx_keeper_audit_log_at").on(t.at),
  ],
);

/**
 * One row per named lease. Taken with a single conditional upsert (see maintenance/lease.ts): a run
 * that finds a live lease held by someone else skips; an expired one is taken over.
 */
export const leases = sqliteTable("keeper_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  acquiredAt: integer("acquired_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/**
 * A record of every maintenance job run, cron or manual: what ran, when, what it did, how it ended.
 * A long job runs as a Workflow instance (`instance_id`) and reports `progress` after every step; a
 * `running` row whose lease (`holder` in keeper_leases) has expired is marked failed by the next run.
 */
export const jobRuns = sqliteTable(
  "keeper_job_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    job: text("job").notNull(),
    trigger: text("trigger", { enum: ["cron", "manual"] }).notNull(),
    actor: text("actor").notNull(),
    status: text("status", { enum: ["running", "succeeded", "partial", "failed", "skipped", "cancelled"] }).notNull(),
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
    counts: text("counts"),
    error: text("error"),
    holder: text("holder"),
    instanceId: text("instance_id"),
    progress: text("progress"),
  },
  (t) => [
    check("keeper_job_runs_trigger_known", sql`"trigger" IN ('cron', 'manual')`),
    check("keeper_job_runs_status_known", sql`"status" IN ('running', 'succeeded', 'partial', 'failed', 'skipped', 'cancelled')`),
    check("keeper_job_runs_counts_json", sql`"counts" IS NULL OR json_valid("counts")`),
    check("keeper_job_runs_progress_json", sql`"progress" IS NULL OR json_valid("progress")`),
    uniqueIndex("idx_keeper_job_runs_instance").on(t.instanceId),
    index("idx_keeper_job_runs_job_started").on(t.job, t.startedAt),
    index("idx_keeper_job_runs_started").on(t.startedAt),
  ],
);
