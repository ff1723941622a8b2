import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateDataset, referenceSize } from "./dataset";
import { adminToken, freePort, localDatabaseFile, parseFlags, processTreeMemory, root, startWranglerDev } from "./harness";

/**
 * npm run bench -- backups: on one generated database, keeper's backup against `sqlite3 .dump`
 * (the floor) and `wrangler d1 export --local`; keeper's restore against `sqlite3 < dump.sql` and
 * `wrangler d1 execute --local --file` of keeper's own (decompressed) dump. Rows/s, MB/s, peak
 * memory of the workerd process, and ratios — all from this one run.
 *
 *   npm run bench -- backups                       (reference: 20k videos, 1M context, 500k memory)
 *   npx tsx bench/backups.bench.ts --scale 0.25    (a quarter of it)
 */
const flags = parseFlags(process.argv.slice(2), {
  scale: "1",
  "skip-wrangler": "false",
  out: path.join(root, "bench/results/backups.json"),
});
const scale = Number(flags.scale);
if (!(scale > 0 && scale <= 4)) throw new Error("--scale must be in (0, 4]");
const size = {
  ...referenceSize,
  videos: Math.round(referenceSize.videos * scale),
  context: Math.round(referenceSize.context * scale),
  memory: Math.round(referenceSize.memory * scale),
};
const work = path.join(root, "bench/.state/backups");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const source = path.join(work, "source");
const started = performance.now();
const file = generateDataset(source, size);
console.error(
  `dataset ${JSON.stringify(size)} in ${((performance.now() - started) / 1000).toFixed(1)} s → ${(statSync(file).size / 1e6).toFixed(0)} MB`,
);
const rows = size.videos + size.context + size.memory;
const seconds = (since: number) => (performance.now() - since) / 1000;
const results: Record<string, unknown> = { size, rows, database_bytes: statSync(file).size };

// sqlite3 .dump: the floor.
let since = performance.now();
const sqliteDump = path.join(work, "sqlite.sql");
execFileSync("sh", ["-c", `sqlite3 '${file}' .dump > '${sqliteDump}'`]);
const sqliteDumpSeconds = seconds(since);
results.sqlite_dump = { seconds: sqliteDumpSeconds, rows_per_s: rows / sqliteDumpSeconds, bytes: statSync(sqliteDump).size };

// wrangler d1 export --local (builds the dump in memory: expected to fail on big databases). It has
// no --persist-to, so it runs in a scratch project whose .wrangler/state is the dataset's.
const wranglerBin = path.join(root, "node_modules/.bin/wrangler");
const exportProject = path.join(work, "export-project");
const wranglerExport = path.join(work, "wrangler-export.sql");
if (flags["skip-wrangler"] === "false") {
  mkdirSync(path.join(exportProject, ".wrangler"), { recursive: true });
  copyFileSync(path.join(root, "wrangler.toml"), path.join(exportProject, "wrangler.toml"));
  symlinkSync(source, path.join(exportProject, ".wrangler/state"));
  since = performance.now();
  const exported = spawnSync(wranglerBin, ["d1", "export", "DB", "--local", "--output", wranglerExport], {
    cwd: exportProject,
    encoding: "utf8",
    env: { ...process.env, CI: "true", NODE_OPTIONS: "--max-old-space-size=4096" },
    timeout: 20 * 60_000,
  });
  const exportSeconds = seconds(since);
  results.wrangler_export =
    exported.status === 0
      ? { ok: true, seconds: exportSeconds, rows_per_s: rows / exportSeconds, bytes: statSync(wranglerExport).size }
      : {
          ok: false,
          seconds: exportSeconds,
          error:
            `${exported.stderr ?? ""}${exported.stdout ?? ""}`
              .split("\n")
              .filter((line) => /error|heap|Invalid/i.test(line))
              .slice(0, 3)
              .join(" | ") || `exit ${exported.status ?? exported.signal}`,
        };
}

