import { constants, zstdCompressSync } from "node:zlib";
import { type Bookmark, takeTimeTravelBookmark } from "../migrations/time-travel";
import type { AppContext } from "../platform/context";
import { PAGE_QUERIES, PAGE_ROWS, pageDigest, pageTextDigest, readPage, readPageLines, tableDigest } from "./digest";
import { dumpColumns, introspect, quoteIdentifier, type TableInfo } from "./introspect";
import {
  BACKUP_PREFIX,
  MANIFEST_FORMAT,
  type Manifest,
  type ManifestObject,
  type ManifestTable,
  manifestKey,
  sequenceSql,
} from "./manifest";
import { ObjectWriter } from "./object-writer";
import { PARTS_TABLE, RESTORE_POSITION_TABLE, renderLines, renderPage } from "./sql-render";

export const BACKUP_JOB = "backups.create";
/** Pages per data object: bounds an object to ~250k rows. */
export const PAGES_PER_OBJECT = 50;
/**
 * Runtime state, not data: a restored lease would be wrong in its new home, and staged parts of a
 * long value and a restore's position are left over only by a restore that stopped half way.
 * Everything else is backed up.
 */
export const EXCLUDED_TABLES = ["keeper_leases", PARTS_TABLE, RESTORE_POSITION_TABLE];

const encoder = new TextEncoder();
/**
 * Input bytes per zstd frame. workerd's zstdCompressSync fails ("Unexpected end of file") once a
 * frame's output passes ~64 KB, and incompressible input can grow a little, so no frame is fed
 * more than 32 KB. Frames may cut a statement (or a UTF-8 character) anywhere; readers join them.
 */
export const FRAME_INPUT_BYTES = 32 * 1024;

export function zstdFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let start = 0; start < bytes.byteLength; start += FRAME_INPUT_BYTES) {
    const slice = bytes.subarray(start, start + FRAME_INPUT_BYTES);
    frames.push(new Uint8Array(zstdCompressSync(slice, { params: { [constants.ZSTD_c_compressionLevel]: 1 } })));
  }
  return frames;
}

/** A table to back up, with what the start of the backup saw of it. */
export interface SnapshotTable extends TableInfo {
  /** The largest rowid when the backup started (null: the table was empty); no row above it is read. */
  highWater: string | null;
  /** Its sqlite_sequence value when the backup started (AUTOINCREMENT tables), exact as text. */
  sequence: string | null;
}

/**
 * Where an unfinished backup stands, as plain JSON: the backup Workflow carries it from step to step
 * (backup-job.ts), so it stays O(tables). What grows with the data — each object's frame lengths and
 * each page's digest — is staged in R2 as each object completes (see `stagingKey`) and read back
 * when a table's digest and the manifest are written.
 */
export interface BackupCursor {
  id: string;
  startedAt: number;
  invocations: number;
  schemaVersion: string | null;
  bookmark: Bookmark;
  tables: SnapshotTable[];
  extras: string[];
  tableIndex: number;
  /** Last rowid written of the current table (null: none yet), exact as text. */
  afterRowid: string | null;
  rowsSoFar: number;
  /** Objects written so far, schema included: data objects are numbered by it. */
  objectCount: number;
  /** Data objects staged for each table, by table index. */
  stagedObjects: number[];
  /** Data objects of finished tables, staged in one list for the manifest. */
  finishedObjects: number;
  /** The schema, sequence and indexes objects: a few frames each. */
  textObjects: ManifestObject[];
  doneTables: ManifestTable[];
  schemaWritten: boolean;
}

/** A data object as staged: its manifest entry, the digests of the pages it holds and their rows. */
interface StagedObject {
  object: ManifestObject;
  pageDigests: string[];
  /** Absent in lists staged before pages could end early: every page then held PAGE_ROWS. */
  pageRows?: number[];
}

/**
 * Staged lists of an unfinished backup, under its own prefix (so prune removes them with it), and
 * deleted once the manifest is written: `table-NNNN.json` holds one table's data objects with their
 * page digests, `objects.json` the data objects of every finished table.
 */
export const stagingKey = (id: string, name: string) => `${BACKUP_PREFIX}${id}/staging/${name}.json`;
const tableStagingKey = (id: string, tableIndex: number) => stagingKey(id, `table-${String(tableIndex).padStart(4, "0")}`);

/**
 * A staged list, cut to the length the cursor counts: an attempt that failed after staging more is
 * retried from the cursor, and what it staged beyond it is written again.
 */
async function readStaged<T>(ctx: AppContext, key: string, count: number): Promise<T[]> {
  if (count === 0) return [];
  const object = await ctx.backups.get(key);
  if (!object) throw new Error(`the staged list ${key} of an unfinished backup is missing`);
  const list = (await object.json()) as T[];
  if (list.length < count) throw new Error(`the staged list ${key} holds ${list.length} entries, the backup counts ${count}`);
  return list.slice(0, count);
}

