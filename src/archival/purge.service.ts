import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { deletePrefix, listAllKeys } from "../platform/r2";
import { findVideoRow } from "../videos/videos.service";
import { mediaPrefix, videosWithMedia } from "./media";

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

/** Videos per set-wise purge. */
export const PURGE_SET_SIZE = 180;

/**
 * Rows one transaction of a set purge may delete: its statements each delete at most
 * PURGE_CHUNK_ROWS, and a batch holds statements up to this many rows in all.
 */
export const PURGE_BATCH_ROWS = 8 * PURGE_CHUNK_ROWS;

/**
 * Ids travel as one JSON array of strings, so a set is not bounded by D1's 100 bound parameters.
 * Plain `value`s, not `json_extract` of [id, …] pairs: with `json_extract` in the IN list of the
 * cascading DELETE the reference purge was slower in local D1 (1.80 s against 1.56 s in
 * `bench/archival.bench.ts`, docs/benchmarks.md, Archival).
 */
const inIds = "SELECT value FROM json_each(?)";

const countsBySet = {
  video_context: "SELECT video_id, count(*) AS n FROM video_context WHERE video_id IN (CLAIMED) GROUP BY video_id",
  memory: "SELECT video_id, count(*) AS n FROM memory WHERE video_id IN (CLAIMED) GROUP BY video_id",
  conversations: "SELECT video_id, count(*) AS n FROM conversations WHERE video_id IN (CLAIMED) GROUP BY video_id",
  messages:
    "SELECT c.video_id AS video_id, count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.video_id IN (CLAIMED) GROUP BY c.video_id",
} as const;
const claimedInSet = `SELECT id FROM videos WHERE id IN (${inIds}) AND purging_at IS NOT NULL`;

/** A video's child tables in delete order (messages before their conversations), each with its chunked delete. */
const childDeletesOfVideo: [keyof typeof countsBySet, string][] = [
  [
    "messages",
    "DELETE FROM messages WHERE rowid IN (SELECT m.rowid FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.video_id = ?1 LIMIT ?2) AND EXISTS (SELECT 1 FROM videos WHERE id = ?1 AND purging_at IS NOT NULL)",
  ],
  [
    "conversations",
    "DELETE FROM conversations WHERE rowid IN (SELECT rowid FROM conversations WHERE video_id = ?1 LIMIT ?2) AND EXISTS (SELECT 1 FROM videos WHERE id = ?1 AND purging_at IS NOT NULL)",
  ],
  [
    "memory",
    "DELETE FROM memory WHERE rowid IN (SELECT rowid FROM memory WHERE video_id = ?1 LIMIT ?2) AND EXISTS (SELECT 1 FROM videos WHERE id = ?1 AND purging_at IS NOT NULL)",
  ],
  [
    "video_context",
    "DELETE FROM video_context WHERE rowid IN (SELECT rowid FROM video_context WHERE video_id = ?1 LIMIT ?2) AND EXISTS (SELECT 1 FROM videos WHERE id = ?1 AND purging_at IS NOT NULL)",
  ],
];

/** MEDIA calls of one set purge in flight at once. */
export const PURGE_MEDIA_CONCURRENCY = 4;

export interface SetPurgeResult {
  purged: string[];
  rows: number;
  mediaDeleted: number;
  mediaErrors: number;
}

const childRowsOf = (counts: PurgeCounts) => counts.video_context + counts.memory + counts.conversations + counts.messages;

/**
 * Retention's purge: the same order and guarantees as `purgeVideo`, for a set of due videos at once,
 * in set-wise statements. One batch claims the set (each video only if its `deleted_at` is still the
 * one that made it due) and counts the claimed videos' children. A video owning more than
 * PURGE_CHUNK_ROWS child rows first loses them in chunks of that size; then the claimed videos are
 * deleted in groups whose children add up to at most PURGE_CHUNK_ROWS, by ON DELETE CASCADE, each
 * group in one statement after the one that writes its audit rows (one per video, only for videos
 * still claimed, so exactly for the rows the delete removes). Groups share a batch up to
 * PURGE_BATCH_ROWS. MEDIA last: one listing of video prefixes finds which purged videos have files,
 * and only those are listed and deleted, a few at a time; a failure there leaves orphans for orphan
 * cleanup, as in `purgeVideo`.
 *
 * Cost of one set: 2 D1 queries, plus one per PURGE_BATCH_ROWS rows beyond the first and one per
 * chunk of a video owning more than PURGE_CHUNK_ROWS; R2 calls: one listing (more only when over
 * 1000 video prefixes lie between two ids of the set) plus a listing and a delete per purged video
 * with files.
 */
