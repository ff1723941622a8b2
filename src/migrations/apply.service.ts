import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { findRuleViolations, tablesRuledBy } from "../videos/stored-rules";
import { createsTable, type Migration } from "./catalog";
import { auditLogExists, ensureLedgerTables, insertLedgerRow, recordChecksum } from "./ledger";
import { forgetSchemaReadiness } from "./readiness.service";
import { bundledSource, type MigrationSource, onDatabase, readState, refuseOnDrift, requireKnownVersion } from "./source";
import { backfillChecksums } from "./status.service";
import { type Bookmark, bookmarkAuditFields, takeTimeTravelBookmark } from "./time-travel";

export interface ApplyInput {
  /** Apply pending migrations up to and including this number; all of them when absent. */
  to?: number;
  dryRun: boolean;
  force: boolean;
}

export interface PlannedStep {
  number: number;
  name: string;
  statements: string[];
}

function planApply(migrations: Migration[], pendingNames: Set<string>, current: number | null, to: number | undefined) {
  if (to !== undefined) {
    requireKnownVersion(migrations, to);
    if (current !== null && to < current) {
      throw new KeeperError(
        "CONFLICT",
        `The database is at ${String(current).padStart(4, "0")}, past ${String(to).padStart(4, "0")}: apply only moves forward; use rollback --to ${to}`,
        { errors: [{ path: "body.to", message: "below the current version" }] },
      );
    }
  }
  return migrations.filter((migration) => pendingNames.has(migration.name) && (to === undefined || migration.number <= to));
}

/**
 * A migration that makes D1 enforce the data API's rules on a table (its triggers) first checks
 * the rows already there: triggers do not look at existing rows, and a row breaking a rule could
 * not be updated afterwards. Such rows are reported and nothing is applied; fix or remove them
 * (the rules are not enforced yet, so a plain UPDATE works), then apply again.
 */
async function preflightRules(d1: D1Database, plan: Migration[]) {
  for (const migration of plan) {
    const tables = tablesRuledBy(migration.upStatements);
    if (tables.length === 0) continue;
    const violations = await findRuleViolations(d1, tables);
    if (violations.length === 0) continue;
    const rows = violations.reduce((sum, violation) => sum + violation.count, 0);
    throw new KeeperError(
      "CONFLICT",
      `Pre-flight of ${migration.name}: ${rows} stored value(s) break rules it makes D1 enforce; nothing was applied. Fix or remove them, then apply again.`,
      { extra: { preflight: { migration: migration.name, violations } } },
    );
  }
}

/**
 * Applies pending migrations in order. Each is one `batch()`: its statements, its wrangler ledger
 * row, its checksum row and its audit row commit together or not at all, so a failing statement
 * leaves that migration wholly unapplied (earlier ones in the same call stay applied and are reported).
 */
export async function applyMigrations({ ctx, input, source }: { ctx: AppContext; input: ApplyInput; source?: MigrationSource }) {
  const target = source ?? (await bundledSource(ctx));
  const state = await readState(target);
  const pendingNames = new Set(state.pending.map((entry) => entry.name));
  const plan = planApply(target.migrations, pendingNames, state.current?.number ?? null, input.to);
  refuseOnDrift(state.drift, input.force, "apply");
  await preflightRules(target.d1, plan);
  const steps: PlannedStep[] = plan.map((migration) => ({
    number: migration.number,
    name: migration.name,
    statements: migration.upStatements,
  }));
  const base = {
    dry_run: input.dryRun,
    from: state.current?.name ?? null,
    forced_past_drift: input.force && state.drift.length > 0 ? state.drift : [],
  };
  if (input.dryRun || plan.length === 0) {
    const bookmark: Bookmark = {
      taken: false,
      reason: plan.length === 0 ? "nothing to apply" : "dry run: no Time Travel bookmark taken",
    };
    return { ...base, to: state.current?.name ?? null, steps, applied: [] as string[], bookmark };
  }

  const bookmark: Bookmark = target.primary
    ? await takeTimeTravelBookmark(ctx)
    : { taken: false, reason: "not the primary database: no Time Travel bookmark taken" };
  await ensureLedgerTables(target.d1);
  await backfillChecksums(ctx, target, state);
  const auditCtx = onDatabase(ctx, target.d1);
  let auditTableReady = await auditLogExists(target.d1);
  const applied: string[] = [];
  for (const migration of plan) {
    const statements = migration.upStatements.map((sql) => target.d1.prepare(sql));
    statements.push(insertLedgerRow(target.d1, migration.name, ctx.now()));
    statements.push(
      recordChecksum(target.d1, { name: migration.name, sha256: migration.checksum, recordedAs: "applied", at: ctx.now() }),
    );
    auditTableReady ||= createsTable(migration.upStatements, "keeper_audit_log");
    if (auditTableReady) {
      statements.push(
        auditStatement(auditCtx, {
          action: "migrations.apply",
          target: migration.name,
          detail: {
            sha256: migration.checksum,
            statements: migration.upStatements.length,
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
        `${migration.name} failed and was not applied (its statements, ledger row and checksum were rolled back together): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, extra: { applied, failed: migration.name, bookmark } },
      );
    }
    applied.push(migration.name);
  }
  return { ...base, to: applied.at(-1) ?? null, steps, applied, bookmark };
}
