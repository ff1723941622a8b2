import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { deletePrefix, listAllKeys } from "../platform/r2";
import { findVideoRow } from "../videos/videos.service";
import { mediaPrefix } from "./media";

/** Rows per DELETE: far under Cloudflare's advice of ≤ 10k rows per statement and D1's 30 s limit. */
export const PURGE_CHUNK_ROWS = 5000;

export interface PurgeCounts {
  videos: number;
  video_context: number;
  memory: number;
  conversations: number;
  messages: number;
}

export async function countVideoRows(ctx: AppContext, videoId: string): Promise<PurgeCounts> {
  const row = await ctx.d1
    .prepare(
      `SELECT
         (SELECT count(*) FROM videos WHERE id = ?1) AS videos,
         (SELECT count(*) FROM video_context WHERE video_id = ?1) AS video_context,
         (SELECT count(*) FROM memory WHERE video_id = ?1) AS memory,
         (SELECT count(*) FROM conversations WHERE video_id = ?1) AS conversations,
         (SELECT count(*) FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE video_id = ?1)) AS messages`,
    )
    .bind(videoId)
    .first<PurgeCounts>();
  return row as PurgeCounts;
}

/**
 * Children go first, in chunks, so no single statement (nor the cascade behind it) has to delete
 * a hundred thousand rows. Each chunk is its own statement: if the Worker stops midway the video is
 * still soft-deleted (and claimed), and the next run finishes the job.
 */
const childDeletes = [
  "DELETE FROM messages WHERE rowid IN (SELECT m.rowid FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.video_id = ? LIMIT ?)",
  "DELETE FROM conversations WHERE rowid IN (SELECT rowid FROM conversations WHERE video_id = ? LIMIT ?)",
  "DELETE FROM memory WHERE rowid IN (SELECT rowid FROM memory WHERE video_id = ? LIMIT ?)",
  "DELETE FROM video_context WHERE rowid IN (SELECT rowid FROM video_context WHERE video_id = ? LIMIT ?)",
];

export interface PurgeResult {
  id: string;
  dryRun: boolean;
  counts: PurgeCounts;
  media: { keys: string[]; deleted: number; error: string | null };
}

/**
 * Permanently deletes a video and everything that belongs to it: its rows in D1 and its files in
 * MEDIA. D1 goes first — the video row and the audit row in one batch — because that is what the
 * data API serves; then the files. If R2 fails, the files stay behind as orphans (the video no
 * longer exists) and the orphan cleanup removes them; the result says so.
 */
export async function purgeVideo({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { id: string; dryRun: boolean; confirm: boolean; force?: boolean; reason?: string };
}): Promise<PurgeResult> {
  const row = await findVideoRow({ ctx, input });
  if (!row) throw notFound(`Video '${input.id}'`);
  if (row.deletedAt === null && !input.force) {
    throw new KeeperError("CONFLICT", `Video '${input.id}' is live; soft-delete it first (or pass force: true)`);
  }
  const counts = await countVideoRows(ctx, input.id);
  const keys = await listAllKeys(ctx.media, mediaPrefix(input.id));
  if (input.dryRun) return { id: input.id, dryRun: true, counts, media: { keys, deleted: 0, error: null } };
  if (!input.confirm) {
    throw new KeeperError("CONFIRMATION_REQUIRED", "Permanent delete needs confirm: true (try dryRun: true first)");
  }

  // Claim the video first, only if it is still deleted as planned: from here a restore is refused,
  // so no restore can land between the chunks below. A restore that came first wins whole.
  const claim = await ctx.d1
    .prepare("UPDATE videos SET purging_at = ? WHERE id = ? AND deleted_at IS ?")
    .bind(ctx.now().getTime(), input.id, row.deletedAt)
    .run();
  if (claim.meta.changes === 0) {
    throw new KeeperError(
      "CONFLICT",
      `Video '${input.id}' was restored or changed before its purge started; it and its files were kept`,
    );
  }
  const claimed = "EXISTS (SELECT 1 FROM videos WHERE id = ? AND purging_at IS NOT NULL)";
  for (const sql of childDeletes) {
    for (;;) {
      const result = await ctx.d1
        .prepare(sql.replace("LIMIT ?)", `LIMIT ?) AND ${claimed}`))
        .bind(input.id, PURGE_CHUNK_ROWS, input.id)
        .run();
      if (result.meta.changes < PURGE_CHUNK_ROWS) break;
    }
  }
  const [removed] = await ctx.d1.batch([
    ctx.d1.prepare("DELETE FROM videos WHERE id = ? AND purging_at IS NOT NULL").bind(input.id),
    auditStatement(
      ctx,
      {
        action: "archival.purge",
        target: input.id,
        detail: { ...counts, media_keys: keys.length, reason: input.reason ?? "manual" },
      },
      { onlyIfPreviousChanged: true },
    ),
  ]);

  if (removed.meta.changes === 0) {
    throw new KeeperError("CONFLICT", `Video '${input.id}' was purged by another run meanwhile`);
  }
  let deleted = 0;
  let error: string | null = null;
  try {
    deleted = await deletePrefix(ctx.media, mediaPrefix(input.id));
  } catch (failure) {
    error = `${failure instanceof Error ? failure.message : String(failure)}; the remaining files are orphans now and orphan cleanup will remove them`;
    ctx.logger.warn("purge left media behind", { video: input.id, error });
  }
  return { id: input.id, dryRun: false, counts, media: { keys, deleted, error } };
}

