import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { videosWithMedia } from "../../src/archival/media";
import { countR2Calls } from "../../src/maintenance/budget";

describe("which videos have files in MEDIA", () => {
  it("decides every id from listings of video prefixes, jumping over more than a page of other videos", async () => {
    // Ids sort differently from their prefixes ("a-2/" sorts before "a/"); fillers fill more than one listing page.
    const withFiles = ["walk-a", "walk-a-2", "walk-z"];
    const without = ["walk-a.b", "walk-m", "walk-zz"];
    for (const id of withFiles) await env.MEDIA.put(`videos/${id}/frames/1.jpg`, "x");
    const fillers = Array.from({ length: 1005 }, (_, i) => `walk-f${String(i).padStart(4, "0")}`);
    await Promise.all(fillers.map((id) => env.MEDIA.put(`videos/${id}/source/v.mp4`, "x")));
    await env.MEDIA.put("videos/walk-m", "a key beside the prefixes, not a file of walk-m");

    let calls = 0;
    const bucket = countR2Calls(env.MEDIA, () => calls++);
    const found = await videosWithMedia(bucket, [...without, ...withFiles].reverse());

    expect([...found].sort()).toEqual(withFiles.sort());
    // Page 1 runs from walk-a's prefix through 1000 prefixes; page 2 starts at walk-m and ends the listing.
    expect(calls).toBe(2);
  });

  it("costs one listing for a set whose videos have no files", async () => {
    let calls = 0;
    const bucket = countR2Calls(env.MEDIA, () => calls++);
    const ids = Array.from({ length: 90 }, (_, i) => `bare-${i}`);
    expect((await videosWithMedia(bucket, ids)).size).toBe(0);
    expect(calls).toBe(1);
  });
});
