import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateDataset } from "../bench/dataset";
import { adminToken, backupOverHttp, localDatabaseFile, root, startWranglerDev } from "../bench/harness";

/**
 * npm run test:dump — proves a backup is useful without keeper. On a generated database plus rows
 * written around the API (REALs that need 17 digits, subnormals and the largest double, int64
 * extremes, TEXT that is not valid UTF-8 or holds NUL and line breaks, a 40,000-character CJK
 * text, a 2 MB JSON value), a backup made by the Worker under `wrangler dev` is downloaded and
 * decompressed with the standard `zstd` tool (Debian package zstd; Node's zlib decodes only the
 * first frame of a multi-frame file). Then:
 *  - every statement is at most 100,000 bytes;
 *  - the whole dump replayed by `wrangler d1 execute --local --file` into an empty database, and by
 *    `sqlite3` into a new file, gives the same schema and every value (typeof and hex) back;
 *  - the data-only dump replayed by `wrangler d1 execute --file` into a database that
 *    `wrangler d1 migrations apply` created gives every value of the app tables back.
 */
const work = mkdtempSync(path.join(tmpdir(), "keeper-dump-"));
const source = path.join(work, "source");
const replica = path.join(work, "replica");
const migrated = path.join(work, "migrated");
const appTables = ["videos", "video_context", "memory", "conversations", "messages"];
const tables = [...appTables, "d1_migrations"];
const wrangler = path.join(root, "node_modules/.bin/wrangler");

const sqlite = (file: string, sql: string) =>
  execFileSync("sqlite3", [file], { input: sql, encoding: "utf8", maxBuffer: 1 << 28 });

/** Every value of `table` by rowid: its storage class and exact bytes. */
function rowsOf(file: string, table: string): string {
  const columns = sqlite(file, `SELECT name FROM pragma_table_info('${table}');`).trim().split("\n");
  const list = columns.map((c) => `typeof("${c}") || ':' || coalesce(hex("${c}"), '')`).join(" || ',' || ");
  return sqlite(file, `SELECT rowid || ' ' || ${list} FROM "${table}" ORDER BY rowid;`);
}

function schemaOf(file: string): string {
  return sqlite(
    file,
    "SELECT type || ' ' || name || ' ' || sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('keeper_leases', 'keeper_restore_position') ORDER BY type, name;",
  );
}

/** Rows no API would write, straight into the source file before the Worker starts. */
function writeAroundTheApi(file: string) {
  const cjk = Array.from({ length: 40_000 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7) % 20000))).join("");
  const bigJson = JSON.stringify({ text: "\u00e9".repeat(1) + "x".repeat(2_000_000) });
  sqlite(
    file,
    `INSERT INTO videos (id, filename, file_path, duration, created_at, updated_at) VALUES
       ('edge-1', CAST(X'41EDA08042' AS TEXT), 'a' || char(13) || 'b' || char(10) || 'c', 1.2345678901234567e-10, 9223372036854775807, -9223372036854775808);
     INSERT INTO memory (video_id, timestamp, content, metadata, created_at) VALUES
       ('edge-1', 5e-324, '${cjk}', NULL, 1),
       ('edge-1', 1.7976931348623157e308, 'it''s', NULL, 2),
       ('edge-1', 3e-20, 'it''s', NULL, 9007199254740993);
     -- The app tables' rules refuse NUL and cap values at 100,000 characters; an operations table
     -- holds a NUL and a 2 MB JSON value (CHECK json_valid), which no statement may split.
     INSERT INTO keeper_audit_log (at, actor, action, target, detail) VALUES
       (1, 'edge', 'edge', 'a' || char(0) || 'b', '${bigJson}');`,
  );
}

const decompress = (compressed: string) => {
  const sqlFile = compressed.replace(/\.zst$/, "");
  execFileSync("zstd", ["-q", "-f", "-d", compressed, "-o", sqlFile]);
  return sqlFile;
};

let failures = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
};

