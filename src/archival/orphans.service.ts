import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { deleteMediaOf, mediaVideoIds } from "./media";
import { PURGE_CHUNK_ROWS } from "./purge.service";

/**
 * Rows whose parent is gone. ON DELETE CASCADE should leave none, but a write with foreign keys
 * off (a manual import, `PRAGMA defer_foreign_keys`) can; and MEDIA objects of a purged video stay
 * behind when the R2 part of a purge failed.
 */
const orphanRows = {
  video_context: "SELECT id FROM video_context WHERE video_id NOT IN (SELECT id FROM videos)",
  memory: "SELECT id FROM memory WHERE video_id NOT IN (SELECT id FROM videos)",
  conversations: "SELECT id FROM conversations WHERE video_id NOT IN (SELECT id FROM videos)",
  messages: "SELECT id FROM messages WHERE conversation_id NOT IN (SELECT id FROM conversations)",
} as const;
type OrphanTable = keyof typeof orphanRows;

export interface OrphanReport {
  dry_run: boolean;
  rows: Record<OrphanTable, number>;
  media_videos: string[];
  media_objects_deleted: number;
}

async function orphanMediaVideos(ctx: AppContext): Promise<string[]> {
  const orphans: string[] = [];
  for await (const page of mediaVideoIds(ctx)) {
    for (let i = 0; i < page.length; i += 90) {
      const ids = page.slice(i, i + 90);
      const { results } = await ctx.d1
        .prepare(`SELECT id FROM videos WHERE id IN (${ids.map(() => "?").join(", ")})`)
        .bind(...ids)
        .all<{ id: string }>();
      const known = new Set(results.map((r) => r.id));
      orphans.push(...ids.filter((id) => !known.has(id)));
    }
  }
  return orphans;
}

export async function cleanupOrphans({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { dryRun: boolean; confirm: boolean };
}): Promise<OrphanReport> {
  const rows = { video_context: 0, memory: 0, conversations: 0, messages: 0 };
  if (input.dryRun) {
    for (const table of Object.keys(orphanRows) as OrphanTable[]) {
      const row = await ctx.d1.prepare(`SELECT count(*) AS n FROM (${orphanRows[table]})`).first<{ n: number }>();
      rows[table] = row?.n ?? 0;
    }
    return { dry_run: true, rows, media_videos: await orphanMediaVideos(ctx), media_objects_deleted: 0 };
  }
  if (!input.confirm) throw new KeeperError("CONFIRMATION_REQUIRED", "Orphan cleanup deletes data: send confirm: true");
  // Conversations before messages, so messages of orphaned conversations are found in this run too.
  for (const table of ["video_context", "memory", "conversations", "messages"] as OrphanTable[]) {
    for (;;) {
      const result = await ctx.d1
        .prepare(`DELETE FROM ${table} WHERE id IN (${orphanRows[table]} LIMIT ?)`)
        .bind(PURGE_CHUNK_ROWS)
        .run();
      rows[table] += result.meta.changes;
      if (result.meta.changes < PURGE_CHUNK_ROWS) break;
    }
  }
  const mediaVideos = await orphanMediaVideos(ctx);
  let deleted = 0;
  for (const id of mediaVideos) deleted += await deleteMediaOf(ctx, id);
  await auditStatement(ctx, {
    action: "archival.cleanup-orphans",
    detail: { rows, media_videos: mediaVideos.length, media_objects: deleted },
  }).run();
  return { dry_run: false, rows, media_videos: mediaVideos, media_objects_deleted: deleted };
}
