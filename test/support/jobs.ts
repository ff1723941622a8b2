import type { WorkflowStepConfig } from "cloudflare:workers";
import { env } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import { expect } from "vitest";
import type { BudgetLimits } from "../../src/maintenance/budget";
import { type JobDefinition, type JobParams, runJob, type StepRunner } from "../../src/maintenance/job-runtime";
import type { JobRun } from "../../src/maintenance/runs";
import { call, json } from "./http";

/**
 * Follows a job run through GET /admin/jobs/{id} until it leaves `running` (the Workflow engine
 * runs it in the background, as in production), and returns the final run.
 */
export async function waitForRun(id: number, timeoutMs = 60_000): Promise<JobRun & { workflow: { status: string } | null }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await call("GET", `/admin/jobs/${id}`, { token: "read" });
    expect(res.status).toBe(200);
    const run = await json<JobRun & { workflow: { status: string } | null }>(res);
    if (run.status !== "running") return run;
    if (Date.now() > until) throw new Error(`run ${id} still running after ${timeoutMs} ms: ${JSON.stringify(run.progress)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function leaseOf(name: string) {
  return env.DB.prepare("SELECT holder, expires_at FROM keeper_leases WHERE name = ?").bind(name).first<{ holder: string }>();
}

/**
 * Runs a job's steps here instead of through the Workflow engine, with the bindings given (a
 * failing bucket, say) still under production's limits, retrying each step as its config says
 * (without the delays). The run and its lease are recorded as `startJob` records them.
 */
export async function runLocally<Input, State>({
  definition,
  input,
  bindings = env,
  now = Date.now(),
  beforeStep,
  budget,
}: {
  definition: JobDefinition<Input, State>;
  input: Input;
  bindings?: Env;
  now?: number;
  /** Runs before each step by name (to change the world between two steps). */
  beforeStep?: (name: string) => Promise<void>;
  budget?: BudgetLimits;
}) {
  const holder = `local-${crypto.randomUUID()}`;
  const row = await env.DB.prepare(
    `INSERT INTO keeper_job_runs (job, trigger, actor, status, started_at, holder, instance_id)
     VALUES (?, 'manual', 'test', 'running', ?, ?, ?) RETURNING id`,
  )
    .bind(definition.job, now, holder, holder)
    .first<{ id: number }>();
  const runId = (row as { id: number }).id;
  await env.DB.prepare(
    `INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
  )
    .bind(definition.job, holder, now, now + 15 * 60_000)
    .run();
  const steps: string[] = [];
  /** Each step's result size in bytes (the state a slice hands to the next step is most of it). */
  const resultBytes: number[] = [];
  let attempts = 0;
  const step = {
    async do(name: string, config: WorkflowStepConfig, callback: () => Promise<unknown>) {
      steps.push(name);
      await beforeStep?.(name);
      for (let attempt = 0; ; attempt++) {
        attempts++;
        try {
          const result = await callback();
          resultBytes.push(typeof result === "string" ? result.length : JSON.stringify(result ?? null).length);
          return result;
        } catch (error) {
          if (error instanceof NonRetryableError || attempt >= (config.retries?.limit ?? 0)) throw error;
        }
      }
    },
  } as unknown as StepRunner;
  const params: JobParams<Input> = { runId, holder, actor: "test", input, leaseMs: 15 * 60_000, nowOffsetMs: now - Date.now() };
  const outcome = await runJob({ definition, params, step, env: bindings, deps: {}, budget }).then(
    (result) => ({ result, error: null }),
    (error: unknown) => ({ result: null, error }),
  );
  const run = await env.DB.prepare("SELECT status, error, counts FROM keeper_job_runs WHERE id = ?")
    .bind(runId)
    .first<{ status: string; error: string | null; counts: string | null }>();
  return { runId, steps, attempts, resultBytes, ...outcome, run };
}
