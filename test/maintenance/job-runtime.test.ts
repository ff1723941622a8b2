import { describe, expect, it } from "vitest";
import type { JobDefinition } from "../../src/maintenance/job-runtime";
import { uniqueId } from "../support/factories";
import { runLocally } from "../support/jobs";

/** A job that reads `rows` rows one query each, as many per step as the budget holds. */
function counter(job: string, options: { failFirstAttemptOf?: number; stateBytes?: number } = {}) {
  let attempts = 0;
  const definition: JobDefinition<{ rows: number }, { at: number; rows: number; pad: string; starts: number[] }> = {
    kind: "retention",
    job,
    async begin({ input }) {
      return {
        state: { at: 0, rows: input.rows, pad: "", starts: [] },
        done: input.rows === 0,
        progress: { done: 0, total: input.rows, unit: "rows", phase: "read" },
      };
    },
    async advance({ ctx, state }) {
      attempts++;
      state.starts.push(state.at);
      while (state.at < state.rows && ctx.meter.hasRoom({ queries: 1 })) {
        await ctx.d1.prepare("SELECT ? AS n").bind(state.at).first();
        state.at++;
        if (attempts === 1 && options.failFirstAttemptOf !== undefined && state.at === options.failFirstAttemptOf)
          throw new Error("transient");
      }
      if (options.stateBytes) state.pad = "x".repeat(options.stateBytes);
      return {
        state,
        done: state.at >= state.rows,
        progress: { done: state.at, total: state.rows, unit: "rows", phase: "read" },
      };
    },
    async finish({ state }) {
      return { rows: state.at, starts: state.starts.join(",") };
    },
  };
  return definition;
}

describe("the job runtime", () => {
  it("splits work into steps that each stay within the budget, under production's limits", async () => {
    const local = await runLocally({ definition: counter(uniqueId("job")), input: { rows: 2000 } });
    expect(local.error).toBeNull();
    expect(local.run?.status).toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}");
    expect(counts).toMatchObject({ rows: 2000, max_queries_per_step: 900 });
    // begin, three slices (900 + 900 + 200), finish.
    expect(local.steps).toEqual(["begin", "advance 1", "advance 2", "advance 3", "finish"]);
  });

  it("a retried step starts again from the state the previous step ended with", async () => {
    const local = await runLocally({ definition: counter(uniqueId("job"), { failFirstAttemptOf: 10 }), input: { rows: 50 } });
    expect(local.run?.status).toBe("succeeded");
    // One step's worth of starts: the failed attempt's changes to the state were not kept.
    expect(JSON.parse(local.run?.counts ?? "{}")).toMatchObject({ rows: 50, starts: "0" });
  });

  it("refuses to carry more state between steps than a Workflow step result may hold", async () => {
    const local = await runLocally({ definition: counter(uniqueId("job"), { stateBytes: 600_000 }), input: { rows: 5 } });
    expect(local.run?.status).toBe("failed");
    expect(local.run?.error).toMatch(/bytes of state between steps/);
  });

  it("a slice that ignores its meter is stopped at the budget, before production's limit", async () => {
    const unbudgeted = counter(uniqueId("job"));
    const greedy: typeof unbudgeted = {
      ...unbudgeted,
      async advance({ ctx, state }) {
        for (; state.at < state.rows; state.at++) await ctx.d1.prepare("SELECT 1").first();
        return { state, done: true, progress: { done: state.at, total: state.rows, unit: "rows", phase: "read" } };
      },
    };
    const local = await runLocally({ definition: greedy, input: { rows: 1200 } });
    expect(local.run?.status).toBe("failed");
    expect(local.run?.error).toBe("step budget exhausted: more than 900 D1 queries in one step");
    // Not retried: the same slice would run out the same way again.
    expect(local.attempts).toBe(local.steps.length);
  });
});
