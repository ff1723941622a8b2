import { NonRetryableError } from "cloudflare:workflows";
import { BudgetExhausted } from "../maintenance/budget";
import type { JobDefinition, JobSlice, StepContext } from "../maintenance/job-runtime";
import { acquireLease, releaseLease, renewLease } from "../maintenance/lease";
import { addPhaseTime, type PhaseTimes, phaseTimeCounts } from "../maintenance/phase-times";
import type { RunCounts } from "../maintenance/runs";
import { scratchLeaseName } from "../migrations/round-trip.service";
import { recordAudit } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { type BackupJobState, backupJobDefinition } from "./backup-job";
import { digestPage, PAGE_QUERIES, pageLimit } from "./digest";
import { quoteIdentifier } from "./introspect";
import { type Manifest, manifestKey, sequenceSql } from "./manifest";
import { OBJECT_START, objectStatements, type StatementPosition } from "./object-statements";
import { existingRows, planRestore, type RestoreTarget, restorableTables } from "./restore.service";
import { PARTS_TABLE, RESTORE_POSITION_TABLE } from "./sql-render";
import {
  checkObject,
  dataObjectsOf,
  emptyTally,
  nextPageIndex,
  type PageTally,
  type TableTally,
  tableProblems,
  tallyPage,
  tallyProblems,
} from "./verify.service";

/**
 * A restore as a long job, in phases that each run over as many steps as they need:
 *
 *   check   every selected object read once (sha256, frames, every value against the digests);
 *           nothing is written anywhere, so a bad backup is refused with the target untouched
 *   safety  (target main) a backup of main as it is, driven through the backup job's own slices
 *   schema  one batch: the tables replaced are dropped and created again
 *   data    the rows, in batches of whole statements; each batch records the position after it
 *           in the target (RESTORE_POSITION_TABLE) in the same transaction, so a step that runs
 *           again resumes from what was committed, never inserting a row twice
 *   tables  sqlite_sequence, indexes, triggers and views, in one batch
 *   verify  every table's digest and rows from the target against the manifest, then
 *           PRAGMA foreign_key_check
 *
 * A failure the job catches in schema, data or tables (a statement refused, D1 gone for a while)
 * is retried by the next steps a few times; after that a restore into main applies the safety
 * backup the same way (schema, data, tables, verify) and fails the run saying so. The safety
 * backup's id is written into the run record as soon as that backup is complete, so even a run
 * killed outright names the database it replaced.
 */

export const RESTORE_JOB = "backups.restore";

export interface RestoreJobInput {
  id: string;
  target: RestoreTarget;
  tables?: string[];
  force: boolean;
  confirm: boolean;
}

type Phase = "check" | "safety" | "schema" | "data" | "tables" | "verify" | "done";

/** The backup being applied: the one asked for, or the safety backup while rolling back. */
interface Source {
  id: string;
  /** The manifest read at the start; every step reads it again only if it is unchanged. */
  manifestEtag: string;
  names: string[];
  /** Tables dropped first (children before parents); null until the rollback has looked. */
  drops: string[] | null;
  present: string[];
  /** Object index → the etag the check read it with (null: not checked, read as it is). */
  etags: Record<number, string>;
}

export interface RestoreState {
  input: RestoreJobInput;
  /** Marks the position rows this run writes into the target. */
  token: string;
  mode: "restore" | "rollback";
  phase: Phase;
  source: Source;
  check: { object: number; table: string | null; tally: TableTally; closed: string[]; problems: string[] };
  safety: BackupJobState | null;
  safetyId: string | null;
  position: { object: number; at: StatementPosition };
  rowsWritten: number;
  /** Where verify stands: the current table's tally (see PageTally) and what it found so far. */
  verify: PageTally & {
    table: number;
    after: string | null;
    mismatches: string[];
    foreignKeyViolations: number;
  };
  /**
   * Milliseconds each phase's steps took (a rollback's phases as `rollback_<phase>`): what the run
   * record reports as `<phase>_ms`, so an operator sees where a restore spent its time.
   */
  phaseMs?: PhaseTimes;
  /** Consecutive failures of the current unit of work (reset by every unit that succeeds). */
  failures: number;
  error: string | null;
  outcome: "restored" | "rolled_back" | null;
}

