import { type BudgetProfile, countD1Calls, countR2Calls, type MeterReading, platformLimits } from "./budget";

/**
 * Production's per-invocation limits, enforced on the bindings of one invocation. Miniflare has
 * none of them, so code that sends its 1,001st query passes every local test and fails in
 * production; with this in place it fails locally too, with production's own error.
 *
 * Turned on by `KEEPER_PLATFORM_LIMITS` = `paid` | `free` (the test suite sets `paid`; `.dev.vars`
 * may set it for `wrangler dev`). Off in production, where the platform enforces the real thing.
 *
 * Answers holding a value over D1's 2,000,000 bytes are refused with D1's error.
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
/** D1's largest string or BLOB: SQLite refuses to build a bigger value, in a result as anywhere. */
export const D1_MAX_VALUE_BYTES = 2_000_000;
/** The error D1 gives a query that would build a value past D1_MAX_VALUE_BYTES. */
export const STRING_TOO_BIG = "D1_ERROR: string or blob too big: SQLITE_TOOBIG";

const utf8 = new TextEncoder();

function refuseOversized(value: unknown): void {
  if (typeof value === "string") {
    // Three bytes per UTF-16 unit at most: shorter strings cannot be too big.
    if (value.length * 3 > D1_MAX_VALUE_BYTES && utf8.encode(value).length > D1_MAX_VALUE_BYTES) throw new Error(STRING_TOO_BIG);
  } else if (value instanceof ArrayBuffer) {
    if (value.byteLength > D1_MAX_VALUE_BYTES) throw new Error(STRING_TOO_BIG);
  } else if (Array.isArray(value)) {
    // A BLOB comes back as an array of byte values; a row of raw() as an array of values.
    if (value.length > D1_MAX_VALUE_BYTES && typeof value[0] === "number") throw new Error(STRING_TOO_BIG);
    for (const item of value) refuseOversized(item);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) refuseOversized(item);
  }
}

const valueCalls = new Set(["run", "all", "first", "raw"]);

function sizedStatement(statement: D1PreparedStatement): D1PreparedStatement {
  return new Proxy(statement, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "bind") return (...values: unknown[]) => sizedStatement(target.bind(...values));
      if (typeof property === "string" && valueCalls.has(property))
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          refuseOversized(result);
          return result;
        };
      return value.bind(target);
    },
  });
}

/**
 * A D1 binding whose answers are refused as production refuses them when they hold a value over
 * D1_MAX_VALUE_BYTES (local D1 builds values up to SQLite's default of 1 GB): a value in an answer
 * is one SQLite built, so production would have failed the query.
 */
export function refuseOversizedValues(d1: D1Database): D1Database {
  return new Proxy(d1, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "prepare") return (sql: string) => sizedStatement(target.prepare(sql));
      if (property === "batch")
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements);
          refuseOversized(results);
          return results;
        };
      return value.bind(target);
    },
  });
}

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
      DB: countD1Calls(refuseOversizedValues(env.DB), onQuery),
      SCRATCH_DB: countD1Calls(refuseOversizedValues(env.SCRATCH_DB), onQuery),
      BACKUPS: countR2Calls(env.BACKUPS, onR2Call),
      MEDIA: countR2Calls(env.MEDIA, onR2Call),
    },
    reading: () => ({ queries, r2Calls, elapsedMs: clock() - startedAt }),
  };
}
