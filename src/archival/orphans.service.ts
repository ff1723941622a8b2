import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { deletePrefix, listAllKeys } from "../platform/r2";
import { mediaPrefix, mediaVideoIdPages } from "./media";

/**
 * Orphans: rows whose parent is gone, and MEDIA files of videos that no longer exist. D1 enforces
 * foreign keys, so orphan rows only appear through writes that bypassed them (an import, a restore
 * with deferred checks); PRAGMA foreign_key_check finds them by rowid. Files are checked by video
 * id prefix, 90 ids per query, a page of the bucket listing at a time.
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

export async function cleanupOrphans({ ctx, input }: { ctx: AppContext; input: { dryRun: boolean } }): Promise<OrphanReport> {
  const rows = { messages: 0, conversations: 0, memory: 0, video_context: 0 };
  for (const table of childTables) {
    const rowids = await orphanRowIds(ctx, table);
    rows[table] = rowids.length;
    if (input.dryRun || rowids.length === 0) continue;
    for (let start = 0; start < rowids.length; start += 90) {
      const chunk = rowids.slice(start, start + 90);
      await ctx.d1.batch([
        ctx.d1.prepare(`DELETE FROM "${table}" WHERE rowid IN (${chunk.map(() => "?").join(", ")})`).bind(...chunk),
        auditStatement(
          ctx,
          { action: "archival.cleanup-rows", target: table, detail: { rowids: chunk } },
          { onlyIfPreviousChanged: true },
        ),
      ]);
    }
  }
  const orphanVideos: string[] = [];
  let keys = 0;
  for await (const ids of mediaVideoIdPages(ctx.media)) {
    for (const id of await missingVideoIds(ctx, ids)) {
      orphanVideos.push(id);
      if (input.dryRun) keys += (await listAllKeys(ctx.media, mediaPrefix(id))).length;
      else {
        const deleted = await deletePrefix(ctx.media, mediaPrefix(id));
        keys += deleted;
        await auditStatement(ctx, { action: "archival.cleanup-media", target: id, detail: { keys: deleted } }).run();
      }
    }
  }
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
