import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { components } from "../../client/keeper-api.ts";
import { type ApiClient, CliError } from "../client.ts";
import { confirmOrExit } from "../confirm.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, type OutputOptions, progress, table } from "../output.ts";

/**
 * `keeper jobs …`: long jobs (retention, …) run as Workflows on the Worker; these watch and stop them.
 *   list [--job NAME] [--status S] · show ID [--wait] · cancel ID [--yes]
 */

/** A job run as the API declares it (GET /admin/jobs/{id}). */
export type JobRun = components["schemas"]["JobRun"];

function positiveId(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a job run id (a positive whole number)");
  return parsed;
}

/** One line of progress for people: `[######----] 3/5 phases · archive · step 4`. */
export function progressLine(run: JobRun): string {
  const p = run.progress;
  if (!p) return `job ${run.id} ${run.status}`;
  const width = 20;
  const filled = p.total ? Math.min(width, Math.round((p.done / p.total) * width)) : 0;
  const bar = p.total
    ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.done}/${p.total} ${p.unit}`
    : `${p.done} ${p.unit}`;
  return `job ${run.id} ${bar} · ${p.phase} · step ${p.steps}`;
}

/**
 * Follows a run until it leaves `running`, printing progress on stderr when it changes; a run that
 * did not succeed is a failure (exit 1) after it is printed.
 */
export async function waitForJob(client: ApiClient, id: number, options: { intervalMs?: number } = {}): Promise<JobRun> {
  let last = "";
  for (;;) {
    const run: JobRun = await client.call(client.api.GET("/admin/jobs/{id}", { params: { path: { id } } }));
    const line = progressLine(run);
    if (line !== last) progress(line);
    last = line;
    if (run.status !== "running") return run;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}

/**
 * For a restore that did not succeed (failed, cancelled, or still running after a kill) and had
 * taken its safety backup: where the database it replaced is, and the one command that brings it back.
 */
export function safetyBackupHint(run: JobRun): string | null {
  const safety = run.counts?.safety_backup;
  if (run.status === "succeeded" || typeof safety !== "string") return null;
  return `restore failed; the database before it is in backup ${safety}: keeper backup restore ${safety} --target main --force`;
}

/** Prints a finished run and turns anything but success into exit 1. */
export function reportRun(output: OutputOptions, run: JobRun): void {
  const hint = safetyBackupHint(run);
  emit(output, run, () =>
    keyValues([
      ["job", `${run.job} (run ${run.id}, instance ${run.instance_id ?? "-"})`],
      ["status", run.status],
      ...Object.entries(run.counts ?? {}),
      ...(run.error ? ([["error", run.error]] as [string, unknown][]) : []),
      ...(hint && !run.error?.includes(hint) ? ([["hint", hint]] as [string, unknown][]) : []),
    ]),
  );
  if (run.status === "succeeded") return;
  // With --json the run just printed is the one document on stdout; it says what went wrong.
  if (output.json) process.exitCode = 1;
  else throw new CliError(`job ${run.id} ${run.status}${run.error ? `: ${run.error}` : ""}`);
}

/**
 * What a command that starts a job does next: `--no-wait` prints the run id and returns; otherwise
 * it waits for the job's end and exits with its outcome.
 */
export async function followStartedJob(context: CommandContext, run: JobRun, options: { wait: boolean }) {
  if (!options.wait) {
    emit(context.output(), run, () => `started job ${run.id} (${run.job}); follow it with: keeper jobs show ${run.id} --wait`);
    return;
  }
  reportRun(context.output(), await waitForJob(context.client(), run.id));
}

export function registerJobs(program: Command, context: CommandContext) {
  const jobs = program.command("jobs").description("Watch and cancel long jobs (Workflows)");

  jobs
    .command("list")
    .description("Job runs, newest first")
    .option("--job <name>", "only this job, e.g. retention.apply-policies")
    .option("--status <status>", "running | succeeded | partial | failed | skipped | cancelled")
    .option("--limit <n>", "how many", "50")
    .action(async (options: { job?: string; status?: string; limit: string }) => {
      const client = context.client();
      const result = await client.call(
        client.api.GET("/admin/jobs", {
          params: {
            query: { limit: Number(options.limit), job: options.job, status: options.status as JobRun["status"] | undefined },
          },
        }),
      );
      emit(context.output(), result, () =>
        table(
          ["id", "job", "status", "trigger", "started", "progress"],
          result.items.map((run) => [
            run.id,
            run.job,
            run.status,
            run.trigger,
            run.started_at,
            run.progress ? `${run.progress.phase} · step ${run.progress.steps}` : "",
          ]),
        ),
      );
    });

  jobs
    .command("show")
    .argument("<id>", "job run id", positiveId)
    .description("One run with its Workflow's status; --wait follows it to its end")
    .option("--wait", "wait until the job ends (progress on stderr) and exit with its outcome", false)
    .action(async (id: number, options: { wait: boolean }) => {
      if (options.wait) return reportRun(context.output(), await waitForJob(context.client(), id));
      const client = context.client();
      const run = await client.call(client.api.GET("/admin/jobs/{id}", { params: { path: { id } } }));
      emit(context.output(), run, () =>
        keyValues([
          ["job", run.job],
          ["status", run.status],
          ["instance", run.instance_id],
          ["workflow", run.workflow],
          ["progress", progressLine(run)],
          ["counts", run.counts],
          ["error", run.error],
          ...(safetyBackupHint(run) ? ([["hint", safetyBackupHint(run)]] as [string, unknown][]) : []),
        ]),
      );
    });

  jobs
    .command("cancel")
    .argument("<id>", "job run id", positiveId)
    .description("Stop a running job (terminate its Workflow, record it cancelled, free its lease)")
    .option("--yes", "do not ask for confirmation", false)
    .action(async (id: number, options: { yes: boolean }) => {
      const client = context.client();
      const cancel = (body: { dryRun: boolean } | { confirm: boolean }) =>
        client.call(client.api.POST("/admin/jobs/{id}/cancel", { params: { path: { id } }, body }));
      const plan = await cancel({ dryRun: true });
      await confirmOrExit(`Cancel job ${id} (${plan.run.job}, ${progressLine(plan.run)})?`, options);
      const result = await cancel({ confirm: true });
      emit(context.output(), result, () => `job ${id} ${result.run.status}`);
    });
}
