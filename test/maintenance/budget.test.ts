import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BudgetExhausted, budgetProfiles, countD1Calls, countR2Calls, StepMeter } from "../../src/maintenance/budget";
import { readLease } from "../../src/maintenance/lease";
import { CPU_LIMIT_EXCEEDED, limitInvocation, TOO_MANY_API_REQUESTS } from "../../src/maintenance/platform-limits";
import { LEASE_EXPIRED_ERROR, listRuns, runExclusive } from "../../src/maintenance/runs";
import { parseConfig } from "../../src/platform/config";
import { createContext } from "../../src/platform/context";
import { uniqueId } from "../support/factories";

const config = parseConfig(env as unknown as Record<string, unknown>);

function contextAt(clock: { now: number }, bindings: Env = env) {
  return createContext(
    bindings,
    config,
    { now: () => new Date(clock.now) },
    { requestId: "t", principal: { actor: "test", scopes: ["admin"] } },
  );
}

describe("binding call counting", () => {
  it("counts every D1 query once (a batch once) and every R2 request, multipart parts included", async () => {
    let d1Calls = 0;
    let r2Calls = 0;
    const d1 = countD1Calls(env.DB, () => d1Calls++);
    const bucket = countR2Calls(env.BACKUPS, () => r2Calls++);
    const statement = d1.prepare("SELECT ? AS n");
    await statement.bind(1).first();
    await statement.bind(2).all();
    await statement.bind(3).raw();
    await d1.prepare("SELECT 1").run();
    expect(d1Calls).toBe(4);
    const results = await d1.batch([d1.prepare("SELECT ? AS n").bind(7), d1.prepare("SELECT 8 AS n")]);
    expect(results.map((r) => r.results)).toEqual([[{ n: 7 }], [{ n: 8 }]]);
    expect(d1Calls).toBe(5);

    const key = `${uniqueId("budget")}/object`;
    await bucket.put(key, "x");
    await bucket.head(key);
    await (await bucket.get(key))?.text();
    await bucket.list({ prefix: key });
    const upload = await bucket.createMultipartUpload(`${key}-multi`);
    const part = await bucket.resumeMultipartUpload(`${key}-multi`, upload.uploadId).uploadPart(1, "abc");
    await upload.complete([part]);
    await bucket.delete([key, `${key}-multi`]);
    expect(r2Calls).toBe(8);
  });

  it("a step meter refuses the call past its budget and reports room before it", async () => {
    const clock = { now: 0 };
    const meter = new StepMeter({ queries: 2, r2Calls: 1, wallMs: 1000 }, () => clock.now);
    const d1 = countD1Calls(env.DB, () => meter.countQuery());
    expect(meter.hasRoom({ queries: 2 })).toBe(true);
    await d1.prepare("SELECT 1").first();
    expect(meter.remaining()).toEqual({ queries: 1, r2Calls: 1 });
    await d1.prepare("SELECT 1").first();
    expect(meter.remaining()).toEqual({ queries: 0, r2Calls: 1 });
    expect(meter.hasRoom({ queries: 1 })).toBe(false);
    await expect(d1.prepare("SELECT 1").first()).rejects.toBeInstanceOf(BudgetExhausted);
    expect(meter.reading()).toEqual({ queries: 2, r2Calls: 0, elapsedMs: 0 });
    clock.now = 1000;
    expect(meter.hasRoom()).toBe(false);
    expect(budgetProfiles.paid.queries).toBe(900);
    expect(budgetProfiles.free.queries).toBe(45);
  });
});

