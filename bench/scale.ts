import { mkdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { type DatasetSize, generateDataset } from "./dataset";
import { adminJsonHeaders, type DevServer, parseFlags, root, startWranglerDev } from "./harness";

/**
 * npm run bench:scale -- --rows N: the 10 GB question, measured on a smaller database. Builds a
 * dataset of about N rows, runs backup, restore (into SCRATCH_DB) and retention through `wrangler
 * dev` with production's per-invocation limits enforced on every job step (KEEPER_PLATFORM_LIMITS
 * = paid) and the paid step budget, reads each job's run record, and projects steps and minutes at
 * 1, 5 and 10 GB from the measured costs (rows per GB from the dataset's bytes per row; see
 * `project`).
 * The last stdout line is one JSON document: {"jobs": {...}, "projection": {...}}.
 *
 *   npm run bench:scale -- --rows 150000
 */

const flags = parseFlags(process.argv.slice(2), { rows: "1000000" });
const targetRows = Number(flags.rows);
if (!(Number.isSafeInteger(targetRows) && targetRows >= 10_000)) throw new Error("--rows must be a whole number ≥ 10000");

/** The reference dataset's mix, scaled to N rows; every 50th video is soft-deleted and every conversation is idle. */
const size: DatasetSize = {
  videos: Math.round(targetRows * 0.02),
  context: Math.round(targetRows * 0.5),
  memory: Math.round(targetRows * 0.25),
  conversations: Math.round(targetRows * 0.03),
  messages: Math.round(targetRows * 0.2),
  deletedEvery: 50,
};
const rows = size.videos + size.context + size.memory + size.conversations + size.messages;

export interface JobFigures {
  rows: number;
  steps: number;
  maxQueriesPerInvocation: number;
  maxR2CallsPerInvocation: number;
  maxStepMs: number;
  seconds: number;
  /** All steps' D1 queries, R2 calls and time. */
  totals: { queries: number; r2Calls: number; stepMs: number };
}

interface RunRecord {
  status: string;
  error: string | null;
  counts: Record<string, number | string | boolean | null> | null;
}

const headers = adminJsonHeaders();

async function post(server: DevServer, route: string, body: unknown) {
  const response = await fetch(`${server.url}${route}`, { method: "POST", headers, body: JSON.stringify(body) });
  // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads the fields it reports
  const json = (await response.json()) as any;
  if (!response.ok) throw new Error(`POST ${route}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Follows a job run at /admin/jobs/{id} until it ends; throws unless it succeeded. */
async function finishedRun(server: DevServer, id: number): Promise<RunRecord> {
  for (;;) {
    const run = (await (await fetch(`${server.url}/admin/jobs/${id}`, { headers })).json()) as RunRecord;
    if (run.status === "succeeded" && run.counts) return run;
    if (run.status !== "running") throw new Error(`job run ${id} ${run.status}: ${run.error}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function figuresOf(run: RunRecord, jobRows: number, seconds: number): JobFigures {
  const counts = run.counts ?? {};
  return {
    rows: jobRows,
    steps: Number(counts.steps),
    maxQueriesPerInvocation: Number(counts.max_queries_per_step),
    maxR2CallsPerInvocation: Number(counts.max_r2_calls_per_step),
    maxStepMs: Number(counts.max_step_ms),
    seconds,
    totals: {
      queries: Number(counts.queries_total),
      r2Calls: Number(counts.r2_calls_total),
      stepMs: Number(counts.step_ms_total),
    },
  };
}

const since = () => {
  const started = performance.now();
  return () => Math.round(performance.now() - started) / 1000;
};

/** The backup Workflow, started as `keeper backup create` starts it. */
async function runBackup(server: DevServer): Promise<{ figures: JobFigures; backupId: string }> {
  const elapsed = since();
  const started = await post(server, "/admin/backups", {});
  const run = await finishedRun(server, started.run.id);
  return { figures: figuresOf(run, Number(run.counts?.rows), elapsed()), backupId: String(run.counts?.backup) };
}

/** The restore Workflow into SCRATCH_DB, started as `keeper backup restore --target scratch` starts it. */
async function runRestore(server: DevServer, backupId: string): Promise<JobFigures> {
  const elapsed = since();
  const started = await post(server, `/admin/backups/${backupId}/restore`, { target: "scratch", force: true });
  const run = await finishedRun(server, started.run.id);
  if (run.counts?.verified !== true) throw new Error(`restore did not verify: ${JSON.stringify(run.counts)}`);
  return figuresOf(run, Number(run.counts?.rows), elapsed());
}

/** Retention with every phase on, as `keeper archive apply-policies --confirm` starts it. */
async function runRetention(server: DevServer): Promise<JobFigures> {
  const elapsed = since();
  const started = await post(server, "/admin/archival/apply-policies", { confirm: true });
  const run = await finishedRun(server, started.run.id);
  const counts = run.counts ?? {};
  const touched = Number(counts.rows_purged) + Number(counts.conversations_archived) + Number(counts.messages_archived);
  return figuresOf(run, touched, elapsed());
}

const GB = 1e9;
/** The paid step budget (src/maintenance/budget.ts): a step stops at whichever it reaches first. */
const stepBudget = { queries: 900, r2Calls: 900, wallMs: 25_000 };

/**
 * Steps and minutes at a database size, if a job's work grows with its rows as measured here: its
 * queries, R2 calls and step time scale by rows, and fill steps of the paid budget, whichever runs
 * out first (plus begin and finish); the time between steps (the Workflow's own) is as measured per
 * step. A job's share of the database (retention touches only what is due) stays as measured.
 */
function project(job: JobFigures, jobShareOfDatabase: number, rowsAtSize: number) {
  const jobRows = rowsAtSize * jobShareOfDatabase;
  const scale = jobRows / Math.max(job.rows, 1);
  const minutes = (ms: number) => Math.round(ms / 6000) / 10;
  const steps =
    2 +
    Math.ceil(
      Math.max(
        (job.totals.queries * scale) / stepBudget.queries,
        (job.totals.r2Calls * scale) / stepBudget.r2Calls,
        (job.totals.stepMs * scale) / stepBudget.wallMs,
      ),
    );
  const betweenStepsMs = Math.max(0, job.seconds * 1000 - job.totals.stepMs) / Math.max(job.steps, 1);
  return { rows: Math.round(jobRows), steps, minutes: minutes(job.totals.stepMs * scale + steps * betweenStepsMs) };
}

const work = path.join(root, "bench/.state/scale");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const persistTo = path.join(work, "state");
const building = since();
const file = generateDataset(persistTo, size);
const databaseBytes = statSync(file).size;
console.error(`dataset ${JSON.stringify(size)} (${rows} rows) in ${building()} s → ${(databaseBytes / 1e6).toFixed(0)} MB`);

const server = await startWranglerDev({ persistTo, timeoutMs: 180_000, vars: { KEEPER_PLATFORM_LIMITS: "paid" } });
let jobs: Record<"backup" | "restore" | "retention", JobFigures>;
try {
  const backup = await runBackup(server);
  console.error(`backup ${backup.backupId}: ${JSON.stringify(backup.figures)}`);
  const restore = await runRestore(server, backup.backupId);
  console.error(`restore: ${JSON.stringify(restore)}`);
  const retention = await runRetention(server);
  console.error(`retention: ${JSON.stringify(retention)}`);
  jobs = { backup: backup.figures, restore, retention };
} finally {
  await server.stop();
}

const bytesPerRow = databaseBytes / rows;
const rowsPerGB = GB / bytesPerRow;
const projection: Record<string, unknown> = { bytesPerRow: Math.round(bytesPerRow), rowsPerGB: Math.round(rowsPerGB) };
for (const gb of [1, 5, 10]) {
  projection[`${gb}GB`] = Object.fromEntries(
    Object.entries(jobs).map(([name, job]) => [name, project(job, job.rows / rows, gb * rowsPerGB)]),
  );
}
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ rows, databaseBytes, jobs, projection }));