// keeper backup under wrangler dev, then restore into SCRATCH_DB.
const server = await startWranglerDev({ port: await freePort(), persistTo: source, timeoutMs: 180_000 });
const headers = { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" };
let peak = 0;
const sampler = setInterval(() => {
  const memory = processTreeMemory(server.pid);
  peak = Math.max(peak, memory.byCommand.workerd ?? 0);
}, 200);
try {
  since = performance.now();
  let created: { backup_id: string; complete: boolean; run: { status: string; counts: Record<string, number> } };
  let invocations = 0;
  do {
    invocations++;
    created = (await (
      await fetch(`${server.url}/admin/backups`, { method: "POST", headers, body: "{}" })
    ).json()) as typeof created;
    if (created.run.status === "failed") throw new Error(`backup failed: ${JSON.stringify(created.run)}`);
  } while (!created.complete);
  const backupSeconds = seconds(since);
  const manifest = (await (await fetch(`${server.url}/admin/backups/${created.backup_id}`, { headers })).json()) as {
    totals: { rows: number; bytes: number; sql_bytes: number };
  };
  results.keeper_backup = {
    seconds: backupSeconds,
    invocations,
    rows: manifest.totals.rows,
    rows_per_s: manifest.totals.rows / backupSeconds,
    sql_mb_per_s: manifest.totals.sql_bytes / 1e6 / backupSeconds,
    compressed_bytes: manifest.totals.bytes,
    sql_bytes: manifest.totals.sql_bytes,
    workerd_peak_rss_bytes: peak,
  };
  const compressed = path.join(work, "keeper.sql.zst");
  writeFileSync(
    compressed,
    Buffer.from(await (await fetch(`${server.url}/admin/backups/${created.backup_id}/download`, { headers })).arrayBuffer()),
  );
  execFileSync("zstd", ["-q", "-f", "-d", compressed, "-o", path.join(work, "keeper.sql")]);

  peak = 0;
  since = performance.now();
  const restored = (await (
    await fetch(`${server.url}/admin/backups/${created.backup_id}/restore`, {
      method: "POST",
      headers,
      body: JSON.stringify({ target: "scratch", force: true }),
    })
  ).json()) as { verified: boolean };
  const restoreSeconds = seconds(since);
  results.keeper_restore = {
    seconds: restoreSeconds,
    rows_per_s: manifest.totals.rows / restoreSeconds,
    verified: restored.verified,
    workerd_peak_rss_bytes: peak,
  };
} finally {
  clearInterval(sampler);
  await server.stop();
}

// sqlite3 < dump: the restore floor.
since = performance.now();
execFileSync("sh", ["-c", `sqlite3 '${path.join(work, "restored.db")}' < '${sqliteDump}'`]);
const sqliteRestore = seconds(since);
results.sqlite_restore = { seconds: sqliteRestore, rows_per_s: rows / sqliteRestore };

// sqlite3 replaying keeper's own decompressed dump in one transaction: the fair restore floor
// (same statements, no Worker, no D1 round trips).
since = performance.now();
execFileSync("sh", [
  "-c",
  `(echo 'BEGIN;'; cat '${path.join(work, "keeper.sql")}'; echo 'COMMIT;') | sqlite3 '${path.join(work, "replayed-keeper.db")}'`,
]);
const keeperReplay = seconds(since);
results.sqlite_replay_keeper_dump = { seconds: keeperReplay, rows_per_s: rows / keeperReplay };

// keeper's dump replayed by wrangler (multi-row INSERTs) — against wrangler's own export, when it exists.
if (flags["skip-wrangler"] === "false") {
  since = performance.now();
  const replay = spawnSync(
    path.join(root, "node_modules/.bin/wrangler"),
    [
      "d1",
      "execute",
      "DB",
      "--local",
      "--persist-to",
      path.join(work, "replay"),
      "--file",
      path.join(work, "keeper.sql"),
      "--yes",
    ],
    { cwd: root, encoding: "utf8", env: { ...process.env, CI: "true" }, timeout: 30 * 60_000 },
  );
  const replaySeconds = seconds(since);
  results.wrangler_execute_keeper_dump =
    replay.status === 0
      ? { ok: true, seconds: replaySeconds, rows_per_s: rows / replaySeconds }
      : { ok: false, seconds: replaySeconds };
  const replayedFile = replay.status === 0 ? localDatabaseFile(path.join(work, "replay")) : null;
  if (replayedFile) {
    const count = execFileSync("sqlite3", [replayedFile, "SELECT count(*) FROM video_context"], { encoding: "utf8" }).trim();
    (results.wrangler_execute_keeper_dump as Record<string, unknown>).video_context_rows = Number(count);
  }
}

// wrangler's own export format (one INSERT per row) replayed the same way, when the export worked.
if (flags["skip-wrangler"] === "false" && (results.wrangler_export as { ok: boolean }).ok) {
  since = performance.now();
  const replay = spawnSync(
    wranglerBin,
    ["d1", "execute", "DB", "--local", "--persist-to", path.join(work, "replay-wrangler"), "--file", wranglerExport, "--yes"],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, CI: "true" },
      timeout: 30 * 60_000,
    },
  );
  const replaySeconds = seconds(since);
  results.wrangler_execute_wrangler_export =
    replay.status === 0
      ? { ok: true, seconds: replaySeconds, rows_per_s: rows / replaySeconds }
      : { ok: false, seconds: replaySeconds };
}

const get = (key: string, field: string) => (results[key] as Record<string, number> | undefined)?.[field];
results.ratios = {
  keeper_backup_vs_sqlite_dump: (get("keeper_backup", "rows_per_s") ?? 0) / (get("sqlite_dump", "rows_per_s") ?? 1),
  keeper_restore_vs_sqlite_restore: (get("keeper_restore", "rows_per_s") ?? 0) / (get("sqlite_restore", "rows_per_s") ?? 1),
  keeper_restore_vs_sqlite_replay_keeper_dump:
    (get("keeper_restore", "rows_per_s") ?? 0) / (get("sqlite_replay_keeper_dump", "rows_per_s") ?? 1),
  keeper_backup_vs_wrangler_export: get("wrangler_export", "rows_per_s")
    ? (get("keeper_backup", "rows_per_s") ?? 0) / (get("wrangler_export", "rows_per_s") ?? 1)
    : null,
};
mkdirSync(path.dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
rmSync(work, { recursive: true, force: true });
