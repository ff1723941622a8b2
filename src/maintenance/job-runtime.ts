import type { WorkflowStep, WorkflowStepConfig } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import { eq } from "drizzle-orm";
import { jobRuns } from "../db/schema";
import type { Principal } from "../platform/auth";
import { parseConfig } from "../platform/config";
import { type AppContext, type AppDependencies, createContext } from "../platform/context";
import {
  BudgetExhausted,
  type BudgetLimits,
  budgetProfiles,
  countD1Calls,
  countR2Calls,
  type MeterReading,
  StepMeter,
} from "./budget";
import { releaseLease, renewLease } from "./lease";
import { limitInvocation, parsePlatformLimits } from "./platform-limits";
import type { JobProgress, RunCounts } from "./runs";

/**
 * The one runtime every long job uses. A job describes its work as slices — `begin` plans,
 * `advance` does one bounded slice, `finish` records the outcome — and the runtime runs each as a
 * Workflow step with retries, under a per-step budget, renewing the job's lease and writing its
 * progress to the run record after every step. The state a slice returns is the step's result: it
 * is what the next step starts from, and what the Workflow replays after an eviction, so it must
 * stay small (a Workflow step result is at most 1 MiB; we refuse more than MAX_STATE_BYTES).
 */

/** Each kind is one Workflow class (src/maintenance/workflows.ts) and one binding in wrangler.toml. */
export type JobKind = "retention" | "backup" | "restore" | "drill";

/** The slice functions' context: bindings counted against the step's budget, and the meter itself. */
export interface StepContext extends AppContext {
  meter: StepMeter;
}

export interface JobSlice<S> {
  state: S;
  /** True when the job has nothing left to do: the next step is `finish`. */
  done: boolean;
  progress: Omit<JobProgress, "steps">;
  /**
   * What the run record's `counts` should say while the job runs (they are replaced by `finish`'s):
   * facts an operator needs even if the job is killed, e.g. the safety backup a restore took.
   */
  record?: RunCounts;
}

export interface JobDefinition<Input, State> {
  kind: JobKind;
  /** The run record's `job` and the lease's name. */
  job: string;
  begin(args: { ctx: StepContext; input: Input }): Promise<JobSlice<State>>;
  advance(args: { ctx: StepContext; state: State }): Promise<JobSlice<State>>;
  finish(args: { ctx: StepContext; state: State }): Promise<RunCounts>;
  /** A sentence added to a failed run's error, from the counts the job recorded while it ran. */
  failureHint?(record: RunCounts | null): string | null;
}

/** What a Workflow instance is created with. */
export interface JobParams<Input = unknown> {
  runId: number;
  /** The lease holder this run owns (its instance id). */
  holder: string;
  actor: string;
  input: Input;
  leaseMs: number;
  /**
   * The starter's clock minus the real one when it started the job (0 in production): a job
   * started at a fixed date (a test, a replay) sees that date, moving forward as real time does.
   */
  nowOffsetMs: number;
}

/** The step result limit is 1 MiB; a state near it means the job keeps too much, which is a bug. */
export const MAX_STATE_BYTES = 512 * 1024;

/** Transient failures (D1 overloaded, an R2 hiccup) retry with backoff. */
export const stepRetries: WorkflowStepConfig = {
  retries: { limit: 4, delay: "5 seconds", backoff: "exponential" },
  timeout: "10 minutes",
};

export interface StepStats {
  steps: number;
  maxQueries: number;
  maxR2Calls: number;
  maxStepMs: number;
  /** Sums over all steps: what a job of another size would cost, and so how many steps it needs. */
  totalQueries: number;
  totalR2Calls: number;
  totalStepMs: number;
}

/** What `runJob` needs from the Workflow engine: exactly `WorkflowStep.do` with a config. */
export type StepRunner = Pick<WorkflowStep, "do">;

const jobPrincipal = (actor: string): Principal => ({ actor, scopes: ["read", "write", "admin"] });

/**
 * A context for one step: the bindings under production's limits when KEEPER_PLATFORM_LIMITS asks
 * for it (tests, local dev), then counted against the step's budget (KEEPER_JOB_BUDGET).
 */
