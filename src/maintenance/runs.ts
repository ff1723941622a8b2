import { and, desc, eq } from "drizzle-orm";
import { jobRuns } from "../db/schema";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { acquireLease, releaseLease, renewLease } from "./lease";

export type RunTrigger = "cron" | "manual";
export type RunStatus = "running" | "succeeded" | "partial" | "failed" | "skipped" | "cancelled";
export type RunCounts = Record<string, number | string | boolean | null>;

export interface JobRun {
  id: number;
  job: string;
  trigger: RunTrigger;
  actor: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  counts: RunCounts | null;
  error: string | null;
  /** The Workflow instance running this job, for jobs that run as Workflows. */
  instance_id: string | null;
  progress: JobProgress | null;
}

/** Where a running job stands, written after every step. */
export interface JobProgress {
  /** Steps finished so far. */
  steps: number;
  /** Units done and, when known, the total (rows for backup and restore, items for retention). */
  done: number;
  total: number | null;
  unit: string;
  /** What the job is doing now, e.g. "table videos". */
  phase: string;
}

export function presentRun(row: typeof jobRuns.$inferSelect): JobRun {
  return {
    id: row.id,
    job: row.job,
    trigger: row.trigger,
    actor: row.actor,
    status: row.status,
    started_at: new Date(row.startedAt).toISOString(),
    finished_at: row.finishedAt === null ? null : new Date(row.finishedAt).toISOString(),
    counts: row.counts ? (JSON.parse(row.counts) as RunCounts) : null,
    error: row.error,
    instance_id: row.instanceId,
    progress: row.progress ? (JSON.parse(row.progress) as JobProgress) : null,
  };
}

/** What a short job's work function gets: a deadline to stop before, and its lease to keep. */
export interface JobWork {
  /** Stop starting new chunks after this and return `partial: true`. */
  deadline: number;
  /** Renews the lease for another `leaseMs`; throws when the lease was lost to another run. */
  renewLease(): Promise<void>;
}

export const LEASE_EXPIRED_ERROR = "the run stopped without recording its end (its lease expired)";

/**
 * Marks failed every `running` run of `job` whose lease is gone: its invocation was killed (CPU
 * limit, too many queries, eviction) before it could record its end. A run's lease is the row in
 * keeper_leases with its `holder`; runs recorded before holders existed are judged by the lease
 * named after the job. Returns how many runs were reaped.
 */
export async function reapExpiredRuns({ ctx, input }: { ctx: AppContext; input: { job: string } }): Promise<number> {
  const at = ctx.now().getTime();
  const result = await ctx.d1
    .prepare(
      `UPDATE keeper_job_runs SET status = 'failed', finished_at = ?, error = ?
       WHERE job = ? AND status = 'running' AND NOT EXISTS (
         SELECT 1 FROM keeper_leases AS lease WHERE lease.expires_at > ? AND (
           lease.holder = keeper_job_runs.holder OR (keeper_job_runs.holder IS NULL AND lease.name = keeper_job_runs.job)))`,
    )
    .bind(at, LEASE_EXPIRED_ERROR, input.job, at)
    .run();
  if (result.meta.changes > 0) ctx.logger.warn("reaped runs whose lease expired", { job: input.job, runs: result.meta.changes });
  return result.meta.changes;
}

export interface JobOutcome {
  counts: RunCounts;
  /** True when the job stopped early (deadline); its next run picks up what is left. */
  partial?: boolean;
}

/**
 * Runs `work` as job `job` under its lease, recording a run row from start to end. A second
 * overlapping run does not wait: from cron it records a `skipped` run; a manual call gets 423.
 * The lease outlives a crashed invocation only until `leaseMs`, after which the next run takes over.
 */
