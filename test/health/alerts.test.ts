import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { healthSnapshotJob } from "../../src/health/jobs";
import { dispatchScheduled } from "../../src/maintenance/scheduled";
import { parseConfig } from "../../src/platform/config";
import { seedJobRun, seedSlowQueries } from "../support/factories";

const config = parseConfig(env as unknown as Record<string, unknown>);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Received {
  kind: string;
  from?: string;
  to?: string;
  run_id?: number;
}

/**
 * A webhook that can be taken down and brought back: while down it answers 503 and records nothing;
 * while up it records every alert it accepts. Each test gets its own URL (alert state is kept per
 * webhook) and its own far-away dates (the health facts read "since", with no upper bound).
 */
function webhook() {
  const url = `https://hooks.example/services/T000/B000/${crypto.randomUUID()}`;
  const received: Received[] = [];
  let down = false;
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.url !== url) return new Response("wrong receiver", { status: 404 });
    if (down) return new Response("unavailable", { status: 503 });
    received.push(JSON.parse(await request.text()) as Received);
    return new Response("ok");
  }) as typeof globalThis.fetch;
  const hourly = (now: number, extraEnv: Record<string, string> = {}) =>
    dispatchScheduled({
      controller: createScheduledController({ cron: "0 * * * *", scheduledTime: now }),
      env: { ...env, ALERT_WEBHOOK_URLS: url, ...extraEnv } as Env,
      config,
      jobs: { "0 * * * *": [healthSnapshotJob] },
      deps: { fetch, now: () => new Date(now) },
    });
  return {
    received,
    hourly,
    setDown: (value: boolean) => {
      down = value;
    },
  };
}

/** More than 10 slow queries in 24 h costs 10 points. */
const slowQueries = (at: number) => seedSlowQueries(at, 11);
const failedRun = (job: string, startedAt: number, finishedAt: number) =>
  seedJobRun({ job, status: "failed", startedAt, finishedAt, error: "R2 down" });

describe("alerts", () => {
  it("with the webhook down then up, every alert arrives exactly once per episode", async () => {
    const hook = webhook();
    const t0 = Date.UTC(2034, 0, 1);
    await hook.hourly(t0);
    expect(hook.received).toEqual([]); // healthy (no backup yet: −10, score 90) says nothing

    // Episode 1: warning (slow queries −10, a failed run −5), while the webhook is down.
    await slowQueries(t0 + HOUR);
    const failed = await failedRun("backups.create", t0 + HOUR, t0 + HOUR + 1000);
    hook.setDown(true);
    await hook.hourly(t0 + 2 * HOUR);
    expect(hook.received).toEqual([]);
    // Back up: the worsening and the failure arrive at the next evaluation, once each.
    hook.setDown(false);
    await hook.hourly(t0 + 3 * HOUR);
    expect(hook.received).toEqual([
      expect.objectContaining({ kind: "status_worsened", from: "healthy", to: "warning" }),
      expect.objectContaining({ kind: "job_failed", run_id: failed }),
    ]);
    await hook.hourly(t0 + 4 * HOUR);
    expect(hook.received).toHaveLength(2);

    // Two days on the slow queries and the failure are out of the 24 h window: healthy, no alert.
    await hook.hourly(t0 + 2 * DAY);
    expect(hook.received).toHaveLength(2);
    // Episode 2: worse again, alerted again, once.
    await slowQueries(t0 + 2 * DAY + HOUR);
    const again = await failedRun("backups.create", t0 + 2 * DAY + HOUR, t0 + 2 * DAY + HOUR + 1000);
    await hook.hourly(t0 + 2 * DAY + 2 * HOUR);
    await hook.hourly(t0 + 2 * DAY + 3 * HOUR);
    expect(hook.received.slice(2)).toEqual([
      expect.objectContaining({ kind: "status_worsened", from: "healthy", to: "warning" }),
      expect.objectContaining({ kind: "job_failed", run_id: again }),
    ]);
  }, 30_000);

  it("alerts on the first evaluation when the database is already unhealthy", async () => {
    const hook = webhook();
    const t0 = Date.UTC(2035, 0, 1);
    // Slow queries (−10), a failed run (−5) and no backup (−10): warning before anything was alerted.
    await slowQueries(t0 - HOUR);
    await failedRun("archival.purge", t0 - HOUR, t0 - HOUR + 1000);
    await hook.hourly(t0);
    expect(hook.received).toContainEqual(expect.objectContaining({ kind: "status_worsened", from: "healthy", to: "warning" }));
  });

  it("alerts a long run that failed after a later run's failure was already alerted", async () => {
    const hook = webhook();
    const t0 = Date.UTC(2036, 0, 1);
    await hook.hourly(t0);
    // The long run starts first (lower id) and is still running when a later, short run fails.
    const long = await seedJobRun({ job: "backups.create", status: "running", startedAt: t0 + 10 * 60_000 });
    const short = await failedRun("archival.purge", t0 + 20 * 60_000, t0 + 21 * 60_000);
    await hook.hourly(t0 + HOUR);
    await env.DB.prepare("UPDATE keeper_job_runs SET status = 'failed', finished_at = ?, error = 'timed out' WHERE id = ?")
      .bind(t0 + HOUR + 30 * 60_000, long)
      .run();
    await hook.hourly(t0 + 2 * HOUR);
    const failures = hook.received.filter((alert) => alert.kind === "job_failed").map((alert) => alert.run_id);
    expect(failures).toEqual([short, long]);
  });

  it("alerts while the snapshot itself keeps failing", async () => {
    const hook = webhook();
    const t0 = Date.UTC(2037, 0, 1);
    await hook.hourly(t0);
    const failing = vi.spyOn(env.DB, "batch").mockRejectedValueOnce(new Error("D1_ERROR: overloaded"));
    try {
      await hook.hourly(t0 + HOUR);
    } finally {
      failing.mockRestore();
    }
    const runs = await env.DB.prepare(
      "SELECT id FROM keeper_job_runs WHERE job = 'health.snapshot' AND status = 'failed' AND started_at = ?",
    )
      .bind(t0 + HOUR)
      .all<{ id: number }>();
    expect(runs.results).toHaveLength(1);
    expect(hook.received).toEqual([expect.objectContaining({ kind: "job_failed", run_id: runs.results[0].id })]);
  });
});
