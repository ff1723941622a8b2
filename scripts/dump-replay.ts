import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateDataset } from "../bench/dataset";
import { adminToken, localDatabaseFile, root, startWranglerDev } from "../bench/harness";

/**
 * npm run test:dump — proves a backup is useful without keeper: a backup made by the Worker under
 * `wrangler dev`, downloaded, decompressed with the standard `zstd` tool (Debian package zstd; Node's
 * zlib decodes only the first frame of a multi-frame file) and replayed with
 * `wrangler d1 execute --local --file` into an empty database gives the same rows and schema.
 */
const work = mkdtempSync(path.join(tmpdir(), "keeper-dump-"));
const source = path.join(work, "source");
const replica = path.join(work, "replica");
const tables = ["videos", "video_context", "memory", "conversations", "messages", "d1_migrations"];

function rowsOf(file: string, table: string): string {
  return execFileSync("sqlite3", ["-json", file, `SELECT * FROM "${table}" ORDER BY rowid`], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
}

function schemaOf(file: string): string {
  return execFileSync(
    "sqlite3",
    [
      file,
      "SELECT type || ' ' || name || ' ' || sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('keeper_leases', 'keeper_job_cursors') ORDER BY type, name",
    ],
    { encoding: "utf8" },
  );
}

let failures = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
};

try {
  generateDataset(source, { videos: 300, context: 3000, memory: 1500, conversations: 60, messages: 240, deletedEvery: 10 });
  const server = await startWranglerDev({ persistTo: source });
  const compressed = path.join(work, "dump.sql.zst");
  try {
    const headers = { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" };
    let created: { backup_id: string; complete: boolean };
    do {
      created = (await (
        await fetch(`${server.url}/admin/backups`, { method: "POST", headers, body: "{}" })
      ).json()) as typeof created;
    } while (!created.complete);
    const download = await fetch(`${server.url}/admin/backups/${created.backup_id}/download`, { headers });
    check(download.ok && download.headers.get("content-type") === "application/zstd", `download ${created.backup_id}`);
    writeFileSync(compressed, Buffer.from(await download.arrayBuffer()));
  } finally {
    await server.stop();
  }
  const sqlFile = path.join(work, "dump.sql");
  execFileSync("zstd", ["-q", "-d", compressed, "-o", sqlFile]);
  console.log(`dump: ${(statSync(sqlFile).size / 1024).toFixed(0)} KiB of SQL`);
  execFileSync(
    path.join(root, "node_modules/.bin/wrangler"),
    ["d1", "execute", "DB", "--local", "--persist-to", replica, "--file", sqlFile, "--yes"],
    {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, CI: "true" },
    },
  );
  const a = localDatabaseFile(source);
  const b = localDatabaseFile(replica);
  check(schemaOf(a) === schemaOf(b), "schema (tables, indexes) is identical after replay");
  for (const table of tables) check(rowsOf(a, table) === rowsOf(b, table), `${table}: identical rows after replay`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("the decompressed backup replays through wrangler d1 execute unchanged");