/**
 * What one more page costs at most: its SELECTs (as lines, and value by value when it must fall
 * back; see readDumpPage); R2 calls for a part upload and the object's end, the
 * table's staged list (read, write) and, when the table ends, the finished tables' list (read, write).
 */
export const PAGE_COST = { queries: PAGE_QUERIES, r2Calls: 6 };

/** What writing the manifest costs at most: the sequence and indexes objects, the staged list, the manifest, the clean-up. */
export const MANIFEST_COST = { queries: 0, r2Calls: 5 };

function backupId(now: Date): string {
  return `${now
    .toISOString()
    .replaceAll(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${crypto.randomUUID().slice(0, 4)}`;
}

/**
 * Reads what a backup will contain and where each table ends: every table's largest rowid and the
 * sqlite_sequence values, in one batch (one transaction, so one instant for all tables). Rows
 * added after this point are never read, so a child written during the backup cannot appear
 * without its parent.
 */
export async function startBackup(ctx: AppContext): Promise<BackupCursor> {
  const schema = await introspect(ctx.d1);
  const included = schema.tables.filter((table) => !EXCLUDED_TABLES.includes(table.name));
  const hasSequence = await ctx.d1
    .prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'")
    .first();
  const snapshot = await ctx.d1.batch<{ n: string | null }>([
    ...included.map((table) => ctx.d1.prepare(`SELECT quote(max(rowid)) AS n FROM ${quoteIdentifier(table.name)}`)),
    ctx.d1.prepare(
      hasSequence ? "SELECT json_group_object(name, CAST(seq AS TEXT)) AS n FROM sqlite_sequence" : "SELECT '{}' AS n",
    ),
  ]);
  const sequences = JSON.parse(snapshot[included.length].results[0]?.n ?? "{}") as Record<string, string>;
  const ledger = await ctx.d1
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'd1_migrations'")
    .first<{ name: string }>();
  const version = ledger
    ? await ctx.d1.prepare("SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1").first<{ name: string }>()
    : null;
  return {
    id: backupId(ctx.now()),
    startedAt: ctx.now().getTime(),
    invocations: 0,
    schemaVersion: version?.name ?? null,
    bookmark: await takeTimeTravelBookmark(ctx),
    tables: included.map((table, index) => {
      const highWater = snapshot[index].results[0]?.n ?? "NULL";
      const sequence = sequences[table.name] ?? null;
      return {
        ...table,
        highWater: highWater === "NULL" ? null : highWater,
        sequence: sequence !== null && /^-?\d+$/.test(sequence) ? sequence : null,
      };
    }),
    extras: schema.extras.filter(
      (sql) => !EXCLUDED_TABLES.some((name) => sql.includes(`\`${name}\``) || sql.includes(`"${name}"`)),
    ),
    tableIndex: 0,
    afterRowid: null,
    rowsSoFar: 0,
    objectCount: 0,
    stagedObjects: included.map(() => 0),
    finishedObjects: 0,
    textObjects: [],
    doneTables: [],
    schemaWritten: false,
  };
}

async function writeTextObject(ctx: AppContext, key: string, kind: ManifestObject["kind"], sql: string): Promise<ManifestObject> {
  const writer = new ObjectWriter(ctx.backups, key);
  const bytes = encoder.encode(sql);
  for (const frame of zstdFrames(bytes)) await writer.write(frame);
  const sha256 = await writer.finish();
  return {
    key,
    kind,
    table: null,
    rows: 0,
    bytes: writer.bytes,
    sql_bytes: bytes.byteLength,
    sha256,
    frames: writer.frames,
  };
}

/**
 * The next page of a table after `after` (up to its high-water mark) as statements, with its
 * digest; null when no row is left. Read as lines written by SQLite where it can be, else value
 * by value (text that is not valid UTF-8, a row that needs staging): the same statements and
 * digest either way.
 */
interface DumpPage {
  sql: string;
  digest: string;
  rows: number;
  lastRowid: string;
  /** It ended early, too wide for PAGE_ROWS rows: the table goes on. */
  cut: boolean;
}

/** A table's page_rows for its manifest entry: only when a page but the last holds fewer than PAGE_ROWS. */
function recordedPageRows(pageRows: number[]): { page_rows?: number[] } {
  return pageRows.slice(0, -1).some((rows) => rows !== PAGE_ROWS) ? { page_rows: pageRows } : {};
}

