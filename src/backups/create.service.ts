import { constants, zstdCompressSync } from "node:zlib";
import { type Bookmark, takeTimeTravelBookmark } from "../migrations/time-travel";
import type { AppContext } from "../platform/context";
import { PAGE_ROWS, pageDigest, readPage, tableDigest } from "./digest";
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
import { PARTS_TABLE, RESTORE_POSITION_TABLE, renderPage } from "./sql-render";

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

/** Where an unfinished backup stands, as plain JSON: the backup Workflow carries it from step to step (backup-job.ts). */
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
  pageDigests: string[];
  objects: ManifestObject[];
  doneTables: ManifestTable[];
  schemaWritten: boolean;
}

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
    pageDigests: [],
    objects: [],
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
 * Advances the backup described by `cursor` until it is complete or `shouldStop()` says so (checked
 * before each object and after each page); returns the manifest when complete, null otherwise
 * (`save` has then stored where it stands). Each data object is up to 50 pages of one table; pages
 * are read in rowid order up to the table's high-water mark, rendered as SQL, compressed in frames
 * and streamed into the object.
 */
export async function advanceBackup(
  ctx: AppContext,
  cursor: BackupCursor,
  shouldStop: () => boolean,
  save: (c: BackupCursor) => Promise<void>,
): Promise<Manifest | null> {
  const prefix = `${BACKUP_PREFIX}${cursor.id}/`;
  if (!cursor.schemaWritten) {
    const ddl = `PRAGMA defer_foreign_keys = on;\n${cursor.tables.map((table) => `${table.sql};\n`).join("")}`;
    cursor.objects.push(await writeTextObject(ctx, `${prefix}0000-schema.sql.zst`, "schema", ddl));
    cursor.schemaWritten = true;
    await save(cursor);
  }
  while (cursor.tableIndex < cursor.tables.length) {
    if (shouldStop()) return null;
    const table = cursor.tables[cursor.tableIndex];
    const key = `${prefix}${String(cursor.objects.length).padStart(4, "0")}-${table.name}.sql.zst`;
    const writer = new ObjectWriter(ctx.backups, key);
    let rows = 0;
    let sqlBytes = 0;
    let finishedTable = false;
    const columns = dumpColumns(table);
    for (let page = 0; page < PAGES_PER_OBJECT; page++) {
      const raw =
        table.highWater === null ? [] : await readPage(ctx.d1, table, { after: cursor.afterRowid, upTo: table.highWater });
      if (raw.length === 0) {
        finishedTable = true;
        break;
      }
      const { sql, lines } = renderPage(table.name, columns, raw);
      const bytes = encoder.encode(sql);
      for (const frame of zstdFrames(bytes)) await writer.write(frame);
      sqlBytes += bytes.byteLength;
      cursor.pageDigests.push(pageDigest(lines));
      rows += raw.length;
      cursor.afterRowid = raw[raw.length - 1].rowid;
      if (raw.length < PAGE_ROWS) {
        finishedTable = true;
        break;
      }
      if (shouldStop()) break;
    }
    if (rows > 0) {
      const sha256 = await writer.finish();
      cursor.objects.push({
        key,
        kind: "data",
        table: table.name,
        rows,
        bytes: writer.bytes,
        sql_bytes: sqlBytes,
        sha256,
        frames: writer.frames,
      });
      cursor.rowsSoFar += rows;
    }
    if (finishedTable) {
      cursor.doneTables.push({
        name: table.name,
        rows: cursor.rowsSoFar,
        sha256: tableDigest(cursor.pageDigests),
        columns: table.columns,
        rowid_alias: table.rowidAlias,
        parents: table.parents,
        high_water: table.highWater,
        sequence: table.sequence,
      });
      cursor.tableIndex++;
      cursor.afterRowid = null;
      cursor.rowsSoFar = 0;
      cursor.pageDigests = [];
    }
    await save(cursor);
  }
  if (!cursor.objects.some((object) => object.kind === "sequence")) {
    cursor.objects.push(
      await writeTextObject(ctx, `${prefix}9998-sqlite_sequence.sql.zst`, "sequence", sequenceSql(cursor.doneTables)),
    );
    await save(cursor);
  }
  if (!cursor.objects.some((object) => object.kind === "extras")) {
    cursor.objects.push(
      await writeTextObject(ctx, `${prefix}9999-indexes.sql.zst`, "extras", cursor.extras.map((sql) => `${sql};\n`).join("")),
    );
    await save(cursor);
  }
  const finished = ctx.now().getTime();
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    id: cursor.id,
    created_at: new Date(cursor.startedAt).toISOString(),
    finished_at: new Date(finished).toISOString(),
    duration_ms: finished - cursor.startedAt,
    invocations: cursor.invocations,
    schema_version: cursor.schemaVersion,
    bookmark: cursor.bookmark,
    compression: "zstd",
    tables: cursor.doneTables,
    objects: cursor.objects,
    totals: {
      rows: cursor.doneTables.reduce((sum, t) => sum + t.rows, 0),
      bytes: cursor.objects.reduce((sum, o) => sum + o.bytes, 0),
      sql_bytes: cursor.objects.reduce((sum, o) => sum + o.sql_bytes, 0),
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
  return manifest;
}
