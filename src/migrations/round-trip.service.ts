import { recordAudit } from "../platform/audit";
import type { AppContext } from "../platform/context";
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
  const list = migrations ?? (await loadMigrations(bundledMigrationFiles));
  const scratch = d1 ?? ctx.env.SCRATCH_DB;
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