async function readDumpPage(
  d1: D1Database,
  table: SnapshotTable,
  columns: string[],
  after: string | null,
): Promise<DumpPage | null> {
  const bounds = { after, upTo: table.highWater };
  const lines = await readPageLines(d1, table, bounds);
  if (lines !== null) {
    if (lines.rows === 0 || lines.lastRowid === null) return null;
    const sql = renderLines(table.name, columns, lines.text);
    if (sql !== null)
      return { sql, digest: pageTextDigest(lines.text), rows: lines.rows, lastRowid: lines.lastRowid, cut: false };
  }
  const { rows, cut } = await readPage(d1, table, bounds, { shorten: true });
  if (rows.length === 0) return null;
  const { sql, lines: rowLines } = renderPage(table.name, columns, rows);
  return { sql, digest: pageDigest(rowLines), rows: rows.length, lastRowid: rows[rows.length - 1].rowid, cut };
}

/**
 * Advances the backup described by `cursor` until it is complete or `shouldStop(cost)` says so
 * (checked before each object, after each page, and before the manifest with MANIFEST_COST); returns
 * the manifest when complete, null otherwise (`save` has then stored where it stands). Each data
 * object is up to 50 pages of one table; pages are read in rowid order up to the table's high-water
 * mark, rendered as SQL, compressed in frames and streamed into the object. An object ends within
 * the call that began it; its entry and page digests are then staged in R2, not kept in the cursor.
 */