/** Videos per set-wise purge: their ids plus the LIMIT stay under D1's 100 bound parameters. */
export const PURGE_SET_SIZE = 90;

const countsBySet = {
  video_context: "SELECT video_id, count(*) AS n FROM video_context WHERE video_id IN (IDS) GROUP BY video_id",
  memory: "SELECT video_id, count(*) AS n FROM memory WHERE video_id IN (IDS) GROUP BY video_id",
  conversations: "SELECT video_id, count(*) AS n FROM conversations WHERE video_id IN (IDS) GROUP BY video_id",
  messages:
    "SELECT c.video_id AS video_id, count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.video_id IN (IDS) GROUP BY c.video_id",
} as const;

const childDeletesBySet = [
  "DELETE FROM messages WHERE rowid IN (SELECT m.rowid FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.video_id IN (IDS) LIMIT ?)",
  "DELETE FROM conversations WHERE rowid IN (SELECT rowid FROM conversations WHERE video_id IN (IDS) LIMIT ?)",
  "DELETE FROM memory WHERE rowid IN (SELECT rowid FROM memory WHERE video_id IN (IDS) LIMIT ?)",
  "DELETE FROM video_context WHERE rowid IN (SELECT rowid FROM video_context WHERE video_id IN (IDS) LIMIT ?)",
];

export interface SetPurgeResult {
  purged: string[];
  rows: number;
  mediaDeleted: number;
  mediaErrors: number;
}

/**
 * Retention's purge: the same order and guarantees as `purgeVideo`, but for a set of due videos at
 * once, so the per-video round trips (lookup, counts, four deletes) do not dominate when videos own
 * few rows. Each video is claimed first, only if its `deleted_at` is still the one that made it due;
 * the children of the claimed videos go in chunks of PURGE_CHUNK_ROWS; then one batch deletes each
 * claimed video row with its audit row. MEDIA last, per video; a failure there leaves orphans for
 * orphan cleanup, as in `purgeVideo`.
 */
export async function purgeDueVideos(
  ctx: AppContext,
  input: { videos: { id: string; deleted_at: number }[]; reason: string },
): Promise<SetPurgeResult> {
  const selected = input.videos.slice(0, PURGE_SET_SIZE);
  if (selected.length === 0) return { purged: [], rows: 0, mediaDeleted: 0, mediaErrors: 0 };
  // Claim each video, only if it is still deleted as it was when selected (a video restored, or
  // restored and deleted again, since is not due); claimed videos can no longer be restored.
  const claims = await ctx.d1.batch(
    selected.map((video) =>
      ctx.d1
        .prepare("UPDATE videos SET purging_at = ? WHERE id = ? AND deleted_at = ?")
        .bind(ctx.now().getTime(), video.id, video.deleted_at),
    ),
  );
  const videos = selected.filter((_, index) => claims[index].meta.changes > 0);
  if (videos.length === 0) return { purged: [], rows: 0, mediaDeleted: 0, mediaErrors: 0 };
  const ids = videos.map((video) => video.id);
  const inList = ids.map(() => "?").join(", ");
  const perVideo = new Map<string, PurgeCounts>(
    ids.map((id) => [id, { videos: 1, video_context: 0, memory: 0, conversations: 0, messages: 0 }]),
  );
  const tables = Object.keys(countsBySet) as (keyof typeof countsBySet)[];
  const counted = await ctx.d1.batch(
    tables.map((table) => ctx.d1.prepare(countsBySet[table].replace("IDS", inList)).bind(...ids)),
  );
  counted.forEach((result, index) => {
    for (const row of result.results as { video_id: string; n: number }[]) {
      const counts = perVideo.get(row.video_id);
      if (counts) counts[tables[index]] = row.n;
    }
  });

  for (const template of childDeletesBySet) {
    const sql = template.replace("IDS", `SELECT id FROM videos WHERE id IN (${inList}) AND purging_at IS NOT NULL`);
    for (;;) {
      const result = await ctx.d1
        .prepare(sql)
        .bind(...ids, PURGE_CHUNK_ROWS)
        .run();
      if (result.meta.changes < PURGE_CHUNK_ROWS) break;
    }
  }
  const removed = await ctx.d1.batch(
    videos.flatMap((video) => [
      ctx.d1.prepare("DELETE FROM videos WHERE id = ? AND purging_at IS NOT NULL").bind(video.id),
      auditStatement(
        ctx,
        { action: "archival.purge", target: video.id, detail: { ...perVideo.get(video.id), reason: input.reason } },
        { onlyIfPreviousChanged: true },
      ),
    ]),
  );
  const purged = videos.filter((_, index) => removed[index * 2].meta.changes > 0).map((video) => video.id);
  let rows = 0;
  for (const id of purged) {
    const counts = perVideo.get(id) as PurgeCounts;
    rows += counts.videos + counts.video_context + counts.memory + counts.conversations + counts.messages;
  }
  let mediaDeleted = 0;
  let mediaErrors = 0;
  for (const id of purged) {
    try {
      mediaDeleted += await deletePrefix(ctx.media, mediaPrefix(id));
    } catch (failure) {
      mediaErrors++;
      ctx.logger.warn("purge left media behind", {
        video: id,
        error: failure instanceof Error ? failure.message : String(failure),
      });
    }
  }
  return { purged, rows, mediaDeleted, mediaErrors };
}
