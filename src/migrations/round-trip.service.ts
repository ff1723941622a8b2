import { acquireLease, releaseLease } from "../maintenance/lease";
import { recordAudit } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { applyMigrations } from "./apply.service";
import { bundledMigrationFiles } from "./bundle.generated";
import { loadMigrations, type Migration } from "./catalog";
import { auditLogExists, deleteChecksum, deleteLedgerRow, readLedger } from "./ledger";
import { compareRows, loadRepresentativeRows, snapshotRows } from "./representative-data";
import { rollbackMigrations } from "./rollback.service";
import { diffSchemas, readSchema, resetDatabase, type SchemaObject } from "./scratch-schema";
import type { MigrationSource } from "./source";

export type Phase = "up" | "down" | "reup";

export interface StepResult {
  ok: boolean;
  problems: string[];
}

export interface MigrationRoundTrip {
  name: string;
  up: StepResult | null;
  down: StepResult | null;
  reup: StepResult | null;
}

/**
 * `keeper migrate test`: on the scratch database, with representative rows loaded before every
 * step, apply all migrations (recording the schema each version gives: the expected schema at that
 * version), roll all back, apply all again. After every step the normalized schema must equal the
 * one expected at the version reached, the ledger must list exactly the migrations up to it, and no
 * row of a table that exists before and after the step may be lost or changed. Up and down steps go
 * through the same apply/rollback services the operator uses (0000's down, which the rollback
 * service never runs, is run directly, atomically with its ledger rows).
 */
export async function testMigrationRoundTrip({
  ctx,
  migrations,
  d1,
}: {
  ctx: AppContext;
  migrations?: Migration[];
  d1?: D1Database;
}) {
  const holder = `migrations.test:${crypto.randomUUID()}`;
  const leased = await takeScratchLease(ctx, holder);
  try {
    return await runRoundTrip({ ctx, migrations, d1 });
  } finally {
    if (leased) await releaseLease({ ctx, input: { name: scratchLeaseName, holder } });
  }
}

/**
 * SCRATCH_DB is shared with the backups area's restore drills: whoever wipes it holds this lease
 * (in the app database's keeper_leases) for the duration. A database not migrated yet has no lease
 * table; then there is nothing else running keeper jobs against it either.
 */
export const scratchLeaseName = "scratch-db";

async function takeScratchLease(ctx: AppContext, holder: string): Promise<boolean> {
  const table = await ctx.d1
    .prepare("SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = 'keeper_leases'")
    .first();
  if (!table) return false;
  if (!(await acquireLease({ ctx, input: { name: scratchLeaseName, holder, ttlMs: 10 * 60_000 } }))) {
    throw new KeeperError(
      "LOCKED",
      "SCRATCH_DB is in use (a migration test or a restore drill holds its lease); try again when it finishes",
    );
  }
  return true;
}

async function runRoundTrip({ ctx, migrations, d1 }: { ctx: AppContext; migrations?: Migration[]; d1?: D1Database }) {
  const list = migrations ?? (await loadMigrations(bundledMigrationFiles));
  const scratch = d1 ?? ctx.env.SCRATCH_DB;
  if (scratch === ctx.env.DB || scratch === ctx.d1) {
    throw new KeeperError("INTERNAL", "SCRATCH_DB is bound to the app database; the round trip wipes it, so it refuses to run");
  }
  const source: MigrationSource = { d1: scratch, migrations: list, primary: false };
  const report: MigrationRoundTrip[] = list.map((migration) => ({ name: migration.name, up: null, down: null, reup: null }));
  await resetDatabase(scratch);
  const expected: SchemaObject[][] = [await readSchema(scratch)];
  let stepCount = 0;

  /** One step: load rows, run it, then check schema, ledger and rows. False when the round trip must stop. */
  const step = async (index: number, phase: Phase, run: () => Promise<void>, versionAfter: number) => {
    const problems: string[] = [];
    const at = ctx.now().getTime();
    problems.push(...(await loadRepresentativeRows(scratch, `${phase}-${index}-${stepCount++}`, at)));
    const before = await snapshotRows(scratch);
    try {
      await run();
    } catch (error) {
      problems.push(`failed: ${error instanceof Error ? error.message : String(error)}`);
      report[index][phase] = { ok: false, problems };
      return false;
    }
    const schema = await readSchema(scratch);
    if (phase === "up") expected[versionAfter + 1] = schema;
    else problems.push(...diffSchemas(expected[versionAfter + 1], schema).map((problem) => `schema: ${problem}`));
    const ledger = (await readLedger(scratch)).map((row) => row.name);
    const wantLedger = list.slice(0, versionAfter + 1).map((migration) => migration.name);
    if (JSON.stringify(ledger) !== JSON.stringify(wantLedger)) {
      problems.push(`ledger: expected [${wantLedger.join(", ")}], found [${ledger.join(", ")}]`);
    }
    problems.push(...compareRows(before, await snapshotRows(scratch)).map((problem) => `rows: ${problem}`));
    report[index][phase] = { ok: problems.length === 0, problems };
    return problems.length === 0;
  };

  const up = (migration: Migration) => async () => {
    await applyMigrations({ ctx, input: { to: migration.number, dryRun: false, force: false }, source });
  };
  const down = (index: number) => async () => {
    if (index > 0) {
      await rollbackMigrations({
        ctx,
        input: { to: list[index - 1].number, dryRun: false, confirm: true, force: false },
        source,
      });
      return;
    }
    const first = list[0];
    if (first.downProblem) throw new Error(`${first.name}: ${first.downProblem}`);
    await scratch.batch([
      ...first.downStatements.map((sql) => scratch.prepare(sql)),
      deleteLedgerRow(scratch, first.name),
      deleteChecksum(scratch, first.name),
    ]);
  };

  let ok = true;
  for (let i = 0; ok && i < list.length; i++) ok = await step(i, "up", up(list[i]), i);
  for (let i = list.length - 1; ok && i >= 0; i--) ok = await step(i, "down", down(i), i - 1);
  for (let i = 0; ok && i < list.length; i++) ok = await step(i, "reup", up(list[i]), i);

  const passed = report.every((entry) => entry.up?.ok && entry.down?.ok && entry.reup?.ok);
  const result = { ok: passed, database: d1 ? "custom" : "SCRATCH_DB", migrations: report };
  if (await auditLogExists(ctx.d1)) {
    await recordAudit(ctx, {
      action: "migrations.test",
      target: "SCRATCH_DB",
      detail: {
        ok: passed,
        failed: report.filter((entry) => !(entry.up?.ok && entry.down?.ok && entry.reup?.ok)).map((e) => e.name),
      },
    });
  }
  return result;
}