export async function advanceBackup(
  ctx: AppContext,
  cursor: BackupCursor,
  shouldStop: (cost?: { queries: number; r2Calls: number }) => boolean,
  save: (c: BackupCursor) => Promise<void>,
): Promise<Manifest | null> {
  const prefix = `${BACKUP_PREFIX}${cursor.id}/`;
  if (!cursor.schemaWritten) {
    const ddl = `PRAGMA defer_foreign_keys = on;\n${cursor.tables.map((table) => `${table.sql};\n`).join("")}`;
    cursor.textObjects.push(await writeTextObject(ctx, `${prefix}0000-schema.sql.zst`, "schema", ddl));
    cursor.objectCount++;
    cursor.schemaWritten = true;
    await save(cursor);
  }
  // The current table's staged objects, read once per call (on its first object or its end).
  let staged: StagedObject[] | null = null;
  const stagedOfTable = async () =>
    (staged ??= await readStaged<StagedObject>(
      ctx,
      tableStagingKey(cursor.id, cursor.tableIndex),
      cursor.stagedObjects[cursor.tableIndex],
    ));
  // The finished tables' objects, likewise read once per call.
  let finished: ManifestObject[] | null = null;
  const finishedObjects = async () =>
    (finished ??= await readStaged<ManifestObject>(ctx, stagingKey(cursor.id, "objects"), cursor.finishedObjects));
  while (cursor.tableIndex < cursor.tables.length) {
    if (shouldStop()) return null;
    const table = cursor.tables[cursor.tableIndex];
    const key = `${prefix}${String(cursor.objectCount).padStart(4, "0")}-${table.name}.sql.zst`;
    const writer = new ObjectWriter(ctx.backups, key);
    let rows = 0;
    let sqlBytes = 0;
    let finishedTable = false;
    const pageDigests: string[] = [];
    const pageRows: number[] = [];
    const columns = dumpColumns(table);
    const read = (after: string | null) =>
      table.highWater === null ? Promise.resolve(null) : readDumpPage(ctx.d1, table, columns, after);
    // The next page, asked for before this one is compressed and uploaded, so that D1 reads it
    // meanwhile; only while the step has room for two more pages, so a page read ahead never
    // passes the budget.
    let ahead: Promise<DumpPage | null> | null = null;
    for (let n = 0; n < PAGES_PER_OBJECT; n++) {
      const page = await (ahead ?? read(cursor.afterRowid));
      ahead = null;
      if (page === null) {
        finishedTable = true;
        break;
      }
      const tableGoesOn = page.rows === PAGE_ROWS || page.cut;
      if (
        tableGoesOn &&
        n + 1 < PAGES_PER_OBJECT &&
        !shouldStop({ queries: 2 * PAGE_COST.queries, r2Calls: 2 * PAGE_COST.r2Calls })
      ) {
        ahead = read(page.lastRowid);
        // Awaited by the next page; a step that fails first must not leave it unhandled.
        ahead.catch(() => {});
      }
      const bytes = encoder.encode(page.sql);
      for (const frame of zstdFrames(bytes)) await writer.write(frame);
      sqlBytes += bytes.byteLength;
      pageDigests.push(page.digest);
      pageRows.push(page.rows);
      rows += page.rows;
      cursor.afterRowid = page.lastRowid;
      if (!tableGoesOn) {
        finishedTable = true;
        break;
      }
      if (shouldStop()) break;
    }
    if (rows > 0) {
      const sha256 = await writer.finish();
      const list = await stagedOfTable();
      list.push({
        object: {
          key,
          kind: "data",
          table: table.name,
          rows,
          bytes: writer.bytes,
          sql_bytes: sqlBytes,
          sha256,
          frames: writer.frames,
          pages_sha256: tableDigest(pageDigests),
        },
        pageDigests,
        pageRows,
      });
      await ctx.backups.put(tableStagingKey(cursor.id, cursor.tableIndex), JSON.stringify(list), {
        httpMetadata: { contentType: "application/json" },
      });
      cursor.stagedObjects[cursor.tableIndex] = list.length;
      cursor.objectCount++;
      cursor.rowsSoFar += rows;
    }
    if (finishedTable) {
      const list = await stagedOfTable();
      if (list.length > 0) {
        const objects = await finishedObjects();
        objects.push(...list.map((entry) => entry.object));
        await ctx.backups.put(stagingKey(cursor.id, "objects"), JSON.stringify(objects), {
          httpMetadata: { contentType: "application/json" },
        });
        cursor.finishedObjects = objects.length;
      }
      cursor.doneTables.push({
        name: table.name,
        rows: cursor.rowsSoFar,
        sha256: tableDigest(list.flatMap((entry) => entry.pageDigests)),
        ...recordedPageRows(list.flatMap((entry) => entry.pageRows ?? entry.pageDigests.map(() => PAGE_ROWS))),
        columns: table.columns,
        rowid_alias: table.rowidAlias,
        parents: table.parents,
        high_water: table.highWater,
        sequence: table.sequence,
      });
      cursor.tableIndex++;
      cursor.afterRowid = null;
      cursor.rowsSoFar = 0;
      staged = null;
    }
    await save(cursor);
  }
  if (shouldStop(MANIFEST_COST)) return null;
  if (!cursor.textObjects.some((object) => object.kind === "sequence")) {
    cursor.textObjects.push(
      await writeTextObject(ctx, `${prefix}9998-sqlite_sequence.sql.zst`, "sequence", sequenceSql(cursor.doneTables)),
    );
    await save(cursor);
  }
  if (!cursor.textObjects.some((object) => object.kind === "extras")) {
    cursor.textObjects.push(
      await writeTextObject(ctx, `${prefix}9999-indexes.sql.zst`, "extras", cursor.extras.map((sql) => `${sql};\n`).join("")),
    );
    await save(cursor);
  }
  const textOf = (kind: ManifestObject["kind"]) => cursor.textObjects.filter((object) => object.kind === kind);
  const objects = [...textOf("schema"), ...(await finishedObjects()), ...textOf("sequence"), ...textOf("extras")];
  const finishedAt = ctx.now().getTime();
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    id: cursor.id,
    created_at: new Date(cursor.startedAt).toISOString(),
    finished_at: new Date(finishedAt).toISOString(),
    duration_ms: finishedAt - cursor.startedAt,
    invocations: cursor.invocations,
    schema_version: cursor.schemaVersion,
    bookmark: cursor.bookmark,
    compression: "zstd",
    tables: cursor.doneTables,
    objects,
    totals: {
      rows: cursor.doneTables.reduce((sum, t) => sum + t.rows, 0),
      bytes: objects.reduce((sum, o) => sum + o.bytes, 0),
      sql_bytes: objects.reduce((sum, o) => sum + o.sql_bytes, 0),
    },
    excluded_tables: EXCLUDED_TABLES,
    restore_hint: `keeper backup download ${cursor.id} && zstd -d ${cursor.id}.sql.zst && npx wrangler d1 execute DB --local|--remote --file ${cursor.id}.sql (an empty database; add --data-only to download for one that wrangler d1 migrations apply created)`,
  };
  // Last and create-only: a backup exists (for list, restore, prune) exactly when this object does.
  const written = await ctx.backups.put(manifestKey(cursor.id), JSON.stringify(manifest, null, 2), {
    onlyIf: new Headers({ "If-None-Match": "*" }),
    httpMetadata: { contentType: "application/json" },
  });
  if (!written) throw new Error(`a manifest for backup ${cursor.id} already exists`);
  // The staged lists have served; any left behind (a failed delete) go when prune deletes the backup.
  const stagingKeys = [
    stagingKey(cursor.id, "objects"),
    ...cursor.stagedObjects.flatMap((count, index) => (count > 0 ? [tableStagingKey(cursor.id, index)] : [])),
  ];
  await ctx.backups.delete(stagingKeys).catch((error: unknown) =>
    ctx.logger.warn("staged lists of a finished backup were not deleted", {
      backup: cursor.id,
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  return manifest;
}
