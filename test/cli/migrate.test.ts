import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { runKeeper } from "./run-keeper.ts";

/**
 * `keeper migrate …` against a stand-in admin API on loopback: the requests it sends (dry run before
 * a destructive rollback, confirm only after --yes), what it prints, and its exit codes.
 */

interface Seen {
  method: string;
  url: string;
  body: Record<string, unknown> | null;
}

const seen: Seen[] = [];
let answers: Record<string, (body: Record<string, unknown> | null) => { status: number; body: unknown }> = {};
let server: Server;
let base: string;

const plan = (overrides: Record<string, unknown> = {}) => ({
  dry_run: true,
  from: "0002_more.sql",
  to: "0000_initial_schema.sql",
  steps: [
    { number: 2, name: "0002_more.sql", statements: ["DROP TABLE `more`"] },
    { number: 1, name: "0001_add_video_tags.sql", statements: ["ALTER TABLE `videos` DROP COLUMN `tags`"] },
  ],
  bookmark: { taken: false, reason: "dry run: no Time Travel bookmark taken" },
  forced_past_drift: [],
  rolled_back: [],
  ...overrides,
});

const run = (args: string[]) => runKeeper(["--url", base, "--token", "t0k3n-for-tests", ...args]);

before(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => {
      raw += chunk;
    });
    req.on("end", () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
      seen.push({ method: req.method ?? "", url: req.url ?? "", body });
      const answer = answers[`${req.method} ${req.url}`]?.(body) ?? {
        status: 404,
        body: { title: "Not found", detail: "no route" },
      };
      res.writeHead(answer.status, { "Content-Type": answer.status < 400 ? "application/json" : "application/problem+json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

beforeEach(() => {
  seen.length = 0;
  answers = {};
});

describe("keeper migrate", () => {
  it("rollback without --yes and without a terminal shows the plan, refuses (exit 2) and never confirms", async () => {
    answers["POST /admin/migrations/rollback"] = () => ({ status: 200, body: plan() });
    const result = await run(["migrate", "rollback", "--to", "0"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /DROP TABLE `more`;/);
    assert.match(result.stderr, /pass --yes/);
    assert.deepEqual(
      seen.map((request) => request.body),
      [{ to: 0, force: false, dryRun: true }],
    );
  });

  it("rollback --yes sends the dry run, then the confirmed rollback", async () => {
    answers["POST /admin/migrations/rollback"] = (body) => ({
      status: 200,
      body: body?.confirm ? plan({ dry_run: false, rolled_back: ["0002_more.sql", "0001_add_video_tags.sql"] }) : plan(),
    });
    const result = await run(["migrate", "rollback", "--to", "0", "--yes"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      seen.map((request) => request.body),
      [
        { to: 0, force: false, dryRun: true },
        { to: 0, from: "0002_more.sql", force: false, dryRun: false, confirm: true },
      ],
    );
    assert.match(result.stdout, /rolled back 0002_more\.sql, 0001_add_video_tags\.sql/);
    assert.match(result.stdout, /no Time Travel bookmark taken/);
  });

  it("rollback without --to confirms the plan's target and starting version, not 'the newest'", async () => {
    const newestOnly = plan({
      to: "0001_add_video_tags.sql",
      steps: [{ number: 2, name: "0002_more.sql", statements: ["DROP TABLE `more`"] }],
    });
    answers["POST /admin/migrations/rollback"] = (body) => ({
      status: 200,
      body: body?.confirm ? { ...newestOnly, dry_run: false, rolled_back: ["0002_more.sql"] } : newestOnly,
    });
    const result = await run(["migrate", "rollback", "--yes"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(seen[1].body, { to: 1, from: "0002_more.sql", force: false, dryRun: false, confirm: true });
  });

  it("apply --to N --dry-run prints the SQL it would run", async () => {
    answers["POST /admin/migrations/apply"] = () => ({
      status: 200,
      body: {
        ...plan(),
        from: "0000_initial_schema.sql",
        to: "0000_initial_schema.sql",
        steps: [{ number: 1, name: "0001_add_video_tags.sql", statements: ["ALTER TABLE `videos` ADD `tags` text"] }],
        applied: [],
      },
    });
    const result = await run(["migrate", "apply", "--to", "1", "--dry-run"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(seen[0].body, { to: 1, dryRun: true, force: false });
    assert.match(result.stdout, /-- 0001_add_video_tags\.sql\nALTER TABLE `videos` ADD `tags` text;/);
  });

  it("refuses a negative or non-numeric --to locally (exit 2, nothing sent)", async () => {
    assert.equal((await run(["migrate", "rollback", "--to", "-1", "--yes"])).code, 2);
    assert.equal((await run(["migrate", "apply", "--to", "one"])).code, 2);
    assert.equal((await run(["migrate", "apply", "--to", "1.5"])).code, 2);
    assert.equal(seen.length, 0);
  });

  it("an API refusal exits 1 with the problem's detail", async () => {
    answers["POST /admin/migrations/apply"] = () => ({
      status: 422,
      body: {
        title: "Unprocessable content",
        status: 422,
        detail: "There is no migration number 7 (known: 0, 1)",
        errors: [{ path: "body.to", message: "unknown migration number 7" }],
      },
    });
    const result = await run(["migrate", "apply", "--to", "7"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /422 Unprocessable content: There is no migration number 7/);
    assert.match(result.stderr, /body\.to: unknown migration number 7/);
  });

  it("status exits 1 on drift and names it", async () => {
    answers["GET /admin/migrations"] = () => ({
      status: 200,
      body: {
        ok: false,
        current: { number: 1, name: "0001_add_video_tags.sql" },
        applied: [
          {
            name: "0001_add_video_tags.sql",
            applied_at: "2026-11-20 10:00:00",
            checksum: { recorded: "a".repeat(64), recorded_as: "applied", file: "b".repeat(64), matches: false },
          },
        ],
        pending: [],
        drift: [
          {
            kind: "checksum_mismatch",
            name: "0001_add_video_tags.sql",
            detail: "0001_add_video_tags.sql changed after it was applied",
          },
        ],
      },
    });
    const result = await run(["migrate", "status"]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /CHANGED since verified at apply/);
    assert.match(result.stdout, /checksum_mismatch: 0001_add_video_tags\.sql changed/);
    const json = await run(["--json", "migrate", "status"]);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).problem.drift[0].kind, "checksum_mismatch");
  });

  it("test and lint exit 1 when they fail", async () => {
    answers["POST /admin/migrations/test"] = () => ({
      status: 200,
      body: {
        ok: false,
        database: "SCRATCH_DB",
        migrations: [
          { name: "0002_x.sql", up: { ok: false, problems: ["rows: messages: 2 of 2 row(s) lost"] }, down: null, reup: null },
        ],
      },
    });
    answers["GET /admin/migrations/lint"] = () => ({
      status: 200,
      body: {
        ok: false,
        files: 1,
        errors: 1,
        warnings: 0,
        findings: [
          {
            file: "0002_x.sql",
            direction: "down",
            rule: "missing-down",
            severity: "error",
            statement: null,
            message: "No rollback",
          },
        ],
      },
    });
    const test = await run(["migrate", "test"]);
    assert.equal(test.code, 1);
    assert.match(test.stdout, /0002_x\.sql up: rows: messages: 2 of 2 row\(s\) lost/);
    const lint = await run(["migrate", "lint"]);
    assert.equal(lint.code, 1);
    assert.match(lint.stdout, /error\s+missing-down drizzle\/down\/0002_x\.sql/);
  });
});
