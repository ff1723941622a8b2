import { eq } from "drizzle-orm";
import { videos } from "../db/schema";
import type { AppContext } from "../platform/context";
import { decodeCursor, isNumberStringPair } from "../platform/cursor";
import { notFound } from "../platform/errors";
import { toPage } from "./paging";
import { logStoredProblems, presentVideo } from "./present";
import { listVideosQuery } from "./queries";
import type { VideoInput } from "./validators";

export async function createVideo({ ctx, input }: { ctx: AppContext; input: VideoInput }) {
  const at = ctx.now().getTime();
  const [row] = await ctx.db
    .insert(videos)
    .values({
      id: input.id ?? crypto.randomUUID(),
      filename: input.filename,
      filePath: input.file_path,
      duration: input.duration,
      category: input.category ?? null,
      tags: input.tags ? JSON.stringify(input.tags) : null,
      metadata: input.metadata ? JSON.stringify(input.metadata) : null,
      createdAt: at,
      updatedAt: at,
    })
    .returning();
  return presentVideo(row);
}

export async function findVideoRow({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const [row] = await ctx.db.select().from(videos).where(eq(videos.id, input.id)).limit(1);
  return row ?? null;
}

/** A soft-deleted video is hidden unless asked for, like in listings. */
export async function getVideo({ ctx, input }: { ctx: AppContext; input: { id: string; includeDeleted: boolean } }) {
  const row = await findVideoRow({ ctx, input });
  if (!row || (row.deletedAt !== null && !input.includeDeleted)) throw notFound(`Video '${input.id}'`);
  const video = presentVideo(row);
  logStoredProblems(ctx.logger, "videos", [video]);
  return video;
}

export async function listVideos({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { includeDeleted: boolean; cursor?: string; limit: number };
}) {
  const after = input.cursor ? decodeCursor(input.cursor, isNumberStringPair) : undefined;
  const rows = await listVideosQuery(ctx.db, { includeDeleted: input.includeDeleted, after, limit: input.limit + 1 });
  const page = toPage(rows, input.limit, presentVideo, (row) => [row.createdAt, row.id]);
  logStoredProblems(ctx.logger, "videos", page.items);
  return page;
}
