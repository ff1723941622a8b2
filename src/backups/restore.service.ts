import { acquireLease, releaseLease } from "../maintenance/lease";
import { recordAudit } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { readObjectLines, requireManifest } from "./catalog.service";
import { digestTable } from "./digest";
import { quoteIdentifier } from "./introspect";
import type { Manifest, ManifestTable } from "./manifest";

export type RestoreTarget = "scratch" | "main";
/** INSERT statements per D1 batch: each is < 90 KB, so a batch stays a few MB and one transaction. */
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

async function existingRows(d1: D1Database, tables: ManifestTable[]) {
  const present: { name: string; rows: number }[] = [];
  for (const table of tables) {
    const exists = await d1
      .prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?")
      .bind(table.name)
      .first();
    if (!exists) continue;
    const count = await d1.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(table.name)}`).first<{ n: number }>();
    present.push({ name: table.name, rows: count?.n ?? 0 });
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

/**
 * Restores a backup (or some of its tables) into SCRATCH_DB or the main database. A target that
 * already holds any of those tables with rows is refused unless `force` (then those tables are
 * dropped first, children before parents). The main database needs `confirm`. Inserts go in
 * batches of multi-row statements, parents first; afterwards every restored table's digest and
 * row count are compared with the manifest.
 */
export async function restoreBackup({ ctx, input }: { ctx: AppContext; input: RestoreInput }) {
  const manifest = await requireManifest(ctx, input.id);
  const unknown = (input.tables ?? []).filter((name) => !manifest.tables.some((table) => table.name === name));
  if (unknown.length > 0) {
    throw new KeeperError("UNPROCESSABLE", `Backup ${input.id} has no table(s) ${unknown.join(", ")}`, {
      errors: unknown.map((name) => ({ path: "body.tables", message: `unknown table ${name}` })),
    });
  }
  const selected = manifest.tables.filter((table) => !input.tables || input.tables.includes(table.name));
  const target = input.target === "main" ? ctx.d1 : ctx.env.SCRATCH_DB;
  const present = await existingRows(target, selected);
  const occupied = present.filter((table) => table.rows > 0);
  const plan = {
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
      {
        extra: { occupied },
      },
    );
  }
  if (input.dryRun) return { dryRun: true, plan, verified: null, mismatches: [] };
  if (input.target === "main" && !input.confirm) {
    throw new KeeperError(
      "CONFIRMATION_REQUIRED",
      "Restoring into the main database replaces data; send confirm: true (try dryRun: true first)",
    );
  }
  const leaseName = input.target === "main" ? "backups.restore" : "scratch-db";
  const holder = `restore:${crypto.randomUUID()}`;
  if (!(await acquireLease({ ctx, input: { name: leaseName, holder, ttlMs: 15 * 60_000 } }))) {
    throw new KeeperError("LOCKED", `Another run holds the ${leaseName} lease; try again when it finishes`);
  }
  try {
    const names = new Set(selected.map((table) => table.name));
    if (plan.drops.length > 0)
      await target.batch(plan.drops.map((name) => target.prepare(`DROP TABLE IF EXISTS ${quoteIdentifier(name)}`)));
    const creates: D1PreparedStatement[] = [];
    for await (const statement of statementsOf(ctx, manifest, "schema", names)) {
      const table = createdTable(statement);
      if (table && names.has(table) && (plan.drops.includes(table) || !present.some((p) => p.name === table))) {
        creates.push(target.prepare(statement.replace(/;\s*$/, "")));
      }
    }
    if (creates.length > 0) await target.batch(creates);
    let batch: D1PreparedStatement[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await target.batch([target.prepare("PRAGMA defer_foreign_keys = on"), ...batch]);
      batch = [];
    };
    for await (const statement of statementsOf(ctx, manifest, "data", names)) {
      batch.push(target.prepare(statement.replace(/;\s*$/, "")));
      if (batch.length >= STATEMENTS_PER_BATCH) await flush();
    }
    await flush();
    const extras: D1PreparedStatement[] = [];
    for await (const statement of statementsOf(ctx, manifest, "extras", names)) {
      const table = indexedTable(statement);
      if (table && names.has(table))
        extras.push(
          target.prepare(statement.replace(/^CREATE (UNIQUE )?INDEX /i, "CREATE $1INDEX IF NOT EXISTS ").replace(/;\s*$/, "")),
        );
    }
    if (extras.length > 0) await target.batch(extras);

    const mismatches: { table: string; expected: { rows: number; sha256: string }; found: { rows: number; sha256: string } }[] =
      [];
    for (const table of selected) {
      const found = await digestTable(target, table.name, table.columns);
      if (found.rows !== table.rows || found.sha256 !== table.sha256)
        mismatches.push({ table: table.name, expected: { rows: table.rows, sha256: table.sha256 }, found });
    }
    await recordAudit(ctx, {
      action: "backups.restore",
      target: manifest.id,
      detail: { into: input.target, tables: selected.map((t) => t.name), dropped: plan.drops, verified: mismatches.length === 0 },
    });
    return { dryRun: false, plan, verified: mismatches.length === 0, mismatches };
  } finally {
    await releaseLease({ ctx, input: { name: leaseName, holder } });
  }
}
