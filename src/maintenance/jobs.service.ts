import { and, desc, eq } from "drizzle-orm";
import { jobRuns } from "../db/schema";
import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { refuseIfExcluded } from "./exclusion";
import type { JobParams } from "./job-runtime";
import { acquireLeaseStatement, releaseLease } from "./lease";
import { type JobRun, presentRun, type RunTrigger, reapExpiredRuns } from "./runs";
import { jobDefinitions, type StartableKind, workflowBinding } from "./workflows";

/** A Workflow step renews the lease; this only has to outlast the longest step plus its retries. */
export const JOB_LEASE_MS = 15 * 60_000;

const day = (now: Date) => now.toISOString().slice(0, 10).replaceAll("-", "");
const stamp = (now: Date) =>
  now
    .toISOString()
    .replaceAll(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

async function runByInstance(ctx: AppContext, instanceId: string) {
  const [row] = await ctx.db.select().from(jobRuns).where(eq(jobRuns.instanceId, instanceId)).limit(1);
  return row ? presentRun(row) : null;
}

async function runningRun(ctx: AppContext, job: string) {
  const [row] = await ctx.db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.job, job), eq(jobRuns.status, "running")))
    .orderBy(desc(jobRuns.startedAt))
    .limit(1);
  return row ? presentRun(row) : null;
}

async function recordSkipped(ctx: AppContext, job: string, trigger: RunTrigger, reason: string) {
  const at = ctx.now().getTime();
  const [skipped] = await ctx.db
    .insert(jobRuns)
    .values({ job, trigger, actor: ctx.principal.actor, status: "skipped", startedAt: at, finishedAt: at, error: reason })
    .returning();
  return presentRun(skipped);
}

/**
 * Starts a long job as a Workflow instance, idempotently:
 * - from cron, the instance id is `<kind>-<YYYYMMDD>`: a cron that fires twice the same day (a
 *   retry, a redeploy) finds that day's run and starts nothing;
 * - by hand, a job already running is returned as it is (`started: false`) instead of a second one.
 * Jobs the exclusion matrix (exclusion.ts) says clash with this one refuse it: 423 by hand, a
 * `skipped` run from cron. The run row and the lease are written before the instance is created,
 * so the instance always finds its run; if creating it fails, the run is marked failed and the
 * lease released.
 */
export async function startJob<K extends StartableKind>({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { kind: K; trigger: RunTrigger; params: Parameters<(typeof jobDefinitions)[K]["begin"]>[0]["input"] };
}): Promise<{ run: JobRun; started: boolean }> {
  const definition = jobDefinitions[input.kind];
  const now = ctx.now();
  const instanceId =
    input.trigger === "cron" ? `${input.kind}-${day(now)}` : `${input.kind}-${stamp(now)}-${crypto.randomUUID().slice(0, 8)}`;
  if (input.trigger === "cron") {
    const existing = await runByInstance(ctx, instanceId);
    if (existing) return { run: existing, started: false };
  }
  await reapExpiredRuns({ ctx, input: { job: definition.job } });
  // The lease and the run row in one batch (one transaction): whoever sees the lease taken also
  // sees the run that took it, so a concurrent manual start can return that run.
  const progress = JSON.stringify({ steps: 0, done: 0, total: null, unit: "steps", phase: "queued" });
  await ctx.d1.batch([
    acquireLeaseStatement({ ctx, input: { name: definition.job, holder: instanceId, ttlMs: JOB_LEASE_MS } }),
    ctx.d1
      .prepare(
        `INSERT INTO keeper_job_runs (job, trigger, actor, status, started_at, holder, instance_id, progress)
         SELECT ?, ?, ?, 'running', ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM keeper_leases WHERE name = ? AND holder = ?)`,
      )
      .bind(
        definition.job,
        input.trigger,
        ctx.principal.actor,
        now.getTime(),
        instanceId,
        instanceId,
        progress,
        definition.job,
        instanceId,
      ),
  ]);
  const row = await runByInstance(ctx, instanceId);
  if (!row) {
    const running = await runningRun(ctx, definition.job);
    if (running && input.trigger === "manual") return { run: running, started: false };
    if (input.trigger === "manual")
      throw new KeeperError("LOCKED", `Job '${definition.job}' is held by another run; try again when it finishes`);
    return { run: await recordSkipped(ctx, definition.job, input.trigger, "another run holds the lease"), started: false };
  }
  try {
    await refuseIfExcluded({ ctx, input: { job: input.kind, holder: instanceId } });
  } catch (error) {
    // The refused start stays on record as skipped, by hand (then 423) and from cron alike; it gives
    // up the day's instance id, so a later cron the same day may still start the job.
    const reason = error instanceof Error ? error.message : String(error);
    await ctx.db
      .update(jobRuns)
      .set({ status: "skipped", finishedAt: now.getTime(), error: reason, instanceId: null, holder: null })
      .where(eq(jobRuns.id, row.id));
    if (input.trigger === "manual" || !(error instanceof KeeperError)) throw error;
    const [skipped] = await ctx.db.select().from(jobRuns).where(eq(jobRuns.id, row.id)).limit(1);
    return { run: presentRun(skipped), started: false };
  }
  const params: JobParams = {
    runId: row.id,
    holder: instanceId,
    actor: ctx.principal.actor,
    input: input.params,
    leaseMs: JOB_LEASE_MS,
    nowOffsetMs: now.getTime() - Date.now(),
  };
  try {
    await workflowBinding(ctx.env, input.kind).create({ id: instanceId, params });
  } catch (error) {
    const message = `could not start the Workflow: ${error instanceof Error ? error.message : String(error)}`;
    await ctx.db
      .update(jobRuns)
      .set({ status: "failed", finishedAt: ctx.now().getTime(), error: message })
      .where(eq(jobRuns.id, row.id));
    await releaseLease({ ctx, input: { name: definition.job, holder: instanceId } });
    throw new KeeperError("BAD_GATEWAY", message, { cause: error });
  }
  ctx.logger.info("job started", { job: definition.job, run: row.id, instance: instanceId, trigger: input.trigger });
  return { run: row, started: true };
}

