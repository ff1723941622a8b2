import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { listObjects } from "../platform/r2";
import { mediaPrefix, mediaVideoIdPage } from "./media";

/**
 * Orphans: rows whose parent is gone, and MEDIA files of videos that no longer exist. D1 enforces
 * foreign keys, so orphan rows only appear through writes that bypassed them (an import, a restore
 * with deferred checks); PRAGMA foreign_key_check finds them by rowid. Files are checked by video
 * id prefix, 90 ids per query, a page of the bucket listing at a time; files younger than a grace
 * period are left alone.
 */
const childTables = ["messages", "conversations", "memory", "video_context"] as const;

export interface OrphanReport {
  dryRun: boolean;
  rows: Record<(typeof childTables)[number], number>;
  media: { videos: string[]; keys: number };
}

async function orphanRowIds(ctx: AppContext, table: string): Promise<number[]> {
  const { results } = await ctx.d1.prepare(`PRAGMA foreign_key_check("${table}")`).all<{ rowid: number | null }>();
  return results.map((row) => row.rowid).filter((rowid): rowid is number => rowid !== null);
}

async function missingVideoIds(ctx: AppContext, ids: string[]): Promise<string[]> {
  const present = new Set<string>();
  for (let start = 0; start < ids.length; start += 90) {
    const chunk = ids.slice(start, start + 90);
    const { results } = await ctx.d1
      .prepare(`SELECT id FROM videos WHERE id IN (${chunk.map(() => "?").join(", ")})`)
      .bind(...chunk)
      .all<{ id: string }>();
    for (const row of results) present.add(row.id);
  }
  return ids.filter((id) => !present.has(id));
}

/**
 * A file younger than this is never an orphan: the app may upload a video's files before it writes
 * the video's row, and cleanup must not race that upload.
 */
export const ORPHAN_MEDIA_GRACE_MS = 24 * 60 * 60 * 1000;

export type OrphanChildTable = (typeof childTables)[number];
export const orphanChildTables: readonly OrphanChildTable[] = childTables;

/** Rowids per delete: under D1's 100 bound parameters. */
const ORPHAN_ROWS_PER_DELETE = 90;

/**
 * Orphan rows of one child table: found with one query, then deleted 90 rowids per batch (with
 * their audit rows), at most `maxDeletes` batches. `left` counts the orphans found but not deleted
 * this time: a bounded caller comes back for them.
 */
export async function cleanupOrphanRowsOf(
  ctx: AppContext,
  input: { table: OrphanChildTable; dryRun: boolean; maxDeletes: number },
): Promise<{ found: number; deleted: number; left: number }> {
  const rowids = await orphanRowIds(ctx, input.table);
  if (input.dryRun) return { found: rowids.length, deleted: 0, left: 0 };
  let deleted = 0;
  for (let start = 0, n = 0; start < rowids.length && n < input.maxDeletes; start += ORPHAN_ROWS_PER_DELETE, n++) {
    const chunk = rowids.slice(start, start + ORPHAN_ROWS_PER_DELETE);
    await ctx.d1.batch([
      ctx.d1.prepare(`DELETE FROM "${input.table}" WHERE rowid IN (${chunk.map(() => "?").join(", ")})`).bind(...chunk),
      auditStatement(
        ctx,
        { action: "archival.cleanup-rows", target: input.table, detail: { rowids: chunk } },
        { onlyIfPreviousChanged: true },
      ),
    ]);
    deleted += chunk.length;
  }
  return { found: rowids.length, deleted, left: rowids.length - deleted };
}

/** Orphan rows of every child table, deleted 90 rowids per batch with their audit rows. */
export async function cleanupOrphanRows({ ctx, input }: { ctx: AppContext; input: { dryRun: boolean } }) {
  const rows = { messages: 0, conversations: 0, memory: 0, video_context: 0 };
  for (const table of childTables)
    rows[table] = (await cleanupOrphanRowsOf(ctx, { table, dryRun: input.dryRun, maxDeletes: Number.POSITIVE_INFINITY })).found;
  return rows;
}

/**
 * One page of the MEDIA listing (≤ `pageSize` video ids, at most 1000): the files of ids with no
 * video row, older than the grace period, are deleted (or counted, in a dry run). Returns the next
 * page's cursor. Cost: one listing and a query per 90 ids, then per orphan video a listing, a
 * delete and an audit query (more listings and deletes past 1000 files).
 */
export async function cleanupOrphanMediaPage({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { dryRun: boolean; cursor: string | null; pageSize?: number };
}): Promise<{ videos: string[]; keys: number; next: string | null }> {
  const settledBefore = ctx.now().getTime() - ORPHAN_MEDIA_GRACE_MS;
  const page = await mediaVideoIdPage(ctx.media, input.cursor, input.pageSize);
  const videos: string[] = [];
  let keys = 0;
  for (const id of await missingVideoIds(ctx, page.ids)) {
    const settled = (await listObjects(ctx.media, mediaPrefix(id)))
      .filter((object) => object.uploaded.getTime() < settledBefore)
      .map((object) => object.key);
    if (settled.length === 0) continue;
    videos.push(id);
    keys += settled.length;
    if (input.dryRun) continue;
    for (let start = 0; start < settled.length; start += 1000) await ctx.media.delete(settled.slice(start, start + 1000));
    await auditStatement(ctx, { action: "archival.cleanup-media", target: id, detail: { keys: settled.length } }).run();
  }
  return { videos, keys, next: page.next };
}

export async function cleanupOrphans({ ctx, input }: { ctx: AppContext; input: { dryRun: boolean } }): Promise<OrphanReport> {
  const rows = await cleanupOrphanRows({ ctx, input });
  const orphanVideos: string[] = [];
  let keys = 0;
  let cursor: string | null = null;
  do {
    const page = await cleanupOrphanMediaPage({ ctx, input: { dryRun: input.dryRun, cursor } });
    orphanVideos.push(...page.videos);
    keys += page.keys;
    cursor = page.next;
  } while (cursor);
  return { dryRun: input.dryRun, rows, media: { videos: orphanVideos, keys } };
}

/**
 * The seed's VACUUM/ANALYZE. D1 allows neither (it reclaims space itself); `PRAGMA optimize` is
 * the statistics refresh it does allow. Size comes from D1's own `meta.size_after`.
 */
export async function optimizeDatabase({ ctx }: { ctx: AppContext }) {
  const before = await ctx.d1.prepare("SELECT 1").run();
  const started = performance.now();
  await ctx.d1.prepare("PRAGMA optimize").run();
  const took = performance.now() - started;
  const after = await ctx.d1.prepare("SELECT 1").run();
  await auditStatement(ctx, {
    action: "archival.optimize",
    detail: { size_before: before.meta.size_after, size_after: after.meta.size_after },
  }).run();
  return {
    size_before_bytes: before.meta.size_after ?? null,
    size_after_bytes: after.meta.size_after ?? null,
    duration_ms: Math.round(took * 100) / 100,
    note: "D1 has no VACUUM or ANALYZE; it reclaims free pages itself. PRAGMA optimize refreshes the query planner's statistics.",
  };
}
