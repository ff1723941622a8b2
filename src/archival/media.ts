import type { AppContext } from "../platform/context";

/** Everything of a video in MEDIA lives under this prefix (source/, frames/, cache/). */
export const mediaPrefix = (videoId: string) => `videos/${videoId}/`;

/** R2 `delete()` takes at most 1000 keys; listing pages are at most 1000 too. */
const R2_PAGE = 1000;

export async function listMediaKeys(ctx: AppContext, videoId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.media.list({ prefix: mediaPrefix(videoId), cursor, limit: R2_PAGE });
    for (const object of page.objects) keys.push(object.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/** Deletes every object under the video's prefix, page by page; returns how many were deleted. */
export async function deleteMediaOf(ctx: AppContext, videoId: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await ctx.media.list({ prefix: mediaPrefix(videoId), limit: R2_PAGE });
    if (page.objects.length === 0) return deleted;
    await ctx.media.delete(page.objects.map((object) => object.key));
    deleted += page.objects.length;
  }
}

/** Video ids that have objects in MEDIA, one listing page at a time (delimited by '/'). */
export async function* mediaVideoIds(ctx: AppContext): AsyncGenerator<string[]> {
  let cursor: string | undefined;
  do {
    const page = await ctx.media.list({ prefix: "videos/", delimiter: "/", cursor, limit: R2_PAGE });
    const ids = page.delimitedPrefixes.map((prefix) => prefix.slice("videos/".length, -1)).filter((id) => id !== "");
    if (ids.length > 0) yield ids;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}
