import { and, desc, eq, isNotNull, lt, or } from "drizzle-orm";
import { videos } from "../db/schema";
import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { decodeCursor, isNumberStringPair } from "../platform/cursor";
import { KeeperError, notFound } from "../platform/errors";
import { toPage } from "../videos/paging";
import { presentVideo } from "../videos/present";
import { findVideoRow } from "../videos/videos.service";

/**
 * Soft delete hides a video from the data API and refuses new writes to it; nothing is removed
 * until the purge policy (or an explicit purge) runs after the retention window. Each change is
 * one conditional UPDATE batched with its audit row, so repeating it changes nothing twice.
 */
export async function softDeleteVideo({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const at = ctx.now().getTime();
  const [update] = await ctx.d1.batch([
    ctx.d1.prepare("UPDATE videos SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL").bind(at, at, input.id),
    auditStatement(ctx, { action: "archival.soft-delete", target: input.id }, { onlyIfPreviousChanged: true }),
  ]);
  const row = await findVideoRow({ ctx, input });
  if (!row) throw notFound(`Video '${input.id}'`);
  return { video: presentVideo(row), changed: update.meta.changes > 0 };
}

export async function restoreVideo({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const existing = await findVideoRow({ ctx, input });
  if (!existing) throw notFound(`Video '${input.id}' (it may already have been purged)`);
  if (existing.deletedAt === null) return { video: presentVideo(existing), changed: false };
  if (existing.purgingAt !== null) {
    throw new KeeperError(
      "CONFLICT",
      `Video '${input.id}' is being purged (since ${new Date(existing.purgingAt).toISOString()}); it cannot be restored. Run the purge again to finish it`,
    );
  }
  const at = ctx.now().getTime();
  const [update] = await ctx.d1.batch([
    ctx.d1
      .prepare("UPDATE videos SET deleted_at = NULL, updated_at = ? WHERE id = ? AND deleted_at = ? AND purging_at IS NULL")
      .bind(at, input.id, existing.deletedAt),
    // Audited only when the row changed: a restore that lost a race records nothing.
    auditStatement(
      ctx,
      { action: "archival.restore", target: input.id, detail: { deleted_at: existing.deletedAt } },
      { onlyIfPreviousChanged: true },
    ),
  ]);
  if (update.meta.changes === 0) throw new KeeperError("CONFLICT", `Video '${input.id}' changed while restoring; try again`);
  const row = await findVideoRow({ ctx, input });
  return { video: presentVideo(row as NonNullable<typeof row>), changed: true };
}

export async function listDeletedVideos({ ctx, input }: { ctx: AppContext; input: { cursor?: string; limit: number } }) {
  const after = input.cursor ? decodeCursor(input.cursor, isNumberStringPair) : undefined;
  const keyset = after
    ? or(lt(videos.deletedAt, after[0]), and(eq(videos.deletedAt, after[0]), lt(videos.id, after[1])))
    : undefined;
  const rows = await ctx.db
    .select()
    .from(videos)
    .where(and(isNotNull(videos.deletedAt), keyset))
    .orderBy(desc(videos.deletedAt), desc(videos.id))
    .limit(input.limit + 1);
  const now = ctx.now().getTime();
  return toPage(
    rows,
    input.limit,
    (row) => ({ ...presentVideo(row), deleted_days_ago: Math.floor((now - (row.deletedAt ?? now)) / 86_400_000) }),
    (row) => [row.deletedAt, row.id],
  );
}
