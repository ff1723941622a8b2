import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resolvePolicy } from "../../src/archival/policy";
import { retentionJobDefinition } from "../../src/archival/retention-job";
import { seedVideo } from "../support/factories";
import { runLocally } from "../support/jobs";

/**
 * Jobs driven through many steps: the budget is lowered so that a dataset a test can hold needs
 * many steps, as a large database does at the production budget. Every step runs under
 * production's per-invocation limits (KEEPER_PLATFORM_LIMITS=paid), and the runs report the most
 * queries and R2 calls any one step used.
 */
const DAY = 86_400_000;

describe("long jobs through many steps (budget lowered)", () => {
  it("retention purges hundreds of videos over many steps, none above its budget", async () => {
    const now = Date.UTC(2050, 0, 1);
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push((await seedVideo({ deletedAt: now - 30 * DAY })).id);
    const policy = resolvePolicy(env as unknown as Record<string, unknown>, { archive: false, cleanup: false, optimize: false });
    // A purge set of 90 videos without files costs 2 queries and 1 R2 call: one set per step.
    const budget = { queries: 3, r2Calls: 400, wallMs: 25_000 };
    const local = await runLocally({ definition: retentionJobDefinition, input: { policy, requestedAt: now }, budget });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}");
    expect(counts.videos_purged).toBeGreaterThanOrEqual(300);
    // begin, one step per purge set (300 / 90 → 4), finish.
    expect(counts.steps).toBeGreaterThanOrEqual(6);
    expect(counts.max_queries_per_step).toBeLessThanOrEqual(budget.queries);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM videos WHERE id IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(ids))
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  }, 240_000);
});
