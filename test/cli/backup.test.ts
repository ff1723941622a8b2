import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { runKeeper } from "./run-keeper.ts";

/** `keeper backup download` against a stand-in Worker: what it asks for, writes and prints. */
const urls: string[] = [];
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? "");
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
