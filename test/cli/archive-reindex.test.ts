import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { runKeeper } from "./run-keeper.ts";

/** `keeper archive reindex` against a stand-in Worker: the bodies it sends and what it prints. */
const bodies: unknown[] = [];
let server: Server;
let base: string;

const entry = {
  conversation_id: "conv-1",
  video_id: "vid-1",
  archive_key: "archives/conversations/2030/01/02/run-0000.jsonl.gz",
  message_count: 3,
  last_activity_at: "2029-11-01T00:00:00.000Z",
  archived_at: "2030-01-02T00:00:00.000Z",
};

before(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      const body = JSON.parse(text) as { dryRun?: boolean };
      bodies.push({ url: req.url, body });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          dryRun: body.dryRun === true,
          manifests: 1,
          inserted: [entry],
          already_indexed: 0,
          in_d1: 0,
          unreadable: [],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  bodies.length = 0;
});

after(() => server.close());

describe("keeper archive reindex", () => {
  it("--dry-run asks only for the plan and lists the entries it would add", async () => {
    const result = await runKeeper(["--url", base, "--token", "t", "archive", "reindex", "--dry-run"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(bodies, [{ url: "/admin/archival/reindex", body: { dryRun: true } }]);
    assert.match(result.stdout, /conv-1/);
    assert.match(result.stdout, /1 entry would be added from 1 manifest/);
  });

  it("--yes sends the dry run, then confirm, and says what it added", async () => {
    const result = await runKeeper(["--url", base, "--token", "t", "archive", "reindex", "--yes"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(bodies, [
      { url: "/admin/archival/reindex", body: { dryRun: true } },
      { url: "/admin/archival/reindex", body: { confirm: true } },
    ]);
    assert.match(result.stdout, /1 entry added from 1 manifest/);
  });

  it("without --yes and without a terminal it refuses after the dry run (exit 2)", async () => {
    const result = await runKeeper(["--url", base, "--token", "t", "archive", "reindex"]);
    assert.equal(result.code, 2);
    assert.deepEqual(bodies, [{ url: "/admin/archival/reindex", body: { dryRun: true } }]);
    assert.match(result.stderr, /pass --yes/);
  });
});
