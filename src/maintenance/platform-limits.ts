import { type BudgetProfile, countD1Calls, countR2Calls, type MeterReading, platformLimits } from "./budget";

/**
 * Production's per-invocation limits, enforced on the bindings of one invocation. Miniflare has
 * none of them, so code that sends its 1,001st query passes every local test and fails in
 * production; with this in place it fails locally too, with production's own error.
 *
 * Turned on by `KEEPER_PLATFORM_LIMITS` = `paid` | `free` (the test suite sets `paid`; `.dev.vars`
 * may set it for `wrangler dev`). Off in production, where the platform enforces the real thing.
 *
 * D1 queries of both databases share one count, as they share the invocation's limit; R2 calls of
 * both buckets share another. On the paid plan, time is checked on every call against the CPU limit
 * using wall time, which is never less than CPU time, so this is at least as strict as production;
 * the free plan's 10 ms of CPU is not checked (wall time cannot stand in for it).
 */

/** The message workerd gives a binding call past the invocation's limit. */
export const TOO_MANY_API_REQUESTS = "Too many API requests by single worker invocation.";
/** The message of an invocation killed for CPU time. */
export const CPU_LIMIT_EXCEEDED = "Worker exceeded CPU time limit.";

export interface LimitedInvocation {
  env: Env;
  reading(): MeterReading;
}

export function parsePlatformLimits(value: unknown): BudgetProfile | null {
  return value === "paid" || value === "free" ? value : null;
}

/** The bindings of one invocation under `plan`'s limits; call once per invocation (per Workflow step). */
export function limitInvocation(env: Env, plan: BudgetProfile, clock: () => number = () => Date.now()): LimitedInvocation {
  const limits = platformLimits[plan];
  const startedAt = clock();
  let queries = 0;
  let r2Calls = 0;
  const checkTime = () => {
    if (plan === "paid" && clock() - startedAt > limits.cpuMs) throw new Error(CPU_LIMIT_EXCEEDED);
  };
  const onQuery = () => {
    checkTime();
    queries++;
    if (queries > limits.queries) throw new Error(TOO_MANY_API_REQUESTS);
  };
  const onR2Call = () => {
    checkTime();
    r2Calls++;
    if (r2Calls > limits.r2Calls) throw new Error(TOO_MANY_API_REQUESTS);
  };
  return {
    env: {
      ...env,
      DB: countD1Calls(env.DB, onQuery),
      SCRATCH_DB: countD1Calls(env.SCRATCH_DB, onQuery),
      BACKUPS: countR2Calls(env.BACKUPS, onR2Call),
      MEDIA: countR2Calls(env.MEDIA, onR2Call),
    },
    reading: () => ({ queries, r2Calls, elapsedMs: clock() - startedAt }),
  };
}
