import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resolvePolicy } from "../../src/archival/policy";
import { retentionJobDefinition } from "../../src/archival/retention-job";
import { slowed } from "../support/bindings";
import { seedVideo, uniqueId } from "../support/factories";
import { runLocally } from "../support/jobs";
import { DAY, putMedia } from "./support";

describe("retention's phase times", () => {
  it("reports the time each phase took, and puts a slow MEDIA listing's time in the phases that list it", async () => {
    const now = Date.now() + 2 * DAY;
    for (let i = 0; i < 3; i++) {
      const { id } = await seedVideo({ deletedAt: now - 30 * DAY });
      await putMedia(id, ["source/v.mp4"]);
    }
    await putMedia(uniqueId("orphan"), ["source/v.mp4"]);
    const delay = 400;
    const local = await runLocally({
      definition: retentionJobDefinition,
      input: { policy: resolvePolicy(env as unknown as Record<string, unknown>, {}), requestedAt: now },
      now,
      bindings: { ...env, MEDIA: slowed(env.MEDIA, "list", delay) } as unknown as Env,
    });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}") as Record<string, number>;
    expect(counts.videos_purged).toBe(3);
    for (const phase of ["purge", "orphan_media"]) expect(counts[`${phase}_ms`], phase).toBeGreaterThanOrEqual(delay);
    for (const phase of ["archive", "orphan_rows", "optimize"]) expect(counts[`${phase}_ms`], phase).toBeLessThan(delay);
    const phases = ["purge", "archive", "orphan_rows", "orphan_media", "optimize"].map((phase) => counts[`${phase}_ms`]);
    expect(phases.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(counts.step_ms_total);
  });
});