/** Attempts at one unit of schema, data or tables before the restore gives up (and rolls back). */
export const UNIT_ATTEMPTS = 3;
/**
 * SQL per data batch (one D1 query, one transaction). Statements are ≤ 100 KB each; a batch of
 * about 2 MB takes a twentieth of the round trips the old ten-statement batches did.
 */
export const BATCH_BYTES = 2_000_000;

const targetOf = (ctx: AppContext, target: RestoreTarget) => (target === "main" ? ctx.d1 : ctx.env.SCRATCH_DB);
/**
 * The statement without its final ";" (and the whitespace after it), looked at from the end: a
 * regular expression like `/;\s*$/` scans the whole of every 100 KB INSERT a restore applies.
 */
function withoutSemicolon(statement: string): string {
  const end = statement.trimEnd();
  return end.endsWith(";") ? end.slice(0, -1) : end;
}
const tableNameOf = (sql: string, pattern: RegExp) => pattern.exec(sql)?.[1] ?? null;
const createdTable = (sql: string) => tableNameOf(sql, /^CREATE TABLE\s+[`"[]?([^`"\]\s(]+)/i);
const indexedTable = (sql: string) => tableNameOf(sql, /\bON\s+[`"[]?([^`"\]\s(]+)/i);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The source's manifest, provided it is still the one the restore started with. */
async function loadManifest(ctx: AppContext, source: Pick<Source, "id" | "manifestEtag">): Promise<Manifest> {
  const stored = await ctx.backups.get(manifestKey(source.id), { onlyIf: { etagMatches: source.manifestEtag } });
  if (!stored || !("body" in stored))
    throw new NonRetryableError(`the manifest of backup ${source.id} changed or went away during the restore`);
  return (await stored.json()) as Manifest;
}

async function openManifest(ctx: AppContext, id: string): Promise<{ manifest: Manifest; etag: string }> {
  const stored = await ctx.backups.get(manifestKey(id));
  if (!stored) throw new NonRetryableError(`backup ${id} has no manifest`);
  return { manifest: (await stored.json()) as Manifest, etag: stored.etag };
}

async function auditRestore(ctx: AppContext, state: RestoreState, detail: Record<string, unknown>) {
  const entry = {
    action: "backups.restore",
    target: state.input.id,
    detail: { into: state.input.target, tables: state.source.names, dropped: state.source.drops ?? [], ...detail },
  };
  await recordAudit(ctx, entry).catch(() => recordAudit(ctx, entry));
}

/** The selected data objects of the manifest, by index, in order. */
const dataObjects = (manifest: Manifest, names: Set<string>) =>
  manifest.objects.flatMap((object, index) => (object.kind === "data" && object.table && names.has(object.table) ? [index] : []));

function sliceOf(state: RestoreState): JobSlice<RestoreState> {
  const phases: Phase[] = ["check", "safety", "schema", "data", "tables", "verify", "done"];
  const what =
    state.mode === "rollback"
      ? `rolling back to safety backup ${state.safetyId}: ${state.phase}`
      : `restore ${state.input.id}: ${state.phase}`;
  return {
    state,
    done: state.phase === "done",
    progress: { done: phases.indexOf(state.phase), total: phases.length - 1, unit: "phases", phase: what },
    record: {
      backup: state.input.id,
      target: state.input.target,
      safety_backup: state.safetyId,
      rows_written: state.rowsWritten,
      ...(state.mode === "rollback" ? { rolling_back: true, error: state.error } : {}),
      ...phaseTimeCounts(state.phaseMs),
    },
  };
}

const phaseKey = (state: Pick<RestoreState, "mode" | "phase">) =>
  state.mode === "rollback" ? `rollback_${state.phase}` : state.phase;

/** Adds the time since `startedAt` to the phase a step worked in. */
function countPhaseTime(ctx: AppContext, state: RestoreState, key: string, startedAt: number) {
  state.phaseMs ??= {};
  addPhaseTime(state.phaseMs, key, startedAt, ctx.now().getTime());
}

/** Reads objects (one R2 read each) while the step has room; closes each table with its last object. */
async function checkSome(ctx: StepContext, state: RestoreState): Promise<void> {
  const manifest = await loadManifest(ctx, state.source);
  const names = new Set(state.source.names);
  const check = state.check;
  while (check.object < manifest.objects.length && ctx.meter.hasRoom({ r2Calls: 1 })) {
    const index = check.object;
    const object = manifest.objects[index];
    check.object++;
    if (object.table && !names.has(object.table)) continue;
    if (object.kind === "data" && object.table !== check.table) {
      closeTable(manifest, check);
      check.table = object.table;
    }
    const checked = await checkObject(ctx, manifest, object, object.kind === "data" ? check.tally : null);
    check.problems.push(...checked.problems);
    if (checked.etag) state.source.etags[index] = checked.etag;
    // A table's objects are consecutive: after its last one, its partial last page (up to 4,999
    // lines) is digested now, not carried in the state to the next step.
    const next = manifest.objects[check.object];
    if (object.kind === "data" && (next?.kind !== "data" || next.table !== object.table)) closeTable(manifest, check);
  }
  if (check.object < manifest.objects.length) return;
  closeTable(manifest, check);
  for (const table of manifest.tables)
    if (names.has(table.name) && !check.closed.includes(table.name))
      check.problems.push(...tableProblems(manifest, table, emptyTally()));
  if (check.problems.length > 0) {
    await auditRestore(ctx, state, { dropped: [], outcome: "refused", problems: check.problems });
    throw new NonRetryableError(
      `Backup ${state.input.id} failed its checks; the target was not touched: ${check.problems.join("; ").slice(0, 1500)}`,
    );
  }
  state.phase = state.input.target === "main" ? "safety" : "schema";
}

function closeTable(manifest: Manifest, check: RestoreState["check"]) {
  if (check.table === null) return;
  const table = manifest.tables.find((t) => t.name === check.table);
  if (table) check.problems.push(...tableProblems(manifest, table, check.tally));
  check.closed.push(check.table);
  check.table = null;
  check.tally = emptyTally();
}

/** The safety backup: the backup job's own begin/advance/finish, one advance per step. */
async function safetySome(ctx: StepContext, state: RestoreState): Promise<void> {
  try {
    if (!state.safety) {
      state.safety = (await backupJobDefinition.begin({ ctx, input: { requestedAt: ctx.now().getTime() } })).state;
      return;
    }
    const slice = await backupJobDefinition.advance({ ctx, state: state.safety });
    state.safety = slice.state;
    if (!slice.done) return;
    const counts = await backupJobDefinition.finish({ ctx, state: state.safety });
    state.safetyId = String(counts.backup);
    state.safety = null;
    state.phase = "schema";
  } catch (error) {
    await auditRestore(ctx, state, { dropped: [], outcome: "not_started", error: messageOf(error) });
    throw new NonRetryableError(`The safety backup failed (${messageOf(error)}); the main database was not touched`);
  }
}

/** The position this run last committed into the target, if the target has one. */
async function committedPosition(target: D1Database, token: string) {
  const table = await target
    .prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?")
    .bind(RESTORE_POSITION_TABLE)
    .first();
  if (!table) return null;
  return target
    .prepare(`SELECT object, frame, "offset", rows FROM "${RESTORE_POSITION_TABLE}" WHERE token = ?`)
    .bind(token)
    .first<{ object: number; frame: number; offset: number; rows: number }>();
}

function positionStatement(target: D1Database, state: RestoreState) {
  return target
    .prepare(`UPDATE "${RESTORE_POSITION_TABLE}" SET object = ?, frame = ?, "offset" = ?, rows = ? WHERE token = ?`)
    .bind(state.position.object, state.position.at.frame, state.position.at.offset, state.rowsWritten, state.token);
}

/** Drops what is replaced and creates the tables, with the position table, in one transaction. */
async function applySchema(ctx: StepContext, state: RestoreState, manifest: Manifest, target: D1Database) {
  const names = new Set(state.source.names);
  if (state.source.drops === null) {
    state.source.present = (await existingRows(target, state.source.names)).map((table) => table.name);
    state.source.drops = [...state.source.present].reverse();
  }
  const { drops, present } = { drops: state.source.drops, present: state.source.present };
  const statements: D1PreparedStatement[] = [...drops, PARTS_TABLE, RESTORE_POSITION_TABLE].map((name) =>
    target.prepare(`DROP TABLE IF EXISTS ${quoteIdentifier(name)}`),
  );
  for (const [index, object] of manifest.objects.entries()) {
    if (object.kind !== "schema") continue;
    for await (const { sql } of objectStatements(ctx, object, state.source.etags[index] ?? null, OBJECT_START)) {
      const table = createdTable(sql);
      if (table && names.has(table) && (drops.includes(table) || !present.includes(table)))
        statements.push(target.prepare(withoutSemicolon(sql)));
    }
  }
  const [first] = dataObjects(manifest, names);
  state.position = { object: first ?? manifest.objects.length, at: OBJECT_START };
  state.rowsWritten = 0;
  statements.push(
    target.prepare(
      `CREATE TABLE "${RESTORE_POSITION_TABLE}" (token TEXT PRIMARY KEY, object INTEGER NOT NULL, frame INTEGER NOT NULL, "offset" INTEGER NOT NULL, rows INTEGER NOT NULL)`,
    ),
    target
      .prepare(`INSERT INTO "${RESTORE_POSITION_TABLE}" (token, object, frame, "offset", rows) VALUES (?, ?, 0, 0, 0)`)
      .bind(state.token, state.position.object),
  );
  await target.batch(statements);
  state.phase = "data";
}

/** One batch of rows: whole statements from the position on, up to BATCH_BYTES, and the position after them. */
async function applyBatch(ctx: StepContext, state: RestoreState, manifest: Manifest, target: D1Database) {
  const objects = dataObjects(manifest, new Set(state.source.names));
  const batch: D1PreparedStatement[] = [target.prepare("PRAGMA defer_foreign_keys = on")];
  let bytes = 0;
  let rows = 0;
  // Each object the batch reads from is one R2 call; the batch itself one query.
  while (
    bytes < BATCH_BYTES &&
    state.position.object < manifest.objects.length &&
    ctx.meter.hasRoom({ queries: 1, r2Calls: 1 })
  ) {
    const index = state.position.object;
    for await (const statement of objectStatements(
      ctx,
      manifest.objects[index],
      state.source.etags[index] ?? null,
      state.position.at,
    )) {
      batch.push(target.prepare(withoutSemicolon(statement.sql)));
      bytes += statement.sql.length;
      rows += countRows(statement.sql);
      state.position.at = statement.next;
      if (bytes >= BATCH_BYTES) break;
    }
    if (bytes < BATCH_BYTES || state.position.at.frame >= manifest.objects[index].frames.length) {
      state.position = { object: objects.find((next) => next > index) ?? manifest.objects.length, at: OBJECT_START };
    }
  }
  state.rowsWritten += rows;
  await target.batch([...batch, positionStatement(target, state)]);
  if (state.position.object >= manifest.objects.length) state.phase = "tables";
}

/** Rows a statement inserts: one per VALUES line, one per staged INSERT … SELECT. */
function countRows(sql: string): number {
  if (sql.startsWith(`INSERT INTO "${PARTS_TABLE}"`) || !sql.startsWith("INSERT INTO")) return 0;
  let rows = 0;
  for (let at = sql.indexOf("\n("); at !== -1; at = sql.indexOf("\n(", at + 1)) rows++;
  return rows === 0 ? 1 : rows;
}

/** sqlite_sequence, indexes, triggers and views of the restored tables; the position table goes. */
async function applyTables(ctx: StepContext, state: RestoreState, manifest: Manifest, target: D1Database) {
  const names = new Set(state.source.names);
  const statements = sequenceSql(manifest.tables.filter((table) => names.has(table.name)))
    .split("\n")
    .filter((line) => line.length > 0)
    .map((statement) => target.prepare(withoutSemicolon(statement)));
  for (const [index, object] of manifest.objects.entries()) {
    if (object.kind !== "extras") continue;
    for await (const { sql } of objectStatements(ctx, object, state.source.etags[index] ?? null, OBJECT_START)) {
      const table = indexedTable(sql);
      if (table && names.has(table))
        statements.push(
          target.prepare(
            withoutSemicolon(sql)
              .replace(/^CREATE (UNIQUE )?INDEX /i, "CREATE $1INDEX IF NOT EXISTS ")
              .replace(/^CREATE TRIGGER /i, "CREATE TRIGGER IF NOT EXISTS ")
              .replace(/^CREATE VIEW /i, "CREATE VIEW IF NOT EXISTS "),
          ),
        );
    }
  }
  statements.push(target.prepare(`DROP TABLE IF EXISTS "${RESTORE_POSITION_TABLE}"`));
  await target.batch(statements);
  state.phase = "verify";
  state.verify = freshVerify();
}

/**
 * One unit of schema, data or tables. A failure is caught: the state goes back to where the unit
 * started (its writes were one transaction, so nothing of it was kept) and the next step tries
 * again; after UNIT_ATTEMPTS failures in a row the restore gives up.
 */
async function applySome(ctx: StepContext, state: RestoreState): Promise<RestoreState> {
  const target = targetOf(ctx, state.input.target);
  const manifest = await loadManifest(ctx, state.source);
  // What the target committed is the truth: a step that runs again after its batch was written
  // (its result lost) continues after that batch, not before it — and never creates twice.
  const committed = await committedPosition(target, state.token);
  if (committed) {
    state.position = { object: committed.object, at: { frame: committed.frame, offset: committed.offset } };
    state.rowsWritten = committed.rows;
    state.phase = committed.object >= manifest.objects.length ? "tables" : "data";
  } else if (state.phase === "data") {
    throw new NonRetryableError(
      `the restore's position in the ${state.input.target} database is gone; another restore replaced it`,
    );
  }
  let current = state;
  const phase = current.phase;
  while (current.phase === phase && ctx.meter.hasRoom({ queries: 2, r2Calls: 2 })) {
    const before = JSON.stringify(current);
    try {
      if (current.phase === "schema") await applySchema(ctx, current, manifest, target);
      else if (current.phase === "data") await applyBatch(ctx, current, manifest, target);
      else await applyTables(ctx, current, manifest, target);
      current.failures = 0;
    } catch (error) {
      // Out of budget is not the target failing: the run fails as any job that misjudged a unit does.
      if (error instanceof NonRetryableError || error instanceof BudgetExhausted) throw error;
      current = JSON.parse(before) as RestoreState;
      current.failures++;
      ctx.logger.warn("restore unit failed", { phase: current.phase, attempt: current.failures, error: messageOf(error) });
      if (current.failures >= UNIT_ATTEMPTS) return giveUp(ctx, current, messageOf(error));
      return current;
    }
  }
  return current;
}

/** The restore could not go on: into main, the safety backup is applied; anywhere else the run fails. */
async function giveUp(ctx: StepContext, state: RestoreState, reason: string): Promise<RestoreState> {
  if (state.mode === "rollback") {
    await auditRestore(ctx, state, {
      outcome: "failed",
      error: state.error,
      safety_backup: state.safetyId,
      rollback_error: reason,
    });
    throw new NonRetryableError(
      `Restoring ${state.input.id} failed (${state.error}) and so did restoring safety backup ${state.safetyId} (${reason}); run: keeper backup restore ${state.safetyId} --target main --force`,
    );
  }
  if (!state.safetyId) {
    await auditRestore(ctx, state, { outcome: "failed", error: reason });
    throw new NonRetryableError(`Restoring ${state.input.id} into ${state.input.target} failed: ${reason}`);
  }
  const { manifest, etag } = await openManifest(ctx, state.safetyId);
  return {
    ...state,
    mode: "rollback",
    phase: "schema",
    error: reason,
    failures: 0,
    token: crypto.randomUUID(),
    source: {
      id: manifest.id,
      manifestEtag: etag,
      names: restorableTables(manifest.tables, "main").map((t) => t.name),
      drops: null,
      present: [],
      etags: {},
    },
  };
}

const freshVerify = (): RestoreState["verify"] => ({
  table: 0,
  after: null,
  rows: 0,
  pageDigests: [],
  pages: 0,
  object: 0,
  objectRows: 0,
  mismatches: [],
  foreignKeyViolations: 0,
});

/** Digests tables of the target page by page while the step has room, then checks foreign keys. */
async function verifySome(ctx: StepContext, state: RestoreState): Promise<void> {
  const manifest = await loadManifest(ctx, state.source);
  const names = new Set(state.source.names);
  const tables = manifest.tables.filter((table) => names.has(table.name));
  const target = targetOf(ctx, state.input.target);
  const v = state.verify;
  while (v.table < tables.length && ctx.meter.hasRoom({ queries: PAGE_QUERIES + 1 })) {
    const table = tables[v.table];
    const objects = dataObjectsOf(manifest, table.name);
    const limit = pageLimit(table.page_rows, nextPageIndex(v));
    const page = await digestPage(
      target,
      { name: table.name, columns: table.columns, rowidAlias: table.rowid_alias },
      { after: v.after, upTo: null },
      { limit },
    );
    if (page.rows > 0) {
      v.rows += page.rows;
      v.after = page.lastRowid;
      if (tallyPage(v, page.digest, page.rows, objects) !== null && !v.mismatches.includes(table.name))
        v.mismatches.push(table.name);
    }
    if (page.rows < limit) {
      if (tallyProblems(table, v, objects).length > 0 && !v.mismatches.includes(table.name)) v.mismatches.push(table.name);
      Object.assign(v, { ...freshVerify(), table: v.table + 1, mismatches: v.mismatches });
    }
  }
  if (v.table < tables.length || !ctx.meter.hasRoom({ queries: 2 })) return;
  const { results } = await target.prepare("PRAGMA foreign_key_check").all();
  v.foreignKeyViolations = results.length;
  const verified = v.mismatches.length === 0 && v.foreignKeyViolations === 0;
  if (state.mode === "rollback") {
    await auditRestore(ctx, state, { outcome: "rolled_back", error: state.error, safety_backup: state.safetyId, verified });
    state.outcome = "rolled_back";
  } else {
    await auditRestore(ctx, state, {
      outcome: "restored",
      verified,
      safety_backup: state.safetyId,
      foreign_key_violations: v.foreignKeyViolations,
    });
    state.outcome = "restored";
  }
  state.phase = "done";
}

/**
 * One step works in one phase. A step that fails outside what a phase catches is run again from
 * the state it started with; ending the step where a phase ends keeps what that phase did (a
 * safety backup written, a check passed) from being done again in the retry.
 */
async function advanceRestore(ctx: StepContext, state: RestoreState): Promise<RestoreState> {
  if (state.phase === "check") await checkSome(ctx, state);
  else if (state.phase === "safety") await safetySome(ctx, state);
  else if (state.phase === "verify") await verifySome(ctx, state);
  else if (state.phase !== "done") return applySome(ctx, state);
  return state;
}

/** The hint a failed restore's record carries: where the database it replaced is. */
export function safetyHint(record: RunCounts | null): string | null {
  const safety = record?.safety_backup;
  return typeof safety === "string"
    ? `restore failed; the database before it is in backup ${safety}: keeper backup restore ${safety} --target main --force`
    : null;
}

/**
 * SCRATCH_DB is shared with the migration round-trip test and the drill: a restore into it holds
 * the `scratch-db` lease, taken at the start, renewed by every step, given back at the end (or
 * when the restore stops for good; a run killed outright leaves it to expire).
 */
const scratchHolder = (state: Pick<RestoreState, "token">) => `restore:${state.token}`;
const SCRATCH_LEASE_MS = 15 * 60_000;

async function keepScratchLease(ctx: AppContext, state: RestoreState, first: boolean) {
  if (state.input.target !== "scratch") return;
  const input = { name: scratchLeaseName, holder: scratchHolder(state), ttlMs: SCRATCH_LEASE_MS };
  const held = first ? await acquireLease({ ctx, input }) : await renewLease({ ctx, input });
  if (!held)
    throw new NonRetryableError(
      `SCRATCH_DB is in use (the ${scratchLeaseName} lease is held by a migration round-trip test or another restore); try again when it is free`,
    );
}

async function giveScratchLeaseBack(ctx: AppContext, state: RestoreState) {
  if (state.input.target !== "scratch") return;
  await releaseLease({ ctx, input: { name: scratchLeaseName, holder: scratchHolder(state) } }).catch(() => {});
}

/** Runs `work`; a failure that ends the restore gives the scratch lease back first. */
async function stoppingCleanly<T>(ctx: AppContext, state: RestoreState, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof NonRetryableError || error instanceof BudgetExhausted) await giveScratchLeaseBack(ctx, state);
    throw error;
  }
}

export const restoreJobDefinition: JobDefinition<RestoreJobInput, RestoreState> = {
  kind: "restore",
  job: RESTORE_JOB,
  async begin({ ctx, input }) {
    // The plan again, in the job: the target may have changed since the request was answered.
    const planned = await planRestore({ ctx, input: { ...input, dryRun: false } }).catch((error: unknown) => {
      throw error instanceof KeeperError ? new NonRetryableError(error.message) : error;
    });
    const { etag } = await openManifest(ctx, input.id);
    const state: RestoreState = {
      input,
      token: crypto.randomUUID(),
      mode: "restore",
      phase: "check",
      source: {
        id: input.id,
        manifestEtag: etag,
        names: planned.plan.tables.map((table) => table.name),
        drops: planned.plan.drops,
        present: planned.present,
        etags: {},
      },
      check: { object: 0, table: null, tally: emptyTally(), closed: [], problems: [] },
      safety: null,
      safetyId: null,
      position: { object: 0, at: OBJECT_START },
      rowsWritten: 0,
      verify: freshVerify(),
      phaseMs: {},
      failures: 0,
      error: null,
      outcome: null,
    };
    await keepScratchLease(ctx, state, true);
    const startedAt = ctx.now().getTime();
    await stoppingCleanly(ctx, state, () => checkSome(ctx, state));
    countPhaseTime(ctx, state, "check", startedAt);
    return sliceOf(state);
  },
  async advance({ ctx, state }) {
    await keepScratchLease(ctx, state, false);
    const [key, startedAt] = [phaseKey(state), ctx.now().getTime()];
    const next = await stoppingCleanly(ctx, state, () => advanceRestore(ctx, state));
    countPhaseTime(ctx, next, key, startedAt);
    return sliceOf(next);
  },
  async finish({ ctx, state }) {
    await giveScratchLeaseBack(ctx, state);
    const verified = state.verify.mismatches.length === 0 && state.verify.foreignKeyViolations === 0;
    if (state.outcome === "rolled_back")
      throw new NonRetryableError(
        `Restoring ${state.input.id} failed (${state.error}); the main database was restored from safety backup ${state.safetyId}${verified ? " and verified" : ", but differs from it"}`,
      );
    if (!verified) {
      const problems = [
        state.verify.mismatches.length > 0 ? `${state.verify.mismatches.join(", ")} differ from the manifest` : null,
        state.verify.foreignKeyViolations > 0 ? `${state.verify.foreignKeyViolations} foreign key violation(s)` : null,
      ].filter(Boolean);
      throw new NonRetryableError(`Restored ${state.input.id} into ${state.input.target}, but ${problems.join(" and ")}`);
    }
    return {
      backup: state.input.id,
      target: state.input.target,
      tables: state.source.names.length,
      rows: state.rowsWritten,
      verified: true,
      foreign_key_violations: 0,
      safety_backup: state.safetyId,
      ...phaseTimeCounts(state.phaseMs),
    };
  },
  failureHint: safetyHint,
};