export function stepContext(
  env: Env,
  deps: AppDependencies,
  input: { actor: string; requestId: string; nowOffsetMs: number; budget?: BudgetLimits },
) {
  const raw = env as unknown as Record<string, unknown>;
  const config = parseConfig(raw);
  const plan = parsePlatformLimits(raw.KEEPER_PLATFORM_LIMITS);
  const invocation = plan ? limitInvocation(env, plan) : null;
  const bindings = invocation?.env ?? env;
  const meter = new StepMeter(input.budget ?? budgetProfiles[raw.KEEPER_JOB_BUDGET === "free" ? "free" : "paid"]);
  const counted: Env = {
    ...bindings,
    DB: countD1Calls(bindings.DB, () => meter.countQuery()),
    SCRATCH_DB: countD1Calls(bindings.SCRATCH_DB, () => meter.countQuery()),
    BACKUPS: countR2Calls(bindings.BACKUPS, () => meter.countR2Call()),
    MEDIA: countR2Calls(bindings.MEDIA, () => meter.countR2Call()),
  };
  // The run record and lease are written on the uncounted (but still limited) binding: they are the
  // runtime's bookkeeping, paid from the 10% the budget leaves free.
  const stepDeps: AppDependencies = {
    ...deps,
    queryMonitor: undefined,
    now: () => new Date(Date.now() + input.nowOffsetMs),
  };
  const bookkeeping = createContext(bindings, config, stepDeps, {
    requestId: input.requestId,
    principal: jobPrincipal(input.actor),
  });
  const ctx: StepContext = {
    ...createContext(counted, config, stepDeps, {
      requestId: input.requestId,
      principal: jobPrincipal(input.actor),
    }),
    meter,
  };
  return { ctx, bookkeeping, platform: invocation };
}

async function ensureStillRunning(ctx: AppContext, params: JobParams, job: string) {
  const [row] = await ctx.db.select({ status: jobRuns.status }).from(jobRuns).where(eq(jobRuns.id, params.runId)).limit(1);
  if (row?.status !== "running")
    throw new NonRetryableError(`run ${params.runId} of ${job} is ${row?.status ?? "gone"}; not continuing`);
  if (!(await renewLease({ ctx, input: { name: job, holder: params.holder, ttlMs: params.leaseMs } })))
    throw new NonRetryableError(`run ${params.runId} lost the lease of ${job}`);
}

function recordStats(stats: StepStats, reading: MeterReading): StepStats {
  return {
    steps: stats.steps + 1,
    maxQueries: Math.max(stats.maxQueries, reading.queries),
    maxR2Calls: Math.max(stats.maxR2Calls, reading.r2Calls),
    maxStepMs: Math.max(stats.maxStepMs, reading.elapsedMs),
    totalQueries: stats.totalQueries + reading.queries,
    totalR2Calls: stats.totalR2Calls + reading.r2Calls,
    totalStepMs: stats.totalStepMs + reading.elapsedMs,
  };
}

/**
 * Runs a job's slices as Workflow steps: `begin`, `advance 1…n`, `finish`. Each step checks its
 * run is still `running` (a cancelled run stops at its next step) and renews the lease first, and
 * writes progress after. A step that still fails after its retries fails the run: the failure is
 * recorded in its own step, the lease released, and the error rethrown so the instance shows
 * `errored` too.
 */