try {
  generateDataset(source, { videos: 300, context: 3000, memory: 1500, conversations: 60, messages: 240, deletedEvery: 10 });
  writeAroundTheApi(localDatabaseFile(source));
  const server = await startWranglerDev({ persistTo: source });
  const whole = path.join(work, "dump.sql.zst");
  const dataOnly = path.join(work, "data.sql.zst");
  try {
    const headers = { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" };
    const { backupId } = await backupOverHttp(server.url, headers);
    const verify = (await (
      await fetch(`${server.url}/admin/backups/${backupId}/verify`, { method: "POST", headers })
    ).json()) as { ok: boolean; problems: string[] };
    check(verify.ok, `verify ${backupId} ${verify.problems.join("; ")}`);
    for (const [file, query] of [
      [whole, ""],
      [dataOnly, "?dataOnly=true"],
    ]) {
      const download = await fetch(`${server.url}/admin/backups/${backupId}/download${query}`, { headers });
      check(download.ok && download.headers.get("content-type") === "application/zstd", `download ${backupId}${query}`);
      writeFileSync(file, Buffer.from(await download.arrayBuffer()));
    }
  } finally {
    await server.stop();
  }
  const sqlFile = decompress(whole);
  const dataFile = decompress(dataOnly);
  console.log(
    `dump: ${(statSync(sqlFile).size / 1024).toFixed(0)} KiB of SQL, data-only ${(statSync(dataFile).size / 1024).toFixed(0)} KiB`,
  );
  const statements = readFileSync(sqlFile)
    .toString("latin1")
    .split(/(?<=;)\n/);
  const largest = Math.max(...statements.map((statement) => statement.length));
  check(largest <= 100_000, `every statement is at most 100,000 bytes (largest ${largest})`);

  const run = (args: string[]) =>
    execFileSync(wrangler, args, { cwd: root, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true" } });
  run(["d1", "execute", "DB", "--local", "--persist-to", replica, "--file", sqlFile, "--yes"]);
  const sqliteReplica = path.join(work, "sqlite-replica.db");
  execFileSync("sh", ["-c", `sqlite3 '${sqliteReplica}' < '${sqlFile}'`]);
  run(["d1", "migrations", "apply", "DB", "--local", "--persist-to", migrated]);
  run(["d1", "execute", "DB", "--local", "--persist-to", migrated, "--file", dataFile, "--yes"]);

  const a = localDatabaseFile(source);
  const b = localDatabaseFile(replica);
  const m = localDatabaseFile(migrated);
  check(schemaOf(a) === schemaOf(b), "wrangler d1 execute: schema (tables, indexes) is identical after replay");
  check(schemaOf(a) === schemaOf(sqliteReplica), "sqlite3: schema is identical after replay");
  for (const table of tables) {
    const expected = rowsOf(a, table);
    check(expected === rowsOf(b, table), `wrangler d1 execute: ${table} has every value back`);
    check(expected === rowsOf(sqliteReplica, table), `sqlite3: ${table} has every value back`);
  }
  for (const table of appTables) check(rowsOf(a, table) === rowsOf(m, table), `data-only into a migrated database: ${table}`);
  // The operations-table row with a NUL and the 2 MB JSON value (the audit log itself gains rows
  // from the backup run, so only this row is compared).
  const edgeRow = (file: string) =>
    sqlite(file, "SELECT hex(target), length(detail), hex(substr(detail, 1, 40)) FROM keeper_audit_log WHERE action = 'edge';");
  for (const [name, file] of [
    ["wrangler d1 execute", b],
    ["sqlite3", sqliteReplica],
    ["data-only", m],
  ] as const)
    check(edgeRow(file) === edgeRow(a) && edgeRow(a).includes("610062"), `${name}: a NUL and a 2 MB JSON value come back whole`);
  check(
    sqlite(a, "SELECT name, seq FROM sqlite_sequence WHERE name = 'memory';") ===
      sqlite(m, "SELECT name, seq FROM sqlite_sequence WHERE name = 'memory';"),
    "data-only: sqlite_sequence of memory",
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("the decompressed backup replays through wrangler d1 execute and sqlite3 with every value exact");
