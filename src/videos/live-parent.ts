import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { findVideoRow } from "./videos.service";

/**
 * Child rows are written with `INSERT … SELECT … WHERE EXISTS (live video)`, so the check and the
 * write are one statement. When nothing was inserted, this says why: no such video, or it is
 * soft-deleted (409: restore it first).
 */
export async function explainMissingLiveVideo(ctx: AppContext, videoId: string): Promise<never> {
  const row = await findVideoRow({ ctx, input: { id: videoId } });
  if (!row) throw notFound(`Video '${videoId}'`);
  throw new KeeperError("CONFLICT", `Video '${videoId}' is soft-deleted; restore it before adding to it`, {
    extra: { deleted_at: row.deletedAt === null ? null : new Date(row.deletedAt).toISOString() },
  });
}

export const liveVideoExists = "EXISTS (SELECT 1 FROM videos WHERE id = ? AND deleted_at IS NULL)";