export async function runJob<Input, State>({
  definition,
  params,
  step,
  env,
  deps,
  budget,
}: {
  definition: JobDefinition<Input, State>;
  params: JobParams<Input>;
  step: StepRunner;
  env: Env;
  deps: AppDependencies;
  /** Overrides KEEPER_JOB_BUDGET (the scale test lowers it to make a small dataset need many steps). */
  budget?: BudgetLimits;
}): Promise<{ counts: RunCounts; stats: StepStats }> {
  const requestId = `job:${definition.job}:${params.runId}`;
  type Stepped = { slice: JobSlice<State>; stats: StepStats };
  // Every step's start: fresh bindings and meter, then a check that the run may still go on.
  const openStep = async () => {
    const opened = stepContext(env, deps, { actor: params.actor, requestId, nowOffsetMs: params.nowOffsetMs, budget });
    await ensureStillRunning(opened.bookkeeping, params, definition.job);
    return opened;
  };
  // A step returns its result as JSON text: the state is plain data by contract, and its size is
  // what the Workflow stores.
  // `run` gets the state parsed afresh on every attempt: a slice may change the state it is given,
  // and a retried attempt must start from the state the previous step ended with.
  const sliceStep = async (
    name: string,
    stats: StepStats,
    stateJson: string | null,
    run: (ctx: StepContext, state: State) => Promise<JobSlice<State>>,
  ) => {
    const text = await step.do(name, stepRetries, async () => {
      const { ctx, bookkeeping } = await openStep();
      const slice = await run(ctx, (stateJson === null ? null : JSON.parse(stateJson)) as State).catch((error: unknown) => {
        // A slice checks its meter before every unit, so running out means one unit costs more than
        // a whole step may: a retry would do the same again.
        throw error instanceof BudgetExhausted ? new NonRetryableError(error.message) : error;
      });
      const result: Stepped = { slice, stats: recordStats(stats, ctx.meter.reading()) };
      const json = JSON.stringify(result);
      if (json.length > MAX_STATE_BYTES)
        throw new NonRetryableError(
          `${definition.job} keeps ${json.length} bytes of state between steps (at most ${MAX_STATE_BYTES})`,
        );
      const progress: JobProgress = { ...slice.progress, steps: result.stats.steps };
      await bookkeeping.db
        .update(jobRuns)
        .set({ progress: JSON.stringify(progress), ...(slice.record ? { counts: JSON.stringify(slice.record) } : {}) })
        .where(eq(jobRuns.id, params.runId));
      return json;
    });
    return JSON.parse(text) as Stepped;
  };

  try {
    const empty: StepStats = {
      steps: 0,
      maxQueries: 0,
      maxR2Calls: 0,
      maxStepMs: 0,
      totalQueries: 0,
      totalR2Calls: 0,
      totalStepMs: 0,
    };
    let current = await sliceStep("begin", empty, null, (ctx) => definition.begin({ ctx, input: params.input }));
    for (let n = 1; !current.slice.done; n++) {
      current = await sliceStep(`advance ${n}`, current.stats, JSON.stringify(current.slice.state), (ctx, state) =>
        definition.advance({ ctx, state }),
      );
    }
    const last = current;
    const finished = await step.do("finish", stepRetries, async () => {
      const { ctx, bookkeeping } = await openStep();
      const counts = await definition.finish({ ctx, state: last.slice.state });
      const stats = recordStats(last.stats, ctx.meter.reading());
      const withStats: RunCounts = {
        ...counts,
        steps: stats.steps,
        max_queries_per_step: stats.maxQueries,
        max_r2_calls_per_step: stats.maxR2Calls,
        max_step_ms: stats.maxStepMs,
        queries_total: stats.totalQueries,
        r2_calls_total: stats.totalR2Calls,
        step_ms_total: stats.totalStepMs,
      };
      await bookkeeping.db
        .update(jobRuns)
        .set({
          status: "succeeded",
          finishedAt: bookkeeping.now().getTime(),
          counts: JSON.stringify(withStats),
          progress: JSON.stringify({ ...last.slice.progress, steps: stats.steps }),
        })
        .where(eq(jobRuns.id, params.runId));
      await releaseLease({ ctx: bookkeeping, input: { name: definition.job, holder: params.holder } });
      bookkeeping.logger.info("job finished", { job: definition.job, run: params.runId, counts: withStats });
      return JSON.stringify({ counts: withStats, stats });
    });
    return JSON.parse(finished) as { counts: RunCounts; stats: StepStats };
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    await step.do("record failure", stepRetries, async () => {
      const { bookkeeping } = stepContext(env, deps, { actor: params.actor, requestId, nowOffsetMs: params.nowOffsetMs, budget });
      const [recorded] = await bookkeeping.db
        .select({ counts: jobRuns.counts })
        .from(jobRuns)
        .where(eq(jobRuns.id, params.runId))
        .limit(1);
      const hint = definition.failureHint?.(recorded?.counts ? (JSON.parse(recorded.counts) as RunCounts) : null) ?? null;
      // The hint goes first: the error is cut to 2,000 characters.
      const message = hint && !cause.includes(hint) ? `${hint}. ${cause}` : cause;
      // Only a run still `running`: a cancelled one keeps its status.
      await bookkeeping.d1
        .prepare("UPDATE keeper_job_runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status = 'running'")
        .bind(bookkeeping.now().getTime(), message.slice(0, 2000), params.runId)
        .run();
      await releaseLease({ ctx: bookkeeping, input: { name: definition.job, holder: params.holder } });
      bookkeeping.logger.error("job failed", { job: definition.job, run: params.runId, error: message });
      return null;
    });
    throw error;
  }
}
