/**
 * The app's files in MEDIA live under one prefix per video (`videos/<video_id>/source|frames|cache/…`),
 * so "everything of a video" is one paged R2 listing, and a video id is the second path segment.
 */

export const mediaPrefix = (videoId: string) => `videos/${videoId}/`;

/** Video ids that have files: the `videos/<id>/` prefixes, a page at a time. */
export async function* mediaVideoIdPages(bucket: R2Bucket): AsyncGenerator<string[]> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: "videos/", delimiter: "/", cursor, limit: 1000 });
    const ids = page.delimitedPrefixes.map((prefix) => prefix.slice("videos/".length, -1)).filter((id) => id.length > 0);
    if (ids.length > 0) yield ids;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}
