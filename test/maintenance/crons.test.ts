import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { jobsByCron } from "../../src/maintenance/jobs";

describe("cron triggers", () => {
  it("every cron in wrangler.toml runs at least one job, and every scheduled job has its cron", () => {
    expect([...env.WRANGLER_CRONS].sort()).toEqual(Object.keys(jobsByCron).sort());
    for (const [cron, jobs] of Object.entries(jobsByCron)) expect(jobs.length, cron).toBeGreaterThan(0);
  });
});