export async function purgeDueVideos({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { videos: { id: string; deleted_at: number }[]; reason: string };
}): Promise<SetPurgeResult> {
  const selected = input.videos.slice(0, PURGE_SET_SIZE);
  if (selected.length === 0) return { purged: [], rows: 0, mediaDeleted: 0, mediaErrors: 0 };
  const set = JSON.stringify(selected.map((video) => [video.id, video.deleted_at]));
  const selectedIds = JSON.stringify(selected.map((video) => video.id));
  const tables = Object.keys(countsBySet) as (keyof typeof countsBySet)[];
  // Claimed videos can no longer be restored; a video restored (or restored and deleted again)
  // since it was selected keeps its deleted_at changed and is not claimed. The counts run after the
  // claim, in the same transaction.
  const [claim, ...counted] = await ctx.d1.batch([
    ctx.d1
      .prepare(
        `UPDATE videos SET purging_at = ?
         FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS deleted_at FROM json_each(?)) AS due
         WHERE videos.id = due.id AND videos.deleted_at = due.deleted_at
         RETURNING videos.id AS id`,
      )
      .bind(ctx.now().getTime(), set),
    ...tables.map((table) => ctx.d1.prepare(countsBySet[table].replace("CLAIMED", claimedInSet)).bind(selectedIds)),
  ]);
  const claimed = new Set((claim.results as { id: string }[]).map((row) => row.id));
  const ids = selected.map((video) => video.id).filter((id) => claimed.has(id));
  if (ids.length === 0) return { purged: [], rows: 0, mediaDeleted: 0, mediaErrors: 0 };
  const perVideo = new Map<string, PurgeCounts>(
    ids.map((id) => [id, { videos: 1, video_context: 0, memory: 0, conversations: 0, messages: 0 }]),
  );
  counted.forEach((result, index) => {
    for (const row of result.results as { video_id: string; n: number }[]) {
      const counts = perVideo.get(row.video_id);
      if (counts) counts[tables[index]] = row.n;
    }
  });

  // A video too big for one cascading statement: chunks first, until what is left fits one.
  for (const id of ids) {
    const counts = { ...(perVideo.get(id) as PurgeCounts) };
    for (const [table, sql] of childDeletesOfVideo) {
      while (childRowsOf(counts) > PURGE_CHUNK_ROWS && counts[table] > 0) {
        const { changes } = (await ctx.d1.prepare(sql).bind(id, PURGE_CHUNK_ROWS).run()).meta;
        counts[table] -= changes;
        if (changes < PURGE_CHUNK_ROWS) counts[table] = 0;
      }
    }
  }

  const deleted = new Set<string>();
  for (const batch of cascadeBatches(ids, perVideo)) {
    const results = await ctx.d1.batch(
      batch.flatMap((group) => {
        const entries = JSON.stringify(group.map((id) => [id, JSON.stringify({ ...perVideo.get(id), reason: input.reason })]));
        return [
          ctx.d1
            .prepare(
              `INSERT INTO keeper_audit_log (at, actor, action, target, dry_run, detail)
               SELECT ?, ?, 'archival.purge', v.id, 0, json_extract(entry.value, '$[1]')
               FROM json_each(?) AS entry JOIN videos v ON v.id = json_extract(entry.value, '$[0]') AND v.purging_at IS NOT NULL
               ORDER BY entry.key
               RETURNING target`,
            )
            .bind(ctx.now().getTime(), ctx.principal.actor, entries),
          // Deletes exactly the videos just audited (same transaction, same condition), so the audit
          // insert's RETURNING names the purged videos and this cascading DELETE returns nothing.
          ctx.d1.prepare(`DELETE FROM videos WHERE id IN (${inIds}) AND purging_at IS NOT NULL`).bind(JSON.stringify(group)),
        ];
      }),
    );
    for (let index = 0; index < results.length; index += 2)
      for (const row of results[index].results as { target: string }[]) deleted.add(row.target);
  }
  // In the set's order: RETURNING promises no order of its own.
  const purged = ids.filter((id) => deleted.has(id));
  let rows = 0;
  for (const id of purged) rows += 1 + childRowsOf(perVideo.get(id) as PurgeCounts);
  const media = await deletePurgedMedia(ctx, purged);
  return { purged, rows, ...media };
}

/**
 * Groups of videos whose children add up to at most PURGE_CHUNK_ROWS (one cascading statement
 * each), packed into batches of at most PURGE_BATCH_ROWS rows.
 */
function cascadeBatches(ids: string[], perVideo: Map<string, PurgeCounts>): string[][][] {
  const batches: string[][][] = [];
  let batch: string[][] = [];
  let batchRows = 0;
  let group: string[] = [];
  let groupRows = 0;
  const closeGroup = () => {
    if (group.length === 0) return;
    if (batchRows + groupRows > PURGE_BATCH_ROWS && batch.length > 0) {
      batches.push(batch);
      batch = [];
      batchRows = 0;
    }
    batch.push(group);
    batchRows += groupRows;
    group = [];
    groupRows = 0;
  };
  for (const id of ids) {
    const rows = Math.min(childRowsOf(perVideo.get(id) as PurgeCounts), PURGE_CHUNK_ROWS);
    if (groupRows + rows > PURGE_CHUNK_ROWS) closeGroup();
    group.push(id);
    groupRows += rows;
  }
  closeGroup();
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Files of purged videos: one listing finds who has any, then each of those in turn, a few at a time. */
async function deletePurgedMedia(ctx: AppContext, purged: string[]): Promise<{ mediaDeleted: number; mediaErrors: number }> {
  let mediaDeleted = 0;
  let mediaErrors = 0;
  const warn = (failure: unknown, videos: string[]) =>
    ctx.logger.warn("purge left media behind", {
      videos,
      error: failure instanceof Error ? failure.message : String(failure),
    });
  if (purged.length === 0) return { mediaDeleted, mediaErrors };
  let withMedia: string[];
  try {
    withMedia = [...(await videosWithMedia(ctx.media, purged))];
  } catch (failure) {
    warn(failure, purged);
    return { mediaDeleted, mediaErrors: purged.length };
  }
  const queue = [...withMedia];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        // Awaited first: `total += await …` would read the total before the wait and lose the other workers' counts.
        const deleted = await deletePrefix(ctx.media, mediaPrefix(id));
        mediaDeleted += deleted;
      } catch (failure) {
        mediaErrors++;
        warn(failure, [id]);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PURGE_MEDIA_CONCURRENCY, queue.length) }, worker));
  return { mediaDeleted, mediaErrors };
}
