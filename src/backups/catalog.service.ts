import { createHash } from "node:crypto";
import { zstdDecompressSync } from "node:zlib";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { BACKUP_PREFIX, type Manifest, type ManifestObject, manifestKey } from "./manifest";

export const backupIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

export function summarize(manifest: Manifest) {
  return {
    id: manifest.id,
    created_at: manifest.created_at,
    finished_at: manifest.finished_at,
    schema_version: manifest.schema_version,
    tables: manifest.tables.length,
    rows: manifest.totals.rows,
    bytes: manifest.totals.bytes,
    sql_bytes: manifest.totals.sql_bytes,
    duration_ms: manifest.duration_ms,
    bookmark: manifest.bookmark.taken ? manifest.bookmark.bookmark : null,
  };
}

/** Backup ids that have objects, complete or not (a page of the bucket's `backups/` prefixes at a time). */
export async function listBackupIds(ctx: AppContext): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.backups.list({ prefix: BACKUP_PREFIX, delimiter: "/", cursor, limit: 1000 });
    ids.push(...page.delimitedPrefixes.map((prefix) => prefix.slice(BACKUP_PREFIX.length, -1)));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return ids.sort();
}

export async function readManifest(ctx: AppContext, id: string): Promise<Manifest | null> {
  const object = await ctx.backups.get(manifestKey(id));
  return object ? ((await object.json()) as Manifest) : null;
}

/** A backup exists exactly when its manifest does. */
export async function requireManifest(ctx: AppContext, id: string): Promise<Manifest> {
  if (!backupIdPattern.test(id))
    throw new KeeperError("BAD_REQUEST", `'${id}' is not a backup id`, {
      errors: [{ path: "path.id", message: "expected YYYYMMDDTHHMMSSZ-xxxx" }],
    });
  const manifest = await readManifest(ctx, id);
  if (!manifest) throw notFound(`Backup '${id}'`);
  return manifest;
}

const newestFirst = (a: Manifest, b: Manifest) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);

/** Complete backups, newest first. One R2 read per backup: where only the newest matter, newestBackups. */
export async function listBackups({ ctx }: { ctx: AppContext }) {
  const manifests: Manifest[] = [];
  for (const id of await listBackupIds(ctx)) {
    const manifest = await readManifest(ctx, id);
    if (manifest) manifests.push(manifest);
  }
  return manifests.sort(newestFirst);
}

/** When a backup id's creation second began (ids start with it: YYYYMMDDTHHMMSSZ); NaN for another name. */
export const idSecondMs = (id: string) =>
  Date.parse(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}Z`);

/**
 * The same as `listBackups(...).slice(0, limit)`, reading manifests newest id first and stopping
 * once no older id can be among them: each manifest is an R2 read, and the free plan allows 50 R2
 * calls per invocation, which a bucket of daily backups outgrows. A backup's id is taken from the
 * clock just before its `created_at`, so a backup whose id began more than 2 s before the oldest
 * kept `created_at` cannot be newer than it.
 */
export async function newestBackups({ ctx, input }: { ctx: AppContext; input: { limit: number } }) {
  const found: Manifest[] = [];
  for (const id of (await listBackupIds(ctx)).reverse()) {
    if (found.length >= input.limit) {
      const oldestKept = Date.parse(found.sort(newestFirst)[input.limit - 1].created_at);
      if (idSecondMs(id) + 2_000 <= oldestKept) break;
    }
    const manifest = await readManifest(ctx, id);
    if (manifest) found.push(manifest);
  }
  return found.sort(newestFirst).slice(0, input.limit);
}

/**
 * Reads one object and yields its decompressed SQL as complete lines, a frame at a time (frames cut
 * text anywhere, so a partial line and partial UTF-8 carry over), checking the object's sha256 and
 * frame layout against the manifest as it goes. Memory: one frame and one line.
 */
export async function* readObjectLines(
  ctx: AppContext,
  object: ManifestObject,
  onOpen?: (stored: R2Object) => void,
): AsyncGenerator<string[]> {
  let carry = "";
  for await (const text of readObjectFrames(ctx, object, onOpen)) {
    const lines = (carry + text).split("\n");
    carry = lines.pop() ?? "";
    if (lines.length > 0) yield lines;
  }
  if (carry.length > 0) yield [carry];
}

async function* readObjectFrames(
  ctx: AppContext,
  object: ManifestObject,
  onOpen?: (stored: R2Object) => void,
): AsyncGenerator<string> {
  const stored = await ctx.backups.get(object.key);
  if (!stored) throw new KeeperError("UNPROCESSABLE", `Backup object ${object.key} is missing`);
  onOpen?.(stored);
  const hash = createHash("sha256");
  const reader = stored.body.getReader();
  let pending = new Uint8Array(0);
  const decoder = new TextDecoder();
  for (const frameLength of object.frames) {
    while (pending.byteLength < frameLength) {
      const { done, value } = await reader.read();
      if (done) throw new KeeperError("UNPROCESSABLE", `Backup object ${object.key} is shorter than its manifest says`);
      hash.update(value);
      const joined = new Uint8Array(pending.byteLength + value.byteLength);
      joined.set(pending);
      joined.set(value, pending.byteLength);
      pending = joined;
    }
    const frame = pending.subarray(0, frameLength);
    pending = pending.subarray(frameLength);
    yield decoder.decode(zstdDecompressSync(frame), { stream: true });
  }
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    pending = new Uint8Array([...pending, ...value]);
  }
  if (pending.byteLength > 0)
    throw new KeeperError("UNPROCESSABLE", `Backup object ${object.key} is longer than its manifest says`);
  if (hash.digest("hex") !== object.sha256)
    throw new KeeperError("UNPROCESSABLE", `Backup object ${object.key} does not match its sha256`);
}
