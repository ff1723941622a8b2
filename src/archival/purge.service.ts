import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { deleteMediaOf, listMediaKeys } from "./media";

/**
 * Rows deleted per statement. Well under Cloudflare's 10k-rows-per-statement guidance, so one
 * statement stays short on production D1 even for wide context rows.
 */
export const PURGE_CHUNK_ROWS = 2000;

export interface PurgeImpact {
  video_id: string;
  rows: { videos: number; video_context: number; memory: number; conversations: number; messages: number };
  media_keys: string[];
}

const childDeletes: { table: keyof PurgeImpact["rows"]; sql: string }[] = [
  {
    table: "messages",
    sql: `DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE c.video_id = ?1 LIMIT ?2)`,
  },
  {
    table: "conversations",
    sql: "DELETE FROM conversations WHERE id IN (SELECT id FROM conversations WHERE video_id = ?1 LIMIT ?2)",
  },
  { table: "memory", sql: "DELETE FROM memory WHERE id IN (SELECT id FROM memory WHERE video_id = ?1 LIMIT ?2)" },
  {
    table: "video_context",
    sql: "DELETE FROM video_context WHERE id IN (SELECT id FROM video_context WHERE video_id = ?1 LIMIT ?2)",
  },
];

/** Exactly what a purge of this video would remove, counted in D1 and listed in MEDIA. */
export async function purgeImpact(ctx: AppContext, videoId: string): Promise<PurgeImpact> {
  const row = await ctx.d1
    .prepare(
      `SELECT
        (SELECT count(*) FROM videos WHERE id = ?1) AS videos,
        (SELECT count(*) FROM video_context WHERE video_id = ?1) AS video_context,
        (SELECT count(*) FROM memory WHERE video_id = ?1) AS memory,
        (SELECT count(*) FROM conversations WHERE video_id = ?1) AS conversations,
        (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.video_id = ?1) AS messages`,
    )
    .bind(videoId)
    .first<PurgeImpact["rows"]>();
  const rows = row ?? { videos: 0, video_context: 0, memory: 0, conversations: 0, messages: 0 };
  return { video_id: videoId, rows, media_keys: rows.videos ? await listMediaKeys(ctx, videoId) : [] };
}

export interface PurgeResult {
  dry_run: boolean;
  impact: PurgeImpact;
  deleted?: PurgeImpact["rows"] & { media_objects: number };
  media_error?: string;
}

/**
 * Permanently deletes a video, its D1 children and its MEDIA objects.
 *
 * Order: D1 first (children in chunks, then the video row with its audit row in one batch), then
 * MEDIA. If MEDIA fails, the video row is already gone, so its objects are exactly what orphan
 * cleanup removes on its next run; the reverse order could leave a live row pointing at missing files.
 * `requireSoftDeleted` is how retention makes sure it only purges what its cutoff selected.
 */
export async function purgeVideo({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { id: string; dryRun: boolean; confirm: boolean; requireDeletedBefore?: number };
}): Promise<PurgeResult> {
  const video = await ctx.d1
    .prepare("SELECT id, deleted_at FROM videos WHERE id = ?")
    .bind(input.id)
    .first<{ id: string; deleted_at: number | null }>();
  if (!video) throw notFound(`Video '${input.id}'`);
  if (video.deleted_at === null) {
    throw new KeeperError("CONFLICT", `Video '${input.id}' is live; soft-delete it before purging it`);
  }
  const impact = await purgeImpact(ctx, input.id);
  if (input.dryRun) return { dry_run: true, impact };
  if (!input.confirm) throw new KeeperError("CONFIRMATION_REQUIRED", "Purging is permanent: send confirm: true");

  const deleted = { videos: 0, video_context: 0, memory: 0, conversations: 0, messages: 0, media_objects: 0 };
  for (const child of childDeletes) {
    for (;;) {
      const result = await ctx.d1.prepare(child.sql).bind(input.id, PURGE_CHUNK_ROWS).run();
      deleted[child.table] += result.meta.changes;
      if (result.meta.changes < PURGE_CHUNK_ROWS) break;
    }
  }
  // The row goes only if it is still soft-deleted (and still past the caller's cutoff): a restore
  // that raced the chunked deletes keeps its video row.
  const cutoff = input.requireDeletedBefore ?? Number.MAX_SAFE_INTEGER;
  const [removed] = await ctx.d1.batch([
    ctx.d1.prepare("DELETE FROM videos WHERE id = ? AND deleted_at IS NOT NULL AND deleted_at < ?").bind(input.id, cutoff),
    auditStatement(ctx, {
      action: "archival.purge",
      target: input.id,
      detail: { rows: impact.rows, media_keys: impact.media_keys.length },
    }),
  ]);
  deleted.videos = removed.meta.changes;
  if (deleted.videos === 0) return { dry_run: false, impact, deleted };
  try {
    deleted.media_objects = await deleteMediaOf(ctx, input.id);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ctx.logger.warn("purge left MEDIA objects for orphan cleanup", { video: input.id, error: message });
    return { dry_run: false, impact, deleted, media_error: message };
  }
  return { dry_run: false, impact, deleted };
}
