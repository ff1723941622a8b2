import { constants, zstdCompressSync } from "node:zlib";
import { type Bookmark, takeTimeTravelBookmark } from "../migrations/time-travel";
import type { AppContext } from "../platform/context";
import { PAGE_ROWS, pageDigest, readPage, tableDigest } from "./digest";
import { introspect, type TableInfo } from "./introspect";
import { BACKUP_PREFIX, type Manifest, type ManifestObject, type ManifestTable, manifestKey } from "./manifest";
import { ObjectWriter } from "./object-writer";
import { renderInserts } from "./sql-render";

export const BACKUP_JOB = "backups.create";
/** Pages per data object: bounds an object to ~250k rows. */
export const PAGES_PER_OBJECT = 50;
/**
 * Runtime state, not data: a restored lease or resume cursor would be wrong in its new home (and
 * the cursor of the running backup would describe itself). Everything else is backed up.
 */
export const EXCLUDED_TABLES = ["keeper_leases", "keeper_job_cursors"];

const encoder = new TextEncoder();
/**
 * Input bytes per zstd frame. workerd's zstdCompressSync fails ("Unexpected end of file") once a
 * frame's output passes ~64 KB, and incompressible input can grow a little, so no frame is fed
 * more than 32 KB. Frames may cut a statement (or a UTF-8 character) anywhere; readers join them.
 */
export const FRAME_INPUT_BYTES = 32 * 1024;

function zstdFrames(text: string): Uint8Array[] {
  const bytes = encoder.encode(text);
  const frames: Uint8Array[] = [];
  for (let start = 0; start < bytes.byteLength; start += FRAME_INPUT_BYTES) {
    const slice = bytes.subarray(start, start + FRAME_INPUT_BYTES);
    frames.push(new Uint8Array(zstdCompressSync(slice, { params: { [constants.ZSTD_c_compressionLevel]: 1 } })));
  }
  return frames;
}

/** Where an unfinished backup stands: the backup Workflow carries it from step to step (backup-job.ts). */
export interface BackupCursor {
  id: string;
  startedAt: number;
  invocations: number;
  schemaVersion: string | null;
  bookmark: Bookmark;
  tables: TableInfo[];
  extras: string[];
  tableIndex: number;
  afterRowid: number;
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

export async function startBackup(ctx: AppContext): Promise<BackupCursor> {
  const schema = await introspect(ctx.d1);
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
    tables: schema.tables.filter((table) => !EXCLUDED_TABLES.includes(table.name)),
    extras: schema.extras.filter(
      (sql) => !EXCLUDED_TABLES.some((name) => sql.includes(`\`${name}\``) || sql.includes(`"${name}"`)),
    ),
    tableIndex: 0,
    afterRowid: 0,
    rowsSoFar: 0,
    pageDigests: [],
    objects: [],
    doneTables: [],
    schemaWritten: false,
  };
}

async function writeTextObject(ctx: AppContext, key: string, kind: ManifestObject["kind"], sql: string): Promise<ManifestObject> {
  const writer = new ObjectWriter(ctx.backups, key);
  for (const frame of zstdFrames(sql)) await writer.write(frame);
  const sha256 = await writer.finish();
  return {
    key,
    kind,
    table: null,
    rows: 0,
    bytes: writer.bytes,
    sql_bytes: encoder.encode(sql).byteLength,
    sha256,
    frames: writer.frames,
  };
}

/**
 * Advances the backup described by `cursor` until it is complete or `shouldStop()` says so (checked
 * before each object and after each page); returns the manifest when complete. Each data object is
 * up to 50 pages of one table; pages are read by rowid, rendered as SQL, compressed as one zstd
 * frame each and streamed into the object.
 */
export async function advanceBackup(
  ctx: AppContext,
  cursor: BackupCursor,
  shouldStop: () => boolean,
  save: (c: BackupCursor) => Promise<void>,
) {
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
    for (let page = 0; page < PAGES_PER_OBJECT; page++) {
      const raw = await readPage(ctx.d1, table.name, table.columns, cursor.afterRowid);
      if (raw.length === 0) {
        finishedTable = true;
        break;
      }
      const values = raw.map((row) => row.slice(1));
      const sql = renderInserts(table.name, table.columns, values);
      for (const frame of zstdFrames(sql)) await writer.write(frame);
      sqlBytes += encoder.encode(sql).byteLength;
      cursor.pageDigests.push(pageDigest(sql));
      rows += raw.length;
      cursor.afterRowid = Number(raw[raw.length - 1][0]);
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
      });
      cursor.tableIndex++;
      cursor.afterRowid = 0;
      cursor.rowsSoFar = 0;
      cursor.pageDigests = [];
    }
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
    format: "d1-keeper/sql-zstd@1",
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
    restore_hint: `for f in $(keys in manifest order); do zstd -dc "$f"; done > dump.sql && wrangler d1 execute <db> --file dump.sql`,
  };
  // Last and create-only: a backup exists (for list, restore, prune) exactly when this object does.
  const written = await ctx.backups.put(manifestKey(cursor.id), JSON.stringify(manifest, null, 2), {
    onlyIf: new Headers({ "If-None-Match": "*" }),
    httpMetadata: { contentType: "application/json" },
  });
  if (!written) throw new Error(`a manifest for backup ${cursor.id} already exists`);
  return manifest;
}
