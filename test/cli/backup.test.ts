import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { runKeeper } from "./run-keeper.ts";

/** `keeper backup download` and `list` against a stand-in Worker: what they ask for, write and print. */
const urls: string[] = [];
let server: Server;
let base: string;

const backup = (id: string, last_check: unknown) => ({
  id,
  created_at: "2030-01-01T00:00:00.000Z",
  finished_at: "2030-01-01T00:01:00.000Z",
  schema_version: "0007_backup_checks.sql",
  tables: 5,
  rows: 10,
  bytes: 2048,
  sql_bytes: 4096,
  duration_ms: 60_000,
  bookmark: null,
  last_check,
});
const listed = [
  backup("20300103T000000Z-cccc", { kind: "verify", at: "2030-01-03T01:00:00.000Z", ok: false, problems: 2, summary: "x" }),
  backup("20300102T000000Z-bbbb", { kind: "drill", at: "2030-01-02T01:00:00.000Z", ok: true, problems: 0, summary: null }),
  backup("20300101T000000Z-aaaa", null),
];

before(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? "");
    if (req.url === "/admin/backups" || req.url === "/admin/backups?limit=2") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ items: req.url.endsWith("limit=2") ? listed.slice(0, 2) : listed }));
      return;
    }
    res.writeHead(200, { "Content-Type": "application/zstd" });
    res.end(Buffer.from("zstd bytes"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

describe("keeper backup download", () => {
  it("--data-only asks for the data-only dump and says how to replay it locally and remotely", async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), "keeper-download-")), "b.sql.zst");
    const result = await runKeeper([
      "--url",
      base,
      "--token",
      "t",
      "backup",
      "download",
      "20300101T000000Z-abcd",
      "--data-only",
      "--out",
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(urls.at(-1), "/admin/backups/20300101T000000Z-abcd/download?dataOnly=true");
    assert.equal(readFileSync(out, "utf8"), "zstd bytes");
    assert.match(result.stdout, /migrations apply DB --local\|--remote/);
    assert.match(result.stdout, /wrangler d1 execute DB --local --file .*b\.sql/);
    assert.match(result.stdout, /wrangler d1 execute DB --remote --file .*b\.sql/);
  });

  it("without --data-only it asks for the whole dump, for an empty database", async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), "keeper-download-")), "w.sql.zst");
    const result = await runKeeper(["--url", base, "--token", "t", "backup", "download", "20300101T000000Z-abcd", "--out", out]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(urls.at(-1), "/admin/backups/20300101T000000Z-abcd/download");
    assert.match(result.stdout, /into an empty database/);
    assert.match(result.stdout, /--remote --file/);
  });
});

describe("keeper backup list", () => {
  it("shows each backup's latest check: failed, passed, or never", async () => {
    const result = await runKeeper(["--url", base, "--token", "t", "backup", "list"]);
    assert.equal(result.code, 0, result.stderr);
    const line = (id: string) => result.stdout.split("\n").find((l) => l.includes(id)) ?? "";
    assert.match(line("cccc"), /verify FAILED \(2 problems\) at 2030-01-03T01:00:00\.000Z/);
    assert.match(line("bbbb"), /drill ok at 2030-01-02T01:00:00\.000Z/);
    assert.match(line("aaaa"), /never checked/);
  });

  it("--limit asks the Worker for the newest N only", async () => {
    const result = await runKeeper(["--url", base, "--token", "t", "backup", "list", "--limit", "2"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(urls.at(-1), "/admin/backups?limit=2");
    assert.match(result.stdout, /cccc/);
    assert.doesNotMatch(result.stdout, /aaaa/);
    const refused = await runKeeper(["--url", base, "--token", "t", "backup", "list", "--limit", "0"]);
    assert.notEqual(refused.code, 0);
  });
});
