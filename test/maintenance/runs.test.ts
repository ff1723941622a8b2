import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { acquireLease, readLease, releaseLease } from "../../src/maintenance/lease";
import { lastRun, listRuns, runExclusive } from "../../src/maintenance/runs";
import { dispatchScheduled, type MaintenanceJob } from "../../src/maintenance/scheduled";
import { parseConfig } from "../../src/platform/config";
import { createContext } from "../../src/platform/context";
import { uniqueId } from "../support/factories";

const config = parseConfig(env as unknown as Record<string, unknown>);

function contextAt(clock: { now: number }, actor = "test") {
  return createContext(
    env,
    config,
    { now: () => new Date(clock.now) },
    { requestId: "t", principal: { actor, scopes: ["admin"] } },
  );
}

describe("leases", () => {
  it("one holder at a time; an expired lease is taken over", async () => {
    const clock = { now: Date.UTC(2030, 0, 1) };
    const ctx = contextAt(clock);
    const name = uniqueId("lease");
    expect(await acquireLease({ ctx, input: { name, holder: "a", ttlMs: 60_000 } })).toBe(true);
    expect(await acquireLease({ ctx, input: { name, holder: "b", ttlMs: 60_000 } })).toBe(false);
    clock.now += 60_000;
    expect(await acquireLease({ ctx, input: { name, holder: "b", ttlMs: 60_000 } })).toBe(true);
    expect((await readLease({ ctx, input: { name } }))?.holder).toBe("b");
    await releaseLease({ ctx, input: { name, holder: "a" } });
    expect((await readLease({ ctx, input: { name } }))?.holder).toBe("b");
    await releaseLease({ ctx, input: { name, holder: "b" } });
    expect(await readLease({ ctx, input: { name } })).toBeNull();
  });

  it("of many simultaneous takers exactly one wins", async () => {
    const ctx = contextAt({ now: Date.UTC(2030, 0, 1) });
    const name = uniqueId("lease");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => acquireLease({ ctx, input: { name, holder: `h${i}`, ttlMs: 60_000 } })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe("runExclusive", () => {
  it("records a run with counts, and an overlapping cron run as skipped", async () => {
    const ctx = contextAt({ now: Date.UTC(2030, 0, 1) });
    const job = uniqueId("job");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = runExclusive({
      ctx,
      input: { job, trigger: "cron" },
      work: async () => {
        await gate;
        return { counts: { deleted: 3 } };
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await runExclusive({ ctx, input: { job, trigger: "cron" }, work: async () => ({ counts: { deleted: 99 } }) });
    expect(second.status).toBe("skipped");
    await expect(
      runExclusive({ ctx, input: { job, trigger: "manual" }, work: async () => ({ counts: {} }) }),
    ).rejects.toMatchObject({
      code: "LOCKED",
    });
    release();
    const done = await first;
    expect(done).toMatchObject({ status: "succeeded", counts: { deleted: 3 } });
    expect((await lastRun({ ctx, input: { job, status: "succeeded" } }))?.id).toBe(done.id);
    expect((await listRuns({ ctx, input: { job, limit: 10 } })).map((run) => run.status).sort()).toEqual([
      "skipped",
      "succeeded",
    ]);
  });

  it("records a failure and releases the lease, so the next run starts at once", async () => {
    const ctx = contextAt({ now: Date.UTC(2030, 0, 1) });
    const job = uniqueId("job");
    const failed = await runExclusive({
      ctx,
      input: { job, trigger: "cron" },
      work: async () => {
        throw new Error("R2 went away");
      },
    });
    expect(failed).toMatchObject({ status: "failed", error: "R2 went away" });
    const next = await runExclusive({ ctx, input: { job, trigger: "cron" }, work: async () => ({ counts: { ran: true } }) });
    expect(next.status).toBe("succeeded");
  });

  it("reports partial when the work stops at its deadline", async () => {
    const clock = { now: Date.UTC(2030, 0, 1) };
    const ctx = contextAt(clock);
    const run = await runExclusive({
      ctx,
      input: { job: uniqueId("job"), trigger: "cron", budgetMs: 1000 },
      work: async ({ deadline }) => {
        clock.now = deadline + 1;
        return { counts: { chunks: 1 }, partial: ctx.now().getTime() > deadline };
      },
    });
    expect(run.status).toBe("partial");
  });
});

describe("scheduled dispatch", () => {
  it("runs the jobs of the cron that fired, in order, and survives one throwing", async () => {
    const order: string[] = [];
    const job = (name: string, fail = false): MaintenanceJob => ({
      name,
      run: async ({ ctx }) => {
        order.push(name);
        if (fail) throw new Error("boom");
        return runExclusive({ ctx, input: { job: uniqueId(name), trigger: "cron" }, work: async () => ({ counts: {} }) });
      },
    });
    const runs = await dispatchScheduled({
      controller: { cron: "0 4 * * *", scheduledTime: Date.UTC(2030, 0, 1, 4) },
      env,
      config,
      jobs: { "0 4 * * *": [job("a"), job("b", true), job("c")], "0 * * * *": [job("other")] },
    });
    expect(order).toEqual(["a", "b", "c"]);
    expect(runs.map((run) => run.actor)).toEqual(["cron", "cron"]);
    expect(await dispatchScheduled({ controller: { cron: "1 1 1 1 1", scheduledTime: 0 }, env, config, jobs: {} })).toEqual([]);
  });
});