describe("production limits in tests", () => {
  it("the 1,001st D1 query of an invocation throws production's error, across both databases", async () => {
    const invocation = limitInvocation(env, "paid");
    const statements = Array.from({ length: 499 }, () => invocation.env.DB.prepare("SELECT 1").first());
    await Promise.all(statements);
    await Promise.all(Array.from({ length: 500 }, () => invocation.env.SCRATCH_DB.prepare("SELECT 1").first()));
    await invocation.env.DB.batch([invocation.env.DB.prepare("SELECT 1")]);
    expect(invocation.reading().queries).toBe(1000);
    await expect(invocation.env.DB.prepare("SELECT 1").first()).rejects.toThrow(TOO_MANY_API_REQUESTS);
    // A fresh invocation (the next Workflow step) starts from zero.
    await expect(limitInvocation(env, "paid").env.DB.prepare("SELECT 1").first()).resolves.toEqual({ 1: 1 });
  });

  it("the free plan stops at 50 queries and 50 R2 calls", async () => {
    const invocation = limitInvocation(env, "free");
    for (let i = 0; i < 50; i++) await invocation.env.MEDIA.head(`missing-${i}`);
    await expect(invocation.env.BACKUPS.head("missing")).rejects.toThrow(TOO_MANY_API_REQUESTS);
    for (let i = 0; i < 50; i++) await invocation.env.DB.prepare("SELECT 1").first();
    await expect(invocation.env.DB.prepare("SELECT 1").first()).rejects.toThrow(TOO_MANY_API_REQUESTS);
  });

  it("a call after the CPU limit's worth of time throws production's CPU error", async () => {
    const clock = { now: 0 };
    const invocation = limitInvocation(env, "paid", () => clock.now);
    await invocation.env.DB.prepare("SELECT 1").first();
    clock.now = 30_001;
    await expect(invocation.env.DB.prepare("SELECT 1").first()).rejects.toThrow(CPU_LIMIT_EXCEEDED);
  });
});

describe("a run killed by the platform", () => {
  it("leaves its row running until its lease expires; the next run marks it failed and runs", async () => {
    const clock = { now: Date.UTC(2030, 0, 1) };
    const job = uniqueId("job");
    const invocation = limitInvocation(env, "free");
    const doomed = contextAt(clock, invocation.env);
    // Uses up the invocation's 50 queries: the work fails, and so does recording the failure.
    await expect(
      runExclusive({
        ctx: doomed,
        input: { job, trigger: "cron", leaseMs: 60_000 },
        work: async () => {
          for (;;) await doomed.d1.prepare("SELECT 1").first();
        },
      }),
    ).rejects.toThrow(TOO_MANY_API_REQUESTS);
    const ctx = contextAt(clock);
    expect((await listRuns({ ctx, input: { job, limit: 5 } })).map((run) => run.status)).toEqual(["running"]);
    expect(await readLease({ ctx, input: { name: job } })).not.toBeNull();

    // Before the lease expires the stuck run still counts as alive: the next run is skipped.
    expect((await runExclusive({ ctx, input: { job, trigger: "cron" }, work: async () => ({ counts: {} }) })).status).toBe(
      "skipped",
    );
    clock.now += 60_000;
    const next = await runExclusive({ ctx, input: { job, trigger: "cron" }, work: async () => ({ counts: { ok: true } }) });
    expect(next.status).toBe("succeeded");
    const runs = await listRuns({ ctx, input: { job, limit: 5 } });
    expect(runs.find((run) => run.status === "failed")?.error).toBe(LEASE_EXPIRED_ERROR);
    expect(runs.some((run) => run.status === "running")).toBe(false);
  });

  it("a run that keeps renewing its lease keeps it", async () => {
    const clock = { now: Date.UTC(2030, 0, 1) };
    const ctx = contextAt(clock);
    const job = uniqueId("job");
    const expiries: number[] = [];
    await runExclusive({
      ctx,
      input: { job, trigger: "cron", leaseMs: 60_000 },
      work: async ({ renewLease }) => {
        for (let page = 0; page < 3; page++) {
          clock.now += 50_000;
          await renewLease();
          expiries.push((await readLease({ ctx, input: { name: job } }))?.expires_at ?? 0);
        }
        return { counts: {} };
      },
    });
    expect(expiries).toEqual([1, 2, 3].map((n) => Date.UTC(2030, 0, 1) + n * 50_000 + 60_000));
  });
});
