/**
 * The app's files in MEDIA live under one prefix per video (`videos/<video_id>/source|frames|cache/…`),
 * so "everything of a video" is one paged R2 listing, and a video id is the second path segment.
 */

export const mediaPrefix = (videoId: string) => `videos/${videoId}/`;

/** One page (≤ `limit`, at most 1000) of the video ids that have files, and the cursor of the next page (null: last). */
export async function mediaVideoIdPage(
  bucket: R2Bucket,
  cursor: string | null,
  limit = 1000,
): Promise<{ ids: string[]; next: string | null }> {
  const page = await bucket.list({ prefix: "videos/", delimiter: "/", cursor: cursor ?? undefined, limit });
  const ids = page.delimitedPrefixes.map((prefix) => prefix.slice("videos/".length, -1)).filter((id) => id.length > 0);
  return { ids, next: page.truncated ? page.cursor : null };
}

const utf8 = new TextEncoder();

/** R2 orders keys by their UTF-8 bytes; JavaScript's `<` orders UTF-16 units, which differs past U+FFFF. */
function byKeyOrder(a: string, b: string): number {
  const [x, y] = [utf8.encode(a), utf8.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Which of `ids` have any file in MEDIA, from the bucket's listing of video prefixes instead of one
 * listing per video. The ids are walked in key order: each call lists the prefixes from the first
 * id not yet decided onwards (up to 1000 of them), which decides every id up to the last prefix
 * listed, then jumps to the next undecided id. So a set of videos costs one call when few videos
 * have files, at most one call per id when every gap is 1000 prefixes wide, and never more than
 * that plus the pages of a listing R2 cut short.
 */
export async function videosWithMedia(bucket: R2Bucket, ids: string[]): Promise<Set<string>> {
  const prefixes = [...new Set(ids)].map(mediaPrefix).sort(byKeyOrder);
  const found = new Set<string>();
  let next = 0;
  let cursor: string | undefined;
  while (next < prefixes.length) {
    const page = await bucket.list({
      prefix: "videos/",
      delimiter: "/",
      limit: 1000,
      ...(cursor ? { cursor } : { startAfter: prefixes[next].slice(0, -1) }),
    });
    for (const listed of page.delimitedPrefixes) found.add(listed);
    if (!page.truncated) break;
    // Listed so far: everything up to the page's last entry, prefix or key, whichever sorts last.
    const last = [page.delimitedPrefixes.at(-1), page.objects.at(-1)?.key]
      .filter((entry): entry is string => entry !== undefined)
      .sort(byKeyOrder)
      .at(-1);
    const before = next;
    while (last !== undefined && next < prefixes.length && byKeyOrder(prefixes[next], last) <= 0) next++;
    // A page that decided nothing (R2 may cut a page short) continues where it stopped.
    cursor = next === before ? page.cursor : undefined;
  }
  return new Set([...new Set(ids)].filter((id) => found.has(mediaPrefix(id))));
}
