import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import type { PlannedStep } from "./apply.service";
import { auditLogExists, deleteChecksum, deleteLedgerRow, ensureLedgerTables } from "./ledger";
import { forgetSchemaReadiness } from "./readiness.service";
import { bundledSource, type MigrationSource, onDatabase, readState, refuseOnDrift, requireKnownVersion } from "./source";
import { backfillChecksums } from "./status.service";
import { type Bookmark, bookmarkAuditFields, takeTimeTravelBookmark } from "./time-travel";

export interface RollbackInput {
  /**
   * Roll back every applied migration numbered above this one, newest first; the migration `to`
   * itself stays applied. Absent: roll back the newest applied migration only. 0000 (which creates
   * every table, the audit log included) is never rolled back here: start from a fresh database instead.
   */
  to?: number;
  /**
   * The version the caller confirmed (its dry run's `from`). When the database has moved since
   * (something was applied or rolled back in between), the rollback is refused rather than undoing
   * something nobody confirmed.
   */
  from?: string;
  dryRun: boolean;
  confirm: boolean;
  force: boolean;
}

/**
 * Runs down files newest first. Each is one `batch()` with the removal of its ledger and checksum
 * rows and its audit row, so a failing down statement leaves that migration applied and recorded.
 */
export async function rollbackMigrations({
  ctx,
  input,
  source,
}: {
  ctx: AppContext;
  input: RollbackInput;
  source?: MigrationSource;
}) {
  const target = source ?? (await bundledSource(ctx));
  const state = await readState(target);
  const appliedNumbers = state.applied.map((entry) => entry.number).filter((n): n is number => n !== null);
  const current = state.current?.number ?? null;
  if (input.from !== undefined && input.from !== (state.current?.name ?? null)) {
    throw new KeeperError(
      "CONFLICT",
      `The database is at ${state.current?.name ?? "no version"}, not at ${input.from} as confirmed; nothing was rolled back. Look at the plan again.`,
    );
  }
  let to = input.to;
  if (to !== undefined) requireKnownVersion(target.migrations, to);
  else if (current !== null) {
    const below = appliedNumbers.filter((n) => n < current);
    if (below.length === 0) {
      throw new KeeperError(
        "CONFLICT",
        `Only ${state.current?.name} is applied, and the first migration is never rolled back (it creates every table, the audit log included); use a fresh database instead`,
      );
    }
    to = Math.max(...below);
  }
  const toUndo = [...state.applied].reverse().filter((entry) => to !== undefined && (entry.number === null || entry.number > to));
  const byName = new Map(target.migrations.map((migration) => [migration.name, migration]));
  const unrunnable = toUndo
    .map((entry) => {
      const migration = byName.get(entry.name);
      if (!migration) return { name: entry.name, problem: "the migration file is not bundled" };
      return migration.downProblem ? { name: entry.name, problem: migration.downProblem } : null;
    })
    .filter((entry) => entry !== null);
  if (unrunnable.length > 0) {
    throw new KeeperError(
      "UNPROCESSABLE",
      `Cannot roll back: ${unrunnable.map((entry) => `${entry.name} (${entry.problem})`).join(", ")}. Nothing was changed.`,
      { extra: { unrunnable } },
    );
  }
  refuseOnDrift(state.drift, input.force, "roll back");
  const steps: PlannedStep[] = toUndo.map((entry) => {
    const migration = byName.get(entry.name)!;
    return { number: migration.number, name: migration.name, statements: migration.downStatements };
  });
  const keepName = to === undefined ? null : (state.applied.filter((entry) => (entry.number ?? -1) <= to).at(-1)?.name ?? null);
  const base = {
    dry_run: input.dryRun,
    from: state.current?.name ?? null,
    forced_past_drift: input.force && state.drift.length > 0 ? state.drift : [],
  };
  if (input.dryRun || steps.length === 0) {
    const bookmark: Bookmark = {
      taken: false,
      reason: steps.length === 0 ? "nothing to roll back" : "dry run: no Time Travel bookmark taken",
    };
    return { ...base, to: steps.length === 0 ? base.from : keepName, steps, rolled_back: [] as string[], bookmark };
  }
  if (!input.confirm) {
    throw new KeeperError(
      "CONFIRMATION_REQUIRED",
      `Rolling back ${steps.map((step) => step.name).join(", ")} runs their down files and can drop data; send confirm: true (or dryRun: true to see the SQL)`,
    );
  }

  const bookmark: Bookmark = target.primary
    ? await takeTimeTravelBookmark(ctx)
    : { taken: false, reason: "not the primary database: no Time Travel bookmark taken" };
  // A database only wrangler has touched has no checksum table yet; the batches below delete from it.
  await ensureLedgerTables(target.d1);
  await backfillChecksums(ctx, target, state);
  const auditCtx = onDatabase(ctx, target.d1);
  const audited = await auditLogExists(target.d1);
  const rolledBack: string[] = [];
  for (const step of steps) {
    const statements = step.statements.map((sql) => target.d1.prepare(sql));
    statements.push(deleteLedgerRow(target.d1, step.name), deleteChecksum(target.d1, step.name));
    if (audited) {
      statements.push(
        auditStatement(auditCtx, {
          action: "migrations.rollback",
          target: step.name,
          detail: {
            statements: step.statements.length,
            ...bookmarkAuditFields(bookmark, base.forced_past_drift),
          },
        }),
      );
    }
    try {
      await target.d1.batch(statements);
      forgetSchemaReadiness();
    } catch (error) {
      throw new KeeperError(
        "UNPROCESSABLE",
        `Rolling back ${step.name} failed; it is still applied (its down statements and ledger change were rolled back together): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, extra: { rolled_back: rolledBack, failed: step.name, bookmark } },
      );
    }
    rolledBack.push(step.name);
  }
  return { ...base, to: keepName, steps, rolled_back: rolledBack, bookmark };
}
