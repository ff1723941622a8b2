import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Every check of a backup's objects against its manifest, as it ended: `keeper backup verify`
 * (kind verify) and restore drills (kind drill). The backup list and the dashboard show each
 * backup's latest; a backup's rows go when prune deletes it.
 */
export const backupChecks = sqliteTable(
  "keeper_backup_checks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    backupId: text("backup_id").notNull(),
    kind: text("kind", { enum: ["verify", "drill"] }).notNull(),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    ok: integer("ok", { mode: "boolean" }).notNull(),
    problems: integer("problems").notNull(),
    summary: text("summary"),
  },
  (t) => [
    check("keeper_backup_checks_kind_known", sql`"kind" IN ('verify', 'drill')`),
    check("keeper_backup_checks_ok_means_no_problems", sql`"problems" >= 0 AND "ok" = ("problems" = 0)`),
    index("idx_keeper_backup_checks_backup").on(t.backupId, t.id),
  ],
);
