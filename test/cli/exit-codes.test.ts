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

const routes: Partial<Record<string, () => unknown>> = {
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
  "POST /admin/backups/b1/restore": () => ({
    plan: { rows: 10, tables: ["videos"], drops: [] },
    verified: !problem,
    mismatches: problem ? [{ table: "videos" }] : [],
  }),
  "POST /admin/backups/drill": () => ({
    status: problem ? "failed" : "succeeded",
    counts: {},
    error: problem ? "mismatch" : null,
  }),
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
    req.resume();
    req.on("end", () => {
      const answer = routes[`${req.method} ${req.url?.split("?")[0]}`];
      res.writeHead(answer ? 200 : 404, { "Content-Type": "application/json" });
      res.end(JSON.stringify(answer ? answer() : { title: "Not found", detail: req.url }));
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