export async function runExclusive({
  ctx,
  input,
  work,
}: {
  ctx: AppContext;
  input: { job: string; trigger: RunTrigger; leaseMs?: number; budgetMs?: number };
  work: (run: JobWork) => Promise<JobOutcome>;
}): Promise<JobRun> {
  const leaseMs = input.leaseMs ?? 15 * 60_000;
  const budgetMs = input.budgetMs ?? 10 * 60_000;
  const holder = `${input.trigger}:${crypto.randomUUID()}`;
  const startedAt = ctx.now().getTime();
  await reapExpiredRuns({ ctx, input: { job: input.job } });
  const acquired = await acquireLease({ ctx, input: { name: input.job, holder, ttlMs: leaseMs } });
  if (!acquired) {
    if (input.trigger === "manual") {
      throw new KeeperError("LOCKED", `Job '${input.job}' is already running; try again when it finishes`);
    }
    const [skipped] = await ctx.db
      .insert(jobRuns)
      .values({
        job: input.job,
        trigger: input.trigger,
        actor: ctx.principal.actor,
        status: "skipped",
        startedAt,
        finishedAt: startedAt,
        counts: null,
        error: "another run holds the lease",
      })
      .returning();
    return presentRun(skipped);
  }
  try {
    const [running] = await ctx.db
      .insert(jobRuns)
      .values({ job: input.job, trigger: input.trigger, actor: ctx.principal.actor, status: "running", startedAt, holder })
      .returning();
    const keepLease = async () => {
      if (!(await renewLease({ ctx, input: { name: input.job, holder, ttlMs: leaseMs } })))
        throw new Error(`lost the lease of '${input.job}' to another run`);
    };
    let outcome: JobOutcome;
    try {
      outcome = await work({
        deadline: startedAt + budgetMs,
        renewLease: keepLease,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // When this write fails too (the invocation's queries are used up), the row stays `running`
      // until its lease expires and the next run reaps it.
      const [failed] = await ctx.db
        .update(jobRuns)
        .set({ status: "failed", finishedAt: ctx.now().getTime(), error: message.slice(0, 2000) })
        .where(eq(jobRuns.id, running.id))
        .returning();
      ctx.logger.error("job failed", {
        job: input.job,
        run: running.id,
        error: message,
        stack: error instanceof Error ? error.stack?.split("\n").slice(0, 6).join(" | ") : undefined,
      });
      return presentRun(failed);
    }
    const [finished] = await ctx.db
      .update(jobRuns)
      .set({
        status: outcome.partial ? "partial" : "succeeded",
        finishedAt: ctx.now().getTime(),
        counts: JSON.stringify(outcome.counts),
      })
      .where(eq(jobRuns.id, running.id))
      .returning();
    ctx.logger.info("job finished", { job: input.job, run: running.id, status: finished.status, counts: outcome.counts });
    return presentRun(finished);
  } finally {
    await releaseLease({ ctx, input: { name: input.job, holder } }).catch((error) =>
      ctx.logger.warn("could not release the lease; it expires by itself", { job: input.job, error: String(error) }),
    );
  }
}

export async function listRuns({ ctx, input }: { ctx: AppContext; input: { job?: string; limit: number } }) {
  const rows = await ctx.db
    .select()
    .from(jobRuns)
    .where(input.job ? eq(jobRuns.job, input.job) : undefined)
    .orderBy(desc(jobRuns.startedAt), desc(jobRuns.id))
    .limit(input.limit);
  return rows.map(presentRun);
}

/** The newest run of a job that ended with the given status (e.g. the last good backup). */
export async function lastRun({ ctx, input }: { ctx: AppContext; input: { job: string; status?: RunStatus } }) {
  const [row] = await ctx.db
    .select()
    .from(jobRuns)
    .where(input.status ? and(eq(jobRuns.job, input.job), eq(jobRuns.status, input.status)) : eq(jobRuns.job, input.job))
    .orderBy(desc(jobRuns.startedAt), desc(jobRuns.id))
    .limit(1);
  return row ? presentRun(row) : null;
}
