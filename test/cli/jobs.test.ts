import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { runKeeper } from "./run-keeper.ts";

/**
 * Commands that start a job wait for its end (progress on stderr, exit with the outcome) unless
 * --no-wait; `keeper jobs …` watches and cancels. A stand-in Worker answers on loopback: job 7 is
 * `running` for its first poll and `succeeded` after; job 8 ends `failed`.
 */

let server: Server;
let base: string;
const polls = new Map<string, number>();

function run(id: number, status: string, phase: string) {
  return {
    id,
    job: "retention.apply-policies",
    trigger: "manual",
    actor: "token:admin",
    status,
    started_at: "2030-01-01T00:00:00.000Z",
    finished_at: status === "running" ? null : "2030-01-01T00:01:00.000Z",
    counts: status === "succeeded" ? { videos_purged: 3 } : null,
    error: status === "failed" ? "R2 put failed" : null,
    instance_id: `retention-${id}`,
    progress: { steps: 2, done: status === "running" ? 1 : 5, total: 5, unit: "phases", phase },
  };
}

async function reply(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
  let text = "";
  for await (const chunk of req) text += chunk;
  const body = text ? JSON.parse(text) : {};
  if (req.url === "/admin/archival/apply-policies") {
    if (body.dryRun) return { status: 200, body: { dryRun: true, plan: { purge: { videos: 3 } } } };
    return { status: 200, body: { dryRun: false, started: true, run: run(body.deleteDays === 9 ? 8 : 7, "running", "queued") } };
  }
  const job = /^\/admin\/jobs\/(\d+)$/.exec(req.url ?? "");
  if (job) {
    const seen = (polls.get(job[1]) ?? 0) + 1;
    polls.set(job[1], seen);
    if (seen === 1) return { status: 200, body: { ...run(Number(job[1]), "running", "purge"), workflow: null } };
    return { status: 200, body: { ...run(Number(job[1]), job[1] === "8" ? "failed" : "succeeded", "done"), workflow: null } };
  }
  if (req.url === "/admin/jobs/7/cancel") {
    if (body.dryRun) return { status: 200, body: { dryRun: true, run: run(7, "running", "archive") } };
    return { status: 200, body: { dryRun: false, run: run(7, "cancelled", "archive") } };
  }
  return { status: 404, body: { title: "Not found", status: 404, detail: req.url } };
}

before(async () => {
  server = createServer((req, res) => {
    reply(req).then((answer) => {
      res.writeHead(answer.status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

describe("keeper and long jobs", () => {
  it("archive apply-policies waits for the job, shows its progress, and exits 0 when it succeeds", async () => {
    polls.clear();
    const result = await runKeeper(["--url", base, "--token", "t", "archive", "apply-policies", "--yes"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /job 7 \[####----------------\] 1\/5 phases · purge · step 2/);
    assert.match(result.stdout, /status\s+succeeded/);
    assert.match(result.stdout, /videos_purged\s+3/);
  });

  it("exits 1 when the job it waited for failed", async () => {
    polls.clear();
    const result = await runKeeper(["--url", base, "--token", "t", "archive", "apply-policies", "--yes", "--delete-days", "9"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /job 8 failed: R2 put failed/);
  });

  it("--no-wait prints the job id and returns at once", async () => {
    polls.clear();
    const result = await runKeeper(["--url", base, "--token", "t", "--json", "archive", "apply-policies", "--yes", "--no-wait"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).id, 7);
    assert.equal(polls.size, 0);
  });

  it("jobs cancel asks first (refuses without a terminal) and cancels with --yes", async () => {
    // Without a terminal and without --yes: a usage error, nothing cancelled.
    assert.equal((await runKeeper(["--url", base, "--token", "t", "jobs", "cancel", "7"])).code, 2);
    const result = await runKeeper(["--url", base, "--token", "t", "jobs", "cancel", "7", "--yes"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /job 7 cancelled/);
    assert.equal((await runKeeper(["--url", base, "jobs", "show", "zero"])).code, 2);
  });
});
