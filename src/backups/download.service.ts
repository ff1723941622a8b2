import type { AppContext } from "../platform/context";
import { requireManifest } from "./catalog.service";
import { zstdFrames } from "./create.service";
import { quoteIdentifier } from "./introspect";
import { type Manifest, sequenceSql } from "./manifest";

/**
 * The migration ledgers describe the migrations of the database they live in. A database that
 * `wrangler d1 migrations apply` created has its own d1_migrations rows (and keeper's checksum table
 * appears once keeper runs there), so a data-only dump leaves both out.
 */
export const LEDGER_TABLES = ["d1_migrations", "keeper_migration_checksums"];

/** A piece of a download: zstd bytes and the compressed length of each frame in them. */
export interface DumpPart {
  bytes: Uint8Array | ReadableStream<Uint8Array>;
  frames: number[];
}

const encoder = new TextEncoder();

function generated(sql: string): DumpPart {
  const frames = zstdFrames(encoder.encode(sql));
  const bytes = new Uint8Array(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
  let offset = 0;
  for (const frame of frames) {
    bytes.set(frame, offset);
    offset += frame.byteLength;
  }
  return { bytes, frames: frames.map((frame) => frame.byteLength) };
}

/**
 * A backup as one zstd stream, in manifest order. Whole: schema, data, sqlite_sequence, indexes —
 * for an empty database. Data-only: the rows of every table but the ledgers, then their
 * sqlite_sequence values — for a database whose schema `wrangler d1 migrations apply` made. Some
 * migrations seed rows (keeper_query_totals' one row), so a data-only dump first empties every table
 * it holds rows of, children before parents: it replaces those tables' contents.
 */
export async function openDump({ ctx, input }: { ctx: AppContext; input: { id: string; dataOnly: boolean } }) {
  const manifest = await requireManifest(ctx, input.id);
  return { id: manifest.id, parts: dumpParts(ctx, manifest, input.dataOnly) };
}

async function* dumpParts(ctx: AppContext, manifest: Manifest, dataOnly: boolean): AsyncGenerator<DumpPart> {
  if (dataOnly) {
    const replaced = manifest.tables.filter((table) => !LEDGER_TABLES.includes(table.name)).reverse();
    yield generated(
      `PRAGMA defer_foreign_keys = on;\n${replaced.map((table) => `DELETE FROM ${quoteIdentifier(table.name)};\n`).join("")}`,
    );
  }
  for (const object of manifest.objects) {
    if (dataOnly && (object.kind !== "data" || LEDGER_TABLES.includes(object.table ?? ""))) continue;
    const stored = await ctx.backups.get(object.key);
    if (!stored) throw new Error(`object ${object.key} is missing`);
    yield { bytes: stored.body, frames: object.frames };
  }
  if (dataOnly) yield generated(sequenceSql(manifest.tables.filter((table) => !LEDGER_TABLES.includes(table.name))));
}
