import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CliError, resolveToken } from "../../cli/client.ts";
import { confirmOrExit } from "../../cli/confirm.ts";
import { runKeeper } from "./run-keeper.ts";

/**
 * The CLI against a stand-in HTTP server on loopback: what it sends, what it prints, and the exit
 * codes scripts rely on (0 success, 1 failure, 2 usage).
 */

interface Seen {
  method: string;
  url: string;
  authorization?: string;
}

const seen: Seen[] = [];
let server: Server;
let base: string;

function reply(req: IncomingMessage): { status: number; body: unknown; type?: string } {
  if (req.url === "/admin/status") {
    return {
      status: 200,
      body: {
        service: "d1-keeper",
        environment: "test",
        time: "2030-01-01T00:00:00.000Z",
        database: { reachable: true, round_trip_ms: 1.5, size_bytes: 4096, served_by_region: null },
        schema: {
          migrated: true,
          version: "0001_add_video_tags.sql",
          applied_count: 2,
          last_applied_at: "2030-01-01 00:00:00",
          ready: false,
          pending_count: 2,
          pending: ["0002_archival_tables.sql", "0003_health_tables.sql"],
          unknown_applied: [],
        },
        principal: { actor: "token:admin:abcd", scopes: ["read", "write", "admin"] },
      },
    };
  }
  if (req.url?.startsWith("/v1/videos?")) {
    return {
      status: 200,
      body: {
        items: [
          {
            id: "v1",
            filename: "a.mp4",
            file_path: "/a.mp4",
            duration: 3,
            category: null,
            tags: ["x"],
            created_at: "t",
            deleted_at: null,
          },
        ],
        next_cursor: "abc",
      },
    };
  }
  return {
    status: 404,
    type: "application/problem+json",
    body: { type: "urn:d1-keeper:problem:not-found", title: "Not found", status: 404, detail: "Video 'nope' does not exist" },
  };
}

const run = (args: string[], env: Record<string, string> = {}) => runKeeper(args, env);

before(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    const answer = reply(req);
    res.writeHead(answer.status, { "Content-Type": answer.type ?? "application/json" });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

describe("keeper CLI", () => {
  it("status prints a readable summary and sends the token", async () => {
    const result = await run(["--url", base, "--token", "t0k3n-for-tests", "status"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /schema version\s+0001_add_video_tags\.sql \(2 applied\)/);
    assert.match(result.stdout, /pending\s+2 migrations pending \(0002_archival_tables\.sql, 0003_health_tables\.sql\)/);
    assert.equal(seen.at(-1)?.authorization, "Bearer t0k3n-for-tests");
  });

  it("--json prints exactly one JSON document", async () => {
    const result = await run(["--url", base, "--json", "videos", "list", "--limit", "1"], { KEEPER_TOKEN: "from-env-token" });
    assert.equal(result.code, 0, result.stderr);
    const document = JSON.parse(result.stdout);
    assert.equal(document.items[0].id, "v1");
    assert.equal(seen.at(-1)?.url, "/v1/videos?limit=1&include_deleted=false");
    assert.equal(seen.at(-1)?.authorization, "Bearer from-env-token");
  });

  it("an API problem exits 1 with its detail on stderr", async () => {
    const result = await run(["--url", base, "--token", "t", "videos", "get", "nope"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /404 Not found: Video 'nope' does not exist/);
    assert.equal(result.stdout, "");
  });

  it("usage errors exit 2", async () => {
    assert.equal((await run(["--url", base, "videos", "list", "--limit", "zero"])).code, 2);
    assert.equal((await run(["--url", base, "no-such-command"])).code, 2);
    assert.equal((await run(["--url", "not a url", "status"])).code, 2);
  });

  it("an unreachable Worker exits 1 and says where it tried", async () => {
    const result = await run(["--url", "http://127.0.0.1:9", "status"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it("--help exits 0", async () => {
    const result = await run(["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Usage: keeper/);
  });
});

/** Runs `check` in a fresh folder holding this .dev.vars, with KEEPER_TOKEN unset. */
function inFolderWithDevVars(contents: string, check: () => void) {
  const folder = mkdtempSync(path.join(tmpdir(), "keeper-cli-"));
  writeFileSync(path.join(folder, ".dev.vars"), contents);
  const cwd = process.cwd();
  const saved = process.env.KEEPER_TOKEN;
  delete process.env.KEEPER_TOKEN;
  try {
    process.chdir(folder);
    check();
  } finally {
    process.chdir(cwd);
    if (saved !== undefined) process.env.KEEPER_TOKEN = saved;
  }
}

describe("token resolution", () => {
  it("falls back to .dev.vars only for a local URL", () => {
    inFolderWithDevVars('KEEPER_ADMIN_TOKEN="local-admin,rotated"\n', () => {
      assert.equal(resolveToken("http://127.0.0.1:8787"), "local-admin");
      assert.equal(resolveToken("https://keeper.example.com"), undefined);
      assert.equal(resolveToken("https://keeper.example.com", "explicit"), "explicit");
    });
  });
});

describe(".dev.vars written on Windows", () => {
  it("gives the token without a stray quote or carriage return", () => {
    inFolderWithDevVars('# local secrets\r\nKEEPER_READ_TOKEN="local-read"\r\nKEEPER_ADMIN_TOKEN="local-admin"\r\n', () => {
      assert.equal(resolveToken("http://localhost:8787"), "local-admin");
    });
  });
});

describe("confirmation", () => {
  it("refuses without a terminal unless --yes", async () => {
    await assert.rejects(
      confirmOrExit("Delete everything?", {}),
      (error: unknown) => error instanceof CliError && error.exitCode === 2,
    );
    await confirmOrExit("Delete everything?", { yes: true });
  });
});
