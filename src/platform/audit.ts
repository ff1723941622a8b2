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
export function auditStatement(ctx: AppContext, entry: AuditEntry): D1PreparedStatement {
  return ctx.d1
    .prepare("INSERT INTO keeper_audit_log (at, actor, action, target, dry_run, detail) VALUES (?, ?, ?, ?, ?, ?)")
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
