import { startJob } from "../maintenance/jobs.service";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { requireManifest } from "./catalog.service";
import { introspect, quoteIdentifier } from "./introspect";
import type { Manifest } from "./manifest";
import { requireCurrentFormat } from "./verify.service";

export type RestoreTarget = "scratch" | "main";

export interface RestoreInput {
  id: string;
  target: RestoreTarget;
  tables?: string[];
  force: boolean;
  dryRun: boolean;
  confirm: boolean;
}

/** The tables of `names` the target has, in that order, with their row counts: two queries. */
export async function existingRows(d1: D1Database, names: string[]) {
  if (names.length === 0) return [];
  const { results } = await d1
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(names))
    .all<{ name: string }>();
  const found = new Set(results.map((row) => row.name));
  return rowCounts(
    d1,
    names.filter((name) => found.has(name)),
  );
}

/** Each table's row count, all in one D1 batch: the plan's reads fit a free-plan step whatever the tables. */
async function rowCounts(d1: D1Database, names: string[]) {
  if (names.length === 0) return [];
  const results = await d1.batch<{ n: number }>(
    names.map((name) => d1.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(name)}`)),
  );
  return names.map((name, i) => ({ name, rows: results[i].results[0]?.n ?? 0 }));
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
  if (dropped.length === 0) return [];
  const schema = await introspect(d1);
  const children = schema.tables
    .filter((table) => !names.has(table.name))
    .map((table) => ({ table: table.name, references: table.parents.filter((parent) => dropped.includes(parent)) }))
    .filter((child) => child.references.length > 0);
  const counts = await rowCounts(
    d1,
    children.map((child) => child.table),
  );
  return children.map((child, index) => ({ ...child, rows: counts[index].rows })).filter((child) => child.rows > 0);
}

/**
 * Tables of the main database a restore into it leaves as they are: the run records, which hold
 * the restore's own run (replacing them would lose it mid-way, and the history of the jobs that
 * ran on this database). A restore into SCRATCH_DB restores them like any other table.
 */
export const KEPT_IN_MAIN = ["keeper_job_runs"];

/** The tables of a backup a restore into `target` writes. */
export const restorableTables = <T extends { name: string }>(tables: T[], target: RestoreTarget) =>
  target === "main" ? tables.filter((table) => !KEPT_IN_MAIN.includes(table.name)) : tables;

/** A plan and what it was made from: the manifest and the tables of the target it found. */
export interface PlannedRestore {
  manifest: Manifest;
  plan: RestorePlan;
  present: string[];
}

/**
 * What a restore would do, and the refusals that need nothing but the manifest and the target:
 * unknown tables, an old format, a target already holding rows (unless `force`: then those tables
 * are dropped first, children before parents), a drop that would cascade into a table not being
 * restored, and the main database without `confirm` (a dry run needs none). Changes nothing.
 */
export async function planRestore({ ctx, input }: { ctx: AppContext; input: RestoreInput }): Promise<PlannedRestore> {
  const manifest = await requireManifest(ctx, input.id);
  requireCurrentFormat(manifest);
  const unknown = (input.tables ?? []).filter((name) => !manifest.tables.some((table) => table.name === name));
  if (unknown.length > 0) {
    throw new KeeperError("UNPROCESSABLE", `Backup ${input.id} has no table(s) ${unknown.join(", ")}`, {
      errors: unknown.map((name) => ({ path: "body.tables", message: `unknown table ${name}` })),
    });
  }
  const kept = input.target === "main" ? (input.tables ?? []).filter((name) => KEPT_IN_MAIN.includes(name)) : [];
  if (kept.length > 0) {
    throw new KeeperError("UNPROCESSABLE", `A restore into main keeps ${kept.join(", ")} (it holds the restore's own run)`, {
      errors: kept.map((name) => ({ path: "body.tables", message: `${name} is kept by a restore into main` })),
    });
  }
  const selected = restorableTables(manifest.tables, input.target).filter(
    (table) => !input.tables || input.tables.includes(table.name),
  );
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
  if (!input.dryRun && input.target === "main" && !input.confirm) {
    throw new KeeperError(
      "CONFIRMATION_REQUIRED",
      "Restoring into the main database replaces data; send confirm: true (try dryRun: true first)",
    );
  }
  return { manifest, plan, present: present.map((table) => table.name) };
}

/**
 * A restore asked for over HTTP: a dry run answers with the plan; otherwise the plan's refusals
 * are answered at once and the restore Workflow is started (restore-job.ts), its run returned.
 * A restore already running is never handed out as this one: a second one is refused (423).
 */
export async function requestRestore({ ctx, input }: { ctx: AppContext; input: RestoreInput }) {
  const { plan } = await planRestore({ ctx, input });
  if (input.dryRun) return { dryRun: true as const, plan };
  const started = await startJob({
    ctx,
    input: {
      kind: "restore",
      trigger: "manual",
      params: { id: input.id, target: input.target, tables: input.tables, force: input.force, confirm: input.confirm },
    },
  });
  if (!started.started)
    throw new KeeperError("LOCKED", `Restore job ${started.run.id} is running; try again when it finishes`, {
      extra: { run: started.run.id },
    });
  return { dryRun: false as const, run: started.run };
}
