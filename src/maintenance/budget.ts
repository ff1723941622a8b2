/**
 * Per-step budgets for long jobs, counted where the calls happen: on the D1 and R2 bindings.
 *
 * Production allows, per invocation (a Workflow step is one), 1,000 D1 queries and 1,000 binding
 * subrequests on the paid plan, 50 of each on the free plan, and 30 s of CPU (configurable up to
 * 5 min). A job stops a slice a little below those: it asks `meter.hasRoom(cost)` before each unit of
 * work, and the metered bindings refuse the call that would pass the budget with `BudgetExhausted`,
 * so a slice that under-estimated fails its step cleanly instead of meeting the platform's own
 * error half-way through a write.
 *
 * CPU: workerd's clocks stand still while JavaScript runs (they move on I/O only), so CPU time
 * cannot be measured in the Worker. Wall time bounds it from above — a step that stops after
 * `wallMs` of wall time has used at most that much CPU — so the budget is a wall-time budget below
 * the CPU limit.
 */

export interface BudgetLimits {
  /** D1 calls: run/all/first/raw on a statement, batch, exec (a batch counts once, as in D1's limit). */
  queries: number;
  /** R2 calls: head/get/put/delete/list and every multipart call. */
  r2Calls: number;
  /** Wall time a step may take; an upper bound of its CPU time. */
  wallMs: number;
}

/** What production allows per invocation, per plan (`cpuMs`: CPU time, the default limit). */
export const platformLimits = {
  paid: { queries: 1000, r2Calls: 1000, cpuMs: 30_000 },
  free: { queries: 50, r2Calls: 50, cpuMs: 10 },
} as const;

export type BudgetProfile = keyof typeof platformLimits;

/**
 * The budget a job step stops at: 90% of the platform's per-invocation limits (900 of 1,000; 45 of
 * 50 on the free plan), leaving room for the run record's own writes after the work. The free
 * plan's 10 ms of CPU is below the wall time of any step that waits on I/O, so wall time cannot
 * stand in for it there; both profiles stop a step after 25 s.
 */
export const budgetProfiles = {
  paid: { queries: 900, r2Calls: 900, wallMs: 25_000 },
  free: { queries: 45, r2Calls: 45, wallMs: 25_000 },
} as const satisfies Record<BudgetProfile, BudgetLimits>;

/** Thrown by a metered binding asked for a call past its step's budget. */
export class BudgetExhausted extends Error {
  constructor(what: "queries" | "r2Calls", limit: number) {
    super(`step budget exhausted: more than ${limit} ${what === "queries" ? "D1 queries" : "R2 calls"} in one step`);
    this.name = "BudgetExhausted";
  }
}

export interface MeterReading {
  queries: number;
  r2Calls: number;
  elapsedMs: number;
}

/**
 * Counts one step's binding calls against its budget. `clock` is the step's wall clock (tests pass
 * a fake one to exercise the time budget).
 */
export class StepMeter {
  queries = 0;
  r2Calls = 0;
  readonly startedAt: number;
  readonly budget: BudgetLimits;
  private readonly clock: () => number;

  constructor(budget: BudgetLimits, clock: () => number = () => Date.now()) {
    this.budget = budget;
    this.clock = clock;
    this.startedAt = clock();
  }

  /** True when `cost` more calls still fit, and the step's time is not used up. */
  hasRoom(cost: { queries?: number; r2Calls?: number } = {}): boolean {
    return (
      this.queries + (cost.queries ?? 0) <= this.budget.queries &&
      this.r2Calls + (cost.r2Calls ?? 0) <= this.budget.r2Calls &&
      this.clock() - this.startedAt < this.budget.wallMs
    );
  }

  /** Calls still allowed in this step: what a unit sized to the room may spend. */
  remaining(): { queries: number; r2Calls: number } {
    return { queries: this.budget.queries - this.queries, r2Calls: this.budget.r2Calls - this.r2Calls };
  }

  countQuery(): void {
    if (this.queries + 1 > this.budget.queries) throw new BudgetExhausted("queries", this.budget.queries);
    this.queries++;
  }

  countR2Call(): void {
    if (this.r2Calls + 1 > this.budget.r2Calls) throw new BudgetExhausted("r2Calls", this.budget.r2Calls);
    this.r2Calls++;
  }

  reading(): MeterReading {
    return { queries: this.queries, r2Calls: this.r2Calls, elapsedMs: this.clock() - this.startedAt };
  }
}

/** Counts, then calls: a refused call is a rejected promise, as the binding's own failures are. */
function countedCall<T>(onCall: () => void, call: () => Promise<T>): Promise<T> {
  try {
    onCall();
  } catch (error) {
    return Promise.reject(error);
  }
  return call();
}

const statementCalls = new Set(["run", "all", "first", "raw"]);
const databaseCalls = new Set(["batch", "exec", "dump"]);

function countedStatement(statement: D1PreparedStatement, onCall: () => void): D1PreparedStatement {
  return new Proxy(statement, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "bind") return (...values: unknown[]) => countedStatement(target.bind(...values), onCall);
      if (typeof property === "string" && statementCalls.has(property))
        return (...args: unknown[]) => countedCall(onCall, () => value.apply(target, args));
      return value.bind(target);
    },
  });
}

/**
 * A D1 binding that calls `onCall` before every query it sends. Statements it prepares stay
 * counted through `bind`, and `batch` unwraps nothing: workerd reads a proxied statement's fields
 * through the proxy, so the statements a batch receives are the binding's own.
 */
export function countD1Calls(d1: D1Database, onCall: () => void): D1Database {
  return new Proxy(d1, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "prepare") return (sql: string) => countedStatement(target.prepare(sql), onCall);
      if (typeof property === "string" && databaseCalls.has(property))
        return (...args: unknown[]) => countedCall(onCall, () => value.apply(target, args));
      return value.bind(target);
    },
  });
}

const bucketCalls = new Set(["head", "get", "put", "delete", "list", "createMultipartUpload"]);
const uploadCalls = new Set(["uploadPart", "complete", "abort"]);

function countedUpload(upload: R2MultipartUpload, onCall: () => void): R2MultipartUpload {
  return new Proxy(upload, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (typeof property === "string" && uploadCalls.has(property))
        return (...args: unknown[]) => countedCall(onCall, () => value.apply(target, args));
      return value.bind(target);
    },
  });
}

/** An R2 binding that calls `onCall` before every request it sends (multipart parts included). */
export function countR2Calls(bucket: R2Bucket, onCall: () => void): R2Bucket {
  return new Proxy(bucket, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "createMultipartUpload")
        return (...args: Parameters<R2Bucket["createMultipartUpload"]>) =>
          countedCall(onCall, async () => countedUpload(await target.createMultipartUpload(...args), onCall));
      // resumeMultipartUpload sends nothing; the calls on the upload it returns do.
      if (property === "resumeMultipartUpload")
        return (...args: Parameters<R2Bucket["resumeMultipartUpload"]>) =>
          countedUpload(target.resumeMultipartUpload(...args), onCall);
      if (typeof property === "string" && bucketCalls.has(property))
        return (...args: unknown[]) => countedCall(onCall, () => value.apply(target, args));
      return value.bind(target);
    },
  });
}