export async function listJobs({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { job?: string; status?: JobRun["status"]; limit: number };
}) {
  const conditions = [
    input.job ? eq(jobRuns.job, input.job) : undefined,
    input.status ? eq(jobRuns.status, input.status) : undefined,
  ];
  const rows = await ctx.db
    .select()
    .from(jobRuns)
    .where(and(...conditions))
    .orderBy(desc(jobRuns.startedAt), desc(jobRuns.id))
    .limit(input.limit);
  return rows.map(presentRun);
}

/** A run with, for a Workflow-run job, the instance's own status as the engine reports it. */
export async function showJob({ ctx, input }: { ctx: AppContext; input: { id: number } }) {
  const [row] = await ctx.db.select().from(jobRuns).where(eq(jobRuns.id, input.id)).limit(1);
  if (!row) throw notFound(`Job run ${input.id}`);
  const run = presentRun(row);
  return { ...run, workflow: run.instance_id ? await instanceStatus(ctx, row.job, run.instance_id) : null };
}

function kindOfJob(job: string): StartableKind | null {
  const entry = Object.entries(jobDefinitions).find(([, definition]) => definition.job === job);
  return entry ? (entry[0] as StartableKind) : null;
}

async function instanceStatus(ctx: AppContext, job: string, instanceId: string) {
  const kind = kindOfJob(job);
  if (!kind) return null;
  try {
    const status = await (await workflowBinding(ctx.env, kind).get(instanceId)).status();
    return { status: status.status, error: status.error?.message ?? null };
  } catch (error) {
    // Completed instances are kept for a limited time (3 to 30 days); the run record stays.
    return { status: "unknown", error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Cancels a running job: its Workflow instance is terminated, the run recorded `cancelled` and its
 * lease released, in that order, so no further step runs and the next run can start at once. A
 * step already under way when the instance is terminated finds its run cancelled at its next check
 * and stops. A finished run cannot be cancelled (409).
 */
export async function cancelJob({ ctx, input }: { ctx: AppContext; input: { id: number; dryRun: boolean; confirm: boolean } }) {
  const [row] = await ctx.db.select().from(jobRuns).where(eq(jobRuns.id, input.id)).limit(1);
  if (!row) throw notFound(`Job run ${input.id}`);
  if (row.status !== "running") throw new KeeperError("CONFLICT", `Job run ${input.id} is ${row.status}, not running`);
  if (input.dryRun) return { dryRun: true, run: presentRun(row) };
  if (!input.confirm) throw new KeeperError("CONFIRMATION_REQUIRED", "Cancelling stops the job where it is; send confirm: true");
  const kind = kindOfJob(row.job);
  if (kind && row.instanceId) {
    try {
      await (await workflowBinding(ctx.env, kind).get(row.instanceId)).terminate();
    } catch (error) {
      // An instance that already ended (or never started) has nothing to stop; the record still must.
      ctx.logger.warn("terminate failed", { run: row.id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  await ctx.d1.batch([
    ctx.d1
      .prepare("UPDATE keeper_job_runs SET status = 'cancelled', finished_at = ?, error = ? WHERE id = ? AND status = 'running'")
      .bind(ctx.now().getTime(), `cancelled by ${ctx.principal.actor}`, row.id),
    auditStatement(
      ctx,
      { action: "jobs.cancel", target: String(row.id), detail: { job: row.job, instance: row.instanceId } },
      { onlyIfPreviousChanged: true },
    ),
  ]);
  if (row.holder) await releaseLease({ ctx, input: { name: row.job, holder: row.holder } });
  const [cancelled] = await ctx.db.select().from(jobRuns).where(eq(jobRuns.id, row.id)).limit(1);
  return { dryRun: false, run: presentRun(cancelled ?? row) };
}
