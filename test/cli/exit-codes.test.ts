import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { runKeeper } from "./run-keeper.ts";

/**
 * The exit-code contract (README): 0 = done and nothing wrong, 1 = done and found a problem, 2 = usage.
 * Every command that can find a problem is run against a stand-in API that reports one, with and
 * without --json, and once against one that reports nothing wrong.
 */

let problem = true;
/** The safety backup a failed restore's run names (null: it had not taken one). */
let safetyBackup: string | null = null;
let server: Server;
let base: string;

const healthReport = () => ({
  time: "2030-01-01T00:00:00.000Z",
  score: problem ? 20 : 100,
  status: problem ? "critical" : "healthy",
  checks: [{ name: "size", ok: !problem, penalty: problem ? 80 : 0, detail: "9.5 GB of 10 GB" }],
  size: { bytes: 1024, limit_bytes: 10 * 1024 ** 3 },
  growth: { days_until_limit: null },
  binding: { round_trip_ms: 1 },
  schema: { ready: true, pending: [], unknown_applied: [], summary: "schema matches the Worker's migrations" },
});

/** A job run as GET /admin/jobs/{id} answers it. */
const jobRun = (id: number, job: string, status: string, rest: { counts?: unknown; error?: string | null } = {}) => ({
  id,
  job,
  trigger: "manual",
  actor: "test",
  status,
  started_at: "2030-01-01T00:00:00.000Z",
  finished_at: status === "running" ? null : "2030-01-01T00:00:01.000Z",
  counts: rest.counts ?? null,
  error: rest.error ?? null,
  instance_id: `i-${id}`,
  progress: { steps: 3, done: 6, total: 6, unit: "phases", phase: "done" },
  workflow: null,
});

// biome-ignore lint/suspicious/noExplicitAny: the stand-in reads the one field it branches on
const routes: Partial<Record<string, (body: any) => unknown>> = {
  "GET /admin/health": healthReport,
  "GET /admin/health/integrity": () => ({
    ok: !problem,
    quick_check: problem ? ["row 3 missing from index videos_created_at"] : ["ok"],
    foreign_key_violations: {},
    invariants: {},
  }),
  "POST /admin/health/test-webhook": () => ({
    urls: 1,
    results: [{ url: "https://hooks.example.com", ok: !problem, status: problem ? 500 : 200, attempts: 3 }],
  }),
  "POST /admin/backups/b1/verify": () => ({
    ok: !problem,
    objects: 2,
    rows: 10,
    problems: problem ? ["page 1: sha256 differs"] : [],
  }),
  "POST /admin/backups/b1/restore": (body) =>
    body?.dryRun
      ? {
          dryRun: true,
          plan: { id: "b1", target: "scratch", rows: 10, tables: [{ name: "videos", rows: 10 }], drops: [], occupied: [] },
        }
      : { dryRun: false, run: jobRun(42, "backups.restore", "running") },
  "GET /admin/jobs/42": () =>
    jobRun(42, "backups.restore", problem ? "failed" : "succeeded", {
      counts: { backup: "b1", target: "scratch", verified: !problem, safety_backup: problem ? safetyBackup : null },
      error: problem ? "Restored b1 into scratch, but videos differ from the manifest" : null,
    }),
  "POST /admin/backups/drill": () => ({ run: jobRun(43, "backups.drill", "running"), started: true }),
  "GET /admin/jobs/43": () =>
    jobRun(43, "backups.drill", problem ? "failed" : "succeeded", { counts: {}, error: problem ? "mismatch" : null }),
  "GET /admin/migrations": () => ({
    ok: !problem,
    current: null,
    applied: [],
    pending: [],
    drift: problem ? [{ kind: "checksum", name: "0001_x.sql", detail: "0001_x.sql changed" }] : [],
  }),
  "POST /admin/migrations/test": () => ({
    ok: !problem,
    database: "SCRATCH_DB",
    migrations: [{ name: "0001_x.sql", up: { ok: !problem, problems: [] }, down: null, reup: null }],
  }),
  "GET /admin/migrations/lint": () => ({ ok: !problem, files: 1, errors: problem ? 1 : 0, warnings: 0, findings: [] }),
};

const commands: string[][] = [
  ["health", "report"],
  ["health", "integrity"],
  ["health", "test-webhook"],
  ["backup", "verify", "b1"],
  ["backup", "restore", "b1", "--target", "scratch"],
  ["backup", "drill"],
  ["migrate", "status"],
  ["migrate", "test"],
  ["migrate", "lint"],
];

const run = (args: string[]) => runKeeper(["--url", base, "--token", "t0k3n-for-tests", ...args]);

before(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      const answer = routes[`${req.method} ${req.url?.split("?")[0]}`];
      res.writeHead(answer ? 200 : 404, { "Content-Type": "application/json" });
      res.end(JSON.stringify(answer ? answer(text ? JSON.parse(text) : null) : { title: "Not found", detail: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

describe("exit codes", () => {
  for (const command of commands) {
    for (const json of [false, true]) {
      const args = json ? ["--json", ...command] : command;
      it(`keeper ${args.join(" ")} exits 1 when it finds a problem`, async () => {
        problem = true;
        const result = await run(args);
        assert.equal(result.code, 1, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
        if (json) JSON.parse(result.stdout);
      });
      it(`keeper ${args.join(" ")} exits 0 when nothing is wrong`, async () => {
        problem = false;
        const result = await run(args);
        assert.equal(result.code, 0, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
        if (json) JSON.parse(result.stdout);
      });
    }
  }
});

describe("keeper backup restore", () => {
  it("a restore that failed after its safety backup says where the database before it is, and how to bring it back", async () => {
    problem = true;
    safetyBackup = "20300101T000000Z-beef";
    const result = await run(["backup", "restore", "b1", "--target", "scratch"]);
    safetyBackup = null;
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stdout,
      /restore failed; the database before it is in backup 20300101T000000Z-beef: keeper backup restore 20300101T000000Z-beef --target main --force/,
    );
  });

  it("--no-wait prints the job id and returns", async () => {
    problem = true;
    const result = await run(["backup", "restore", "b1", "--target", "scratch", "--no-wait"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /started job 42 \(backups\.restore\)/);
  });
});
