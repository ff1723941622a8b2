import { exclusiveLeases, refuseIfExcluded } from "../maintenance/exclusion";
import { acquireLease, releaseLease } from "../maintenance/lease";
import { recordAudit } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { readObjectLines, requireManifest } from "./catalog.service";
import { advanceBackup, startBackup } from "./create.service";
import { digestTable } from "./digest";
import { introspect, quoteIdentifier } from "./introspect";
import { type Manifest, type ManifestTable, sequenceSql } from "./manifest";
import { PARTS_TABLE } from "./sql-render";
import { checkBackup, requireCurrentFormat } from "./verify.service";

export type RestoreTarget = "scratch" | "main";
/** INSERT statements per D1 batch: each is ≤ 100 KB, so a batch stays about 1 MB and one transaction. */
const STATEMENTS_PER_BATCH = 10;

export interface RestoreInput {
  id: string;
  target: RestoreTarget;
  tables?: string[];
  force: boolean;
  dryRun: boolean;
  confirm: boolean;
}

const tableNameOf = (sql: string, pattern: RegExp) => pattern.exec(sql)?.[1] ?? null;
const createdTable = (sql: string) => tableNameOf(sql, /^CREATE TABLE\s+[`"[]?([^`"\]\s(]+)/i);
const indexedTable = (sql: string) => tableNameOf(sql, /\bON\s+[`"[]?([^`"\]\s(]+)/i);
const withoutSemicolon = (statement: string) => statement.replace(/;\s*$/, "");

async function existingRows(d1: D1Database, names: string[]) {
  const present: { name: string; rows: number }[] = [];
  for (const name of names) {
    const exists = await d1.prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?").bind(name).first();
    if (!exists) continue;
    const count = await d1.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(name)}`).first<{ n: number }>();
    present.push({ name, rows: count?.n ?? 0 });
  }
  return present;
}

async function* statementsOf(ctx: AppContext, manifest: Manifest, kind: "schema" | "data" | "extras", tables: Set<string>) {
  for (const object of manifest.objects) {
    if (object.kind !== kind || (object.table && !tables.has(object.table))) continue;
    // A statement ends with ";" at the end of a line (rows never span lines; see sql-render.ts),
    // except inside a trigger, whose body statements end with ";" too: it ends with "END;".
    let statement: string[] = [];
    for await (const lines of readObjectLines(ctx, object)) {
      for (const line of lines) {
        if (line.length === 0 && statement.length === 0) continue;
        statement.push(line);
        const inTrigger = /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(statement[0]);
        if (inTrigger ? /\bEND;$/i.test(line) : line.endsWith(";")) {
          yield statement.join("\n");
          statement = [];
        }
      }
    }
    if (statement.join("").trim().length > 0) yield statement.join("\n");
  }
}

/** What a restore will do to its target, computed without changing it. */
export interface RestorePlan {
  id: string;
  target: RestoreTarget;
  tables: { name: string; rows: number }[];
  /** Tables dropped (children before parents) before the backup's are created. */
  drops: string[];
  occupied: { name: string; rows: number }[];
  rows: number;
}

/**
 * Tables of the target outside `names` that hold rows and reference one of `dropped` by a foreign
 * key: dropping their parent would delete (or null) their rows by cascade, so such a restore is refused.
 */
async function cascadeVictims(d1: D1Database, dropped: string[], names: Set<string>) {
  const schema = await introspect(d1);
  const victims: { table: string; references: string[]; rows: number }[] = [];
  for (const table of schema.tables) {
    if (names.has(table.name)) continue;
    const references = table.parents.filter((parent) => dropped.includes(parent));
    if (references.length === 0) continue;
    const count = await d1.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(table.name)}`).first<{ n: number }>();
    if ((count?.n ?? 0) > 0) victims.push({ table: table.name, references, rows: count?.n ?? 0 });
  }
  return victims;
}

/**
 * Applies a verified backup's tables to `target`: drops `drops` (children first), creates the
 * missing tables, inserts the rows in batches (parents first, foreign keys deferred within each
 * batch), sets sqlite_sequence, then the indexes and triggers. One call is one step with explicit
 * state: it needs nothing but its arguments.
 */
export async function applyBackup(
  ctx: AppContext,
  target: D1Database,
  manifest: Manifest,
  input: { names: Set<string>; drops: string[]; present: string[] },
): Promise<void> {
  const { names, drops, present } = input;
  // Parts a failed restore may have left behind go too (they are never data).
  await target.batch([...drops, PARTS_TABLE].map((name) => target.prepare(`DROP TABLE IF EXISTS ${quoteIdentifier(name)}`)));
  const creates: D1PreparedStatement[] = [];
  for await (const statement of statementsOf(ctx, manifest, "schema", names)) {
    const table = createdTable(statement);
    if (table && names.has(table) && (drops.includes(table) || !present.includes(table)))
      creates.push(target.prepare(withoutSemicolon(statement)));
  }
  if (creates.length > 0) await target.batch(creates);
  let batch: D1PreparedStatement[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await target.batch([target.prepare("PRAGMA defer_foreign_keys = on"), ...batch]);
    batch = [];
  };
  for await (const statement of statementsOf(ctx, manifest, "data", names)) {
    batch.push(target.prepare(withoutSemicolon(statement)));
    if (batch.length >= STATEMENTS_PER_BATCH) await flush();
  }
  await flush();
  const sequences = sequenceSql(manifest.tables.filter((table) => names.has(table.name)))
    .split("\n")
    .filter((line) => line.length > 0);
  const extras: D1PreparedStatement[] = sequences.map((statement) => target.prepare(withoutSemicolon(statement)));
  for await (const statement of statementsOf(ctx, manifest, "extras", names)) {
    const table = indexedTable(statement);
    if (table && names.has(table))
      extras.push(
        target.prepare(
          withoutSemicolon(statement)
            .replace(/^CREATE (UNIQUE )?INDEX /i, "CREATE $1INDEX IF NOT EXISTS ")
            .replace(/^CREATE TRIGGER /i, "CREATE TRIGGER IF NOT EXISTS ")
            .replace(/^CREATE VIEW /i, "CREATE VIEW IF NOT EXISTS "),
        ),
      );
  }
  if (extras.length > 0) await target.batch(extras);
}

type Mismatch = { table: string; expected: { rows: number; sha256: string }; found: { rows: number; sha256: string } };

/** Every table's digest and count against the manifest, and the target's foreign keys. */
async function compareWithManifest(target: D1Database, tables: ManifestTable[]) {
  const mismatches: Mismatch[] = [];
  for (const table of tables) {
    const found = await digestTable(target, { name: table.name, columns: table.columns, rowidAlias: table.rowid_alias });
    if (found.rows !== table.rows || found.sha256 !== table.sha256)
      mismatches.push({ table: table.name, expected: { rows: table.rows, sha256: table.sha256 }, found });
  }
  const { results: foreignKeyViolations } = await target.prepare("PRAGMA foreign_key_check").all<Record<string, unknown>>();
  return { mismatches, foreignKeyViolations };
}

/**
 * The main database as it is now, backed up completely before a restore replaces it: the restore's
 * audit row names it, and a restore that fails half way is undone from it.
 */
async function takeSafetyBackup(ctx: AppContext): Promise<Manifest> {
  const cursor = await startBackup(ctx);
  cursor.invocations = 1;
  const manifest = await advanceBackup(
    ctx,
    cursor,
    () => false,
    async () => {},
  );
  if (!manifest) throw new Error("the safety backup did not finish");
  return manifest;
}

/** The audit row of a restore is the record of what happened to the target: one retry if D1 blips. */
async function auditRestore(ctx: AppContext, target: string, detail: Record<string, unknown>) {
  const entry = { action: "backups.restore", target, detail };
  await recordAudit(ctx, entry).catch(() => recordAudit(ctx, entry));
}

/**
 * Restores a backup (or some of its tables) into SCRATCH_DB or the main database. Nothing touches
 * the target before every object of the selected tables has been read back and checked (sha256,
 * values against the digests). A target that already holds any of those tables with rows is
 * refused unless `force` (then those tables are dropped first, children before parents), and a
 * drop that would cascade into a table not being restored is refused. The main database needs
 * `confirm`, and is first backed up (the safety backup): if the restore fails at any statement,
 * the safety backup is restored, so the database ends as it was or as the backup — never empty.
 * Afterwards every table's digest and row count are compared with the manifest and
 * `PRAGMA foreign_key_check` must be empty. Every outcome is audited.
 */
export async function restoreBackup({ ctx, input }: { ctx: AppContext; input: RestoreInput }) {
  const manifest = await requireManifest(ctx, input.id);
  requireCurrentFormat(manifest);
  const unknown = (input.tables ?? []).filter((name) => !manifest.tables.some((table) => table.name === name));
  if (unknown.length > 0) {
    throw new KeeperError("UNPROCESSABLE", `Backup ${input.id} has no table(s) ${unknown.join(", ")}`, {
      errors: unknown.map((name) => ({ path: "body.tables", message: `unknown table ${name}` })),
    });
  }
  const selected = manifest.tables.filter((table) => !input.tables || input.tables.includes(table.name));
  const names = new Set(selected.map((table) => table.name));
  const target = input.target === "main" ? ctx.d1 : ctx.env.SCRATCH_DB;
  const present = await existingRows(
    target,
    selected.map((table) => table.name),
  );
  const occupied = present.filter((table) => table.rows > 0);
  const plan: RestorePlan = {
    id: manifest.id,
    target: input.target,
    tables: selected.map((table) => ({ name: table.name, rows: table.rows })),
    drops: input.force ? present.map((table) => table.name).reverse() : [],
    occupied,
    rows: selected.reduce((sum, table) => sum + table.rows, 0),
  };
  if (occupied.length > 0 && !input.force) {
    throw new KeeperError(
      "CONFLICT",
      `The ${input.target} database already holds rows in ${occupied.map((t) => t.name).join(", ")}; pass force: true to replace them`,
      { extra: { occupied } },
    );
  }
  const victims = await cascadeVictims(target, plan.drops, names);
  if (victims.length > 0) {
    throw new KeeperError(
      "CONFLICT",
      `Dropping ${[...new Set(victims.flatMap((v) => v.references))].join(", ")} would delete rows of ${victims.map((v) => v.table).join(", ")} by cascade; restore those tables too (or all tables)`,
      { extra: { cascades: victims } },
    );
  }
  if (input.dryRun) return { dryRun: true, plan, verified: null, mismatches: [], safety_backup: null };
  if (input.target === "main" && !input.confirm) {
    throw new KeeperError(
      "CONFIRMATION_REQUIRED",
      "Restoring into the main database replaces data; send confirm: true (try dryRun: true first)",
    );
  }
  const leaseName = input.target === "main" ? exclusiveLeases.restore : "scratch-db";
  const holder = `restore:${crypto.randomUUID()}`;
  if (!(await acquireLease({ ctx, input: { name: leaseName, holder, ttlMs: 15 * 60_000 } }))) {
    throw new KeeperError("LOCKED", `Another run holds the ${leaseName} lease; try again when it finishes`);
  }
  // Into the main database, not while a backup, a migration or retention runs (the exclusion matrix).
  if (input.target === "main") await refuseIfExcluded({ ctx, input: { job: "restore", holder } });
  const audit = { into: input.target, tables: selected.map((t) => t.name), dropped: plan.drops };
  try {
    const problems = await checkBackup(ctx, manifest, names);
    if (problems.length > 0) {
      await auditRestore(ctx, manifest.id, { ...audit, dropped: [], outcome: "refused", problems });
      throw new KeeperError("UNPROCESSABLE", `Backup ${manifest.id} failed its checks; the target was not touched`, {
        extra: { problems },
      });
    }
    let safety: Manifest | null = null;
    if (input.target === "main") {
      try {
        safety = await takeSafetyBackup(ctx);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        await auditRestore(ctx, manifest.id, { ...audit, dropped: [], outcome: "not_started", error: reason });
        throw new KeeperError("UNAVAILABLE", `The safety backup failed (${reason}); the main database was not touched`, {
          cause: error,
        });
      }
    }
    try {
      await applyBackup(ctx, target, manifest, { names, drops: plan.drops, present: present.map((p) => p.name) });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (!safety) {
        await auditRestore(ctx, manifest.id, { ...audit, outcome: "failed", error: reason });
        throw error;
      }
      throw await rollForward(ctx, manifest.id, safety, { ...audit, error: reason });
    }
    const { mismatches, foreignKeyViolations } = await compareWithManifest(target, selected);
    const verified = mismatches.length === 0 && foreignKeyViolations.length === 0;
    await auditRestore(ctx, manifest.id, {
      ...audit,
      outcome: "restored",
      verified,
      safety_backup: safety?.id ?? null,
      foreign_key_violations: foreignKeyViolations.length,
    });
    return {
      dryRun: false,
      plan,
      verified,
      mismatches,
      foreign_key_violations: foreignKeyViolations,
      safety_backup: safety?.id ?? null,
    };
  } finally {
    await releaseLease({ ctx, input: { name: leaseName, holder } });
  }
}

/**
 * After a restore into main failed part way: the safety backup is applied over whatever the failed
 * restore left (every table it holds dropped and written again) and checked. Returns the error to
 * answer with; the audit row says whether the database is back as it was.
 */
async function rollForward(ctx: AppContext, id: string, safety: Manifest, audit: Record<string, unknown>) {
  const names = new Set(safety.tables.map((table) => table.name));
  try {
    const present = (await existingRows(ctx.d1, [...names])).map((table) => table.name);
    const drops = safety.tables
      .map((table) => table.name)
      .filter((name) => present.includes(name))
      .reverse();
    await applyBackup(ctx, ctx.d1, safety, { names, drops, present });
    const { mismatches } = await compareWithManifest(ctx.d1, safety.tables);
    await auditRestore(ctx, id, {
      ...audit,
      outcome: "rolled_back",
      safety_backup: safety.id,
      verified: mismatches.length === 0,
    });
    return new KeeperError(
      "UNAVAILABLE",
      `Restoring ${id} failed (${audit.error}); the main database was restored from safety backup ${safety.id}${mismatches.length === 0 ? " and verified" : ", but differs from it"}`,
      { extra: { safety_backup: safety.id, rolled_back: true } },
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    await auditRestore(ctx, id, { ...audit, outcome: "failed", safety_backup: safety.id, rollback_error: reason });
    return new KeeperError(
      "UNAVAILABLE",
      `Restoring ${id} failed (${audit.error}) and so did restoring safety backup ${safety.id} (${reason}); run: keeper backup restore ${safety.id} --target main --force`,
      { extra: { safety_backup: safety.id, rolled_back: false } },
    );
  }
}
