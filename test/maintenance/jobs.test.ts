import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RETENTION_JOB } from "../../src/archival/policies.service";
import { jobsByCron } from "../../src/maintenance/jobs";
import { dispatchScheduled } from "../../src/maintenance/scheduled";
import { parseConfig } from "../../src/platform/config";
import { at, count, DAY } from "../archival/support";
import { seedConversation, seedVideo } from "../support/factories";
import { call, json } from "../support/http";
import { leaseOf, waitForRun } from "../support/jobs";

const config = parseConfig(env as unknown as Record<string, unknown>);

describe("retention as a Workflow", () => {
  it("HTTP starts an instance whose run shows progress and ends with the job's counts and per-step figures", async () => {
    const now = Date.UTC(2040, 0, 1);
    const due = await seedVideo({ deletedAt: now - 30 * DAY });
    const started = await at(now, "POST", "/admin/archival/apply-policies", { body: { confirm: true } });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ started: true, run: { status: "running", job: RETENTION_JOB } });
    expect(started.body.run.instance_id).toMatch(/^retention-20400101T000000Z-/);

    const run = await waitForRun(started.body.run.id);
    expect(run.status).toBe("succeeded");
    expect(run.workflow?.status).toBe("complete");
    expect(run.counts).toMatchObject({ videos_purged: expect.any(Number), optimized: true });
    expect(Number(run.counts?.steps)).toBeGreaterThanOrEqual(3);
    expect(Number(run.counts?.max_queries_per_step)).toBeLessThanOrEqual(900);
    expect(run.progress).toMatchObject({ phase: "done", unit: "phases" });
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", due.id)).toBe(0);
    expect(await leaseOf(RETENTION_JOB)).toBeNull();

    const listed = await json<{ items: { id: number }[] }>(
      await call("GET", `/admin/jobs?job=${RETENTION_JOB}`, { token: "read" }),
    );
    expect(listed.items.map((item) => item.id)).toContain(run.id);
  });

  it("a manual start while one runs returns that run; the cron starts one instance per day however often it fires", async () => {
    const now = Date.UTC(2041, 0, 1, 3, 30);
    await seedVideo({ deletedAt: now - 30 * DAY });
    const [a, b] = await Promise.all([
      at(now, "POST", "/admin/archival/apply-policies", { body: { confirm: true } }),
      at(now, "POST", "/admin/archival/apply-policies", { body: { confirm: true } }),
    ]);
    expect([a.body.started, b.body.started].sort()).toEqual([false, true]);
    expect(a.body.run.id).toBe(b.body.run.id);
    await waitForRun(a.body.run.id);

    const fire = () =>
      dispatchScheduled({
        controller: createScheduledController({ cron: "30 3 * * *", scheduledTime: now }),
        env,
        config,
        jobs: jobsByCron,
        deps: { now: () => new Date(now) },
      });
    const [first] = await fire();
    expect(first).toMatchObject({ job: RETENTION_JOB, trigger: "cron", instance_id: "retention-20410101" });
    const [again] = await fire();
    expect(again.id).toBe(first.id);
    expect((await waitForRun(first.id)).status).toBe("succeeded");
  });

  it("cancel terminates the instance, records the run cancelled and frees the lease", async () => {
    const now = Date.UTC(2042, 0, 1);
    const video = await seedVideo();
    for (let i = 0; i < 3; i++) await seedConversation(video.id, { updatedAt: now - 90 * DAY, messages: 2 });
    const started = await at(now, "POST", "/admin/archival/apply-policies", { body: { confirm: true } });
    const id = started.body.run.id as number;
    expect((await call("POST", `/admin/jobs/${id}/cancel`, { body: {} })).status).toBe(428);
    const cancelled = await call("POST", `/admin/jobs/${id}/cancel`, { body: { confirm: true } });
    expect(cancelled.status).toBe(200);
    expect((await json<{ run: { status: string } }>(cancelled)).run.status).toBe("cancelled");
    const run = await waitForRun(id);
    expect(run.status).toBe("cancelled");
    expect(run.workflow?.status).toMatch(/terminated|complete|errored/);
    expect(await leaseOf(RETENTION_JOB)).toBeNull();
    expect((await call("POST", `/admin/jobs/${id}/cancel`, { body: { confirm: true } })).status).toBe(409);
    expect((await call("GET", "/admin/jobs/999999999", { token: "read" })).status).toBe(404);
  });
});
