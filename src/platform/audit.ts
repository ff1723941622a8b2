import type { AppContext } from "./context";

export interface AuditEntry {
  action: string;
  target?: string | null;
  dryRun?: boolean;
  detail?: Record<string, unknown>;
}

/**
 * The audit row as a prepared statement, so callers put it in the same `d1.batch()` as the change
 * it records: either both are written or neither (D1 has no interactive transactions).
 */
export function auditStatement(
  ctx: AppContext,
  entry: AuditEntry,
  options: { onlyIfPreviousChanged?: boolean } = {},
): D1PreparedStatement {
  // With onlyIfPreviousChanged the row is written only when the statement just before it in the
  // batch changed something (SQLite's changes()), so a repeated no-op leaves no audit claim.
  const sql = options.onlyIfPreviousChanged
    ? "INSERT INTO keeper_audit_log (at, actor, action, target, dry_run, detail) SELECT ?, ?, ?, ?, ?, ? WHERE changes() > 0"
    : "INSERT INTO keeper_audit_log (at, actor, action, target, dry_run, detail) VALUES (?, ?, ?, ?, ?, ?)";
  return ctx.d1
    .prepare(sql)
    .bind(
      ctx.now().getTime(),
      ctx.principal.actor,
      entry.action,
      entry.target ?? null,
      entry.dryRun ? 1 : 0,
      entry.detail ? JSON.stringify(entry.detail) : null,
    );
}

/** For actions whose change is not in D1 (an R2 write, a dry run): the audit row on its own. */
export async function recordAudit(ctx: AppContext, entry: AuditEntry): Promise<void> {
  await auditStatement(ctx, entry).run();
}
