import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";

export interface DeletedVideo {
  id: string;
  filename: string;
  category: string | null;
  deleted_at: string;
  age_days: number;
}

interface VideoState {
  id: string;
  deleted_at: number | null;
}

async function videoState(ctx: AppContext, id: string): Promise<VideoState> {
  const row = await ctx.d1.prepare("SELECT id, deleted_at FROM videos WHERE id = ?").bind(id).first<VideoState>();
  if (!row) throw notFound(`Video '${id}'`);
  return row;
}

/** Hides a video from the data API. Repeating it keeps the first deletion time. */
export async function softDeleteVideo({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const before = await videoState(ctx, input.id);
  if (before.deleted_at !== null) {
    return { id: input.id, deleted_at: new Date(before.deleted_at).toISOString(), changed: false };
  }
  const at = ctx.now().getTime();
  const [update] = await ctx.d1.batch([
    ctx.d1.prepare("UPDATE videos SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL").bind(at, at, input.id),
    auditStatement(ctx, { action: "archival.soft-delete", target: input.id }),
  ]);
  if (update.meta.changes === 0) return softDeleteVideo({ ctx, input });
  return { id: input.id, deleted_at: new Date(at).toISOString(), changed: true };
}

/** Brings a soft-deleted video back. Restoring a live video is a no-op; a purged one is 404. */
export async function restoreVideo({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const before = await videoState(ctx, input.id);
  if (before.deleted_at === null) return { id: input.id, deleted_at: null, changed: false };
  const at = ctx.now().getTime();
  await ctx.d1.batch([
    ctx.d1.prepare("UPDATE videos SET deleted_at = NULL, updated_at = ? WHERE id = ?").bind(at, input.id),
    auditStatement(ctx, {
      action: "archival.restore",
      target: input.id,
      detail: { was_deleted_at: new Date(before.deleted_at).toISOString() },
    }),
  ]);
  return { id: input.id, deleted_at: null, changed: true };
}

/** Soft-deleted videos, oldest deletion first, keyset-paged by (deleted_at, id). */
export async function listDeletedVideos({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { limit: number; cursor?: string };
}): Promise<{ items: DeletedVideo[]; next_cursor: string | null }> {
  let after: [number, string] = [-1, ""];
  if (input.cursor) {
    const [at, ...rest] = input.cursor.split(":");
    const atMs = Number(at);
    if (!Number.isInteger(atMs) || rest.length === 0) throw new KeeperError("BAD_REQUEST", "The cursor is not valid");
    after = [atMs, rest.join(":")];
  }
  const { results } = await ctx.d1
    .prepare(
      `SELECT id, filename, category, deleted_at FROM videos
       WHERE deleted_at IS NOT NULL AND (deleted_at > ? OR (deleted_at = ? AND id > ?))
       ORDER BY deleted_at, id LIMIT ?`,
    )
    .bind(after[0], after[0], after[1], input.limit + 1)
    .all<{ id: string; filename: string; category: string | null; deleted_at: number }>();
  const now = ctx.now().getTime();
  const page = results.slice(0, input.limit);
  const last = page.at(-1);
  return {
    items: page.map((row) => ({
      id: row.id,
      filename: row.filename,
      category: row.category,
      deleted_at: new Date(row.deleted_at).toISOString(),
      age_days: Math.floor(((now - row.deleted_at) / 86_400_000) * 100) / 100,
    })),
    next_cursor: results.length > input.limit && last ? `${last.deleted_at}:${last.id}` : null,
  };
}
