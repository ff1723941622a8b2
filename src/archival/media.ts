/**
 * The app's files in MEDIA live under one prefix per video (`videos/<video_id>/source|frames|cache/…`),
 * so "everything of a video" is one paged R2 listing, and a video id is the second path segment.
 */

export const mediaPrefix = (videoId: string) => `videos/${videoId}/`;

/** One page (≤ 1000) of the video ids that have files, and the cursor of the next page (null: last). */
export async function mediaVideoIdPage(bucket: R2Bucket, cursor: string | null): Promise<{ ids: string[]; next: string | null }> {
  const page = await bucket.list({ prefix: "videos/", delimiter: "/", cursor: cursor ?? undefined, limit: 1000 });
  const ids = page.delimitedPrefixes.map((prefix) => prefix.slice("videos/".length, -1)).filter((id) => id.length > 0);
  return { ids, next: page.truncated ? page.cursor : null };
}
