import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateDataset, referenceSize } from "./dataset";
import {
  adminJsonHeaders,
  backupOverHttp,
  type DevServer,
  followRun,
  localDatabaseFile,
  parseFlags,
  processTreeCpuSeconds,
  processTreeMemory,
  root,
  startWranglerDev,
  summarize,
  timedShell,
} from "./harness";

/**
 * npm run bench -- backups: on one generated database, in interleaved rounds (alternating which
 * goes first), keeper's backup against its floor `sqlite3 .dump` of the same file, and keeper's
 * restore into SCRATCH_DB against its floor: `sqlite3` replaying keeper's own decompressed dump
 * wrapped in one transaction. Wall and CPU seconds for each, CPU-ms per 1,000 rows, the ratio of
 * throughputs per round (min/median/max), peak memory of workerd. With `--wrangler true`, once:
 * `wrangler d1 export --local` and `wrangler d1 execute --file` of keeper's dump and of wrangler's.
 *
 *   npm run bench -- backups                                 (reference: 20k videos, 1M context, 500k memory)
 *   npx tsx bench/backups.bench.ts --scale 0.1 --rounds 3    (a tenth of it)
 */
const flags = parseFlags(process.argv.slice(2), {
  scale: "1",
  rounds: "3",
  wrangler: "false",
  out: path.join(root, "bench/results/backups.json"),
});
const scale = Number(flags.scale);
if (!(scale > 0 && scale <= 4)) throw new Error("--scale must be in (0, 4]");
const rounds = Number(flags.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) throw new Error("--rounds must be a whole number from 1 to 20");
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
const results: Record<string, unknown> = { size, rows, rounds, database_bytes: statSync(file).size };
const cpuMsPer1000Rows = (cpuSeconds: number) => (cpuSeconds * 1000) / (rows / 1000);
let since = performance.now();

const headers = adminJsonHeaders();

interface Measured {
  seconds: number;
  cpuSeconds: number;
}

/** One complete keeper backup over HTTP (as `keeper backup create` does); CPU of the workerd tree. */
async function keeperBackup(server: DevServer): Promise<Measured & { backupId: string; invocations: number }> {
  const cpuBefore = processTreeCpuSeconds(server.pid);
  const since = performance.now();
  const { backupId, steps } = await backupOverHttp(server.url, headers);
  return {
    seconds: seconds(since),
    cpuSeconds: processTreeCpuSeconds(server.pid) - cpuBefore,
    backupId,
    invocations: steps,
  };
}

/** The restore's phases (`check_ms`, `data_ms`, … in its run's counts), in seconds. */
const phasesOf = (counts: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(counts)
      .filter(([key, value]) => /^[a-z_]+_ms$/.test(key) && !/step_ms/.test(key) && typeof value === "number")
      .map(([key, value]) => [key.slice(0, -3), (value as number) / 1000]),
  );

async function keeperRestore(
  server: DevServer,
  backupId: string,
): Promise<Measured & { verified: boolean; phases: Record<string, number> }> {
  const cpuBefore = processTreeCpuSeconds(server.pid);
  const since = performance.now();
  const response = await fetch(`${server.url}/admin/backups/${backupId}/restore`, {
    method: "POST",
    headers,
    body: JSON.stringify({ target: "scratch", force: true }),
  });
  // The restore Workflow's run, followed to its end as `keeper backup restore` does.
  const started = (await response.json()) as { run?: { id: number } };
  if (response.status !== 202 || !started.run) throw new Error(`restore did not start: ${JSON.stringify(started)}`);
  const counts = await followRun(server.url, headers, started.run.id);
  return {
    seconds: seconds(since),
    cpuSeconds: processTreeCpuSeconds(server.pid) - cpuBefore,
    verified: counts.verified === true,
    phases: phasesOf(counts),
  };
}

const sqliteDump = path.join(work, "sqlite.sql");
const keeperSql = path.join(work, "keeper.sql");
const floorDump = () => timedShell(`sqlite3 '${file}' .dump > '${sqliteDump}'`);
const floorReplay = () => {
  const target = path.join(work, "floor-restore.db");
  rmSync(target, { force: true });
  return timedShell(`{ echo 'BEGIN;'; cat '${keeperSql}'; echo 'COMMIT;'; } | sqlite3 '${target}'`);
};
/**
 * The same replay in two parts, with foreign keys enforced as D1 always enforces them: the tables
 * and rows, then what a restore's `tables` phase does (sqlite_sequence, indexes, triggers) — the
 * work of keeper's `schema` + `data` and `tables` phases, done by sqlite3.
 */
const floorReplayInParts = () => {
  const target = path.join(work, "floor-parts.db");
  rmSync(target, { force: true });
  const firstAfterRows = Number(
    execFileSync(
      "bash",
      [
        "-c",
        `grep -n -m1 -E '^(DELETE FROM sqlite_sequence|CREATE (UNIQUE )?INDEX|CREATE TRIGGER|CREATE VIEW)' '${keeperSql}' | cut -d: -f1`,
      ],
      { encoding: "utf8" },
    ).trim(),
  );
  if (!(firstAfterRows > 1)) throw new Error("keeper's dump has no sequence or index statements after its rows");
  const part = (lines: string) =>
    timedShell(`{ echo 'PRAGMA foreign_keys = ON;'; echo 'BEGIN;'; ${lines}; echo 'COMMIT;'; } | sqlite3 '${target}'`);
  const rowsPart = part(`head -n ${firstAfterRows - 1} '${keeperSql}'`);
  const rest = part(`tail -n +${firstAfterRows} '${keeperSql}'`);
  rmSync(target, { force: true });
  return { rows_seconds: rowsPart.seconds, tables_seconds: rest.seconds };
};

const server = await startWranglerDev({ persistTo: source, timeoutMs: 180_000 });
let peak = 0;
const sampler = setInterval(() => {
  const memory = processTreeMemory(server.pid);
  peak = Math.max(peak, memory.byCommand.workerd ?? 0);
}, 200);
const backupRounds: { keeper: Measured; floor: Measured }[] = [];
const restoreRounds: { keeper: Measured & { phases: Record<string, number> }; floor: Measured; verified: boolean }[] = [];
try {
  let lastBackup = "";
  for (let round = 0; round < rounds; round++) {
    const keeperFirst = round % 2 === 1;
    const floorFirst = keeperFirst ? null : floorDump();
    const keeper = await keeperBackup(server);
    const floor = floorFirst ?? floorDump();
    lastBackup = keeper.backupId;
    backupRounds.push({ keeper, floor });
    console.error(
      `backup round ${round + 1}: keeper ${keeper.seconds.toFixed(2)} s, sqlite3 .dump ${floor.seconds.toFixed(2)} s`,
    );
  }
  const manifest = (await (await fetch(`${server.url}/admin/backups/${lastBackup}`, { headers })).json()) as {
    totals: { rows: number; bytes: number; sql_bytes: number };
  };
  results.keeper_backup_manifest = { ...manifest.totals, workerd_peak_rss_bytes: peak };
  const compressed = path.join(work, "keeper.sql.zst");
  writeFileSync(
    compressed,
    Buffer.from(await (await fetch(`${server.url}/admin/backups/${lastBackup}/download`, { headers })).arrayBuffer()),
  );
  execFileSync("zstd", ["-q", "-f", "-d", compressed, "-o", keeperSql]);

  peak = 0;
  for (let round = 0; round < rounds; round++) {
    const keeperFirst = round % 2 === 1;
    const floorFirst = keeperFirst ? null : floorReplay();
    const keeper = await keeperRestore(server, lastBackup);
    const floor = floorFirst ?? floorReplay();
    restoreRounds.push({ keeper, floor, verified: keeper.verified });
    console.error(
      `restore round ${round + 1}: keeper ${keeper.seconds.toFixed(2)} s (${Object.entries(keeper.phases)
        .map(([phase, s]) => `${phase} ${s.toFixed(2)}`)
        .join(", ")}), sqlite3 replay ${floor.seconds.toFixed(2)} s`,
    );
  }
  results.keeper_restore_workerd_peak_rss_bytes = peak;
  results.sqlite_replay_in_parts_foreign_keys_on = floorReplayInParts();
  console.error(`sqlite3 replay in parts, foreign keys on: ${JSON.stringify(results.sqlite_replay_in_parts_foreign_keys_on)}`);
} finally {
  clearInterval(sampler);
  await server.stop();
}

/**
 * The backup's ceiling on this machine: the same page queries, alone (bench/bare/page-reads.ts), on
 * the same data once keeper's server has stopped, as many rounds as above. `.dump` ÷ these is the
 * most any backup that reads its values through D1 queries could reach here.
 */
const pageReads: number[] = [];
const reader = await startWranglerDev({
  persistTo: source,
  config: "bench/bare/wrangler.page-reads.toml",
  readyPath: "/ready",
  timeoutMs: 180_000,
});
try {
  for (let round = 0; round < rounds; round++) {
    const since = performance.now();
    const response = await fetch(`${reader.url}/read-pages`, { method: "POST", headers: { Connection: "close" } });
    const read = (await response.json()) as { rows: number };
    if (!response.ok || read.rows < rows) throw new Error(`page reads alone read ${read.rows} rows of ${rows}`);
    pageReads.push(seconds(since));
    console.error(`page queries alone, round ${round + 1}: ${pageReads[round].toFixed(2)} s (${read.rows} rows)`);
  }
} finally {
  await reader.stop();
}

const describe = (list: Measured[]) => ({
  seconds: summarize(list.map((m) => m.seconds)),
  rows_per_s: summarize(list.map((m) => rows / m.seconds)),
  cpu_seconds: summarize(list.map((m) => m.cpuSeconds)),
  cpu_ms_per_1000_rows: summarize(list.map((m) => cpuMsPer1000Rows(m.cpuSeconds))),
});
results.keeper_backup = describe(backupRounds.map((r) => r.keeper));
results.sqlite_dump = describe(backupRounds.map((r) => r.floor));
results.keeper_restore = { ...describe(restoreRounds.map((r) => r.keeper)), verified: restoreRounds.every((r) => r.verified) };
results.sqlite_replay_keeper_dump = describe(restoreRounds.map((r) => r.floor));
results.d1_page_queries_alone = { seconds: summarize(pageReads) };
// Seconds per phase of keeper's restore (median, min–max of the rounds): where its time goes.
results.keeper_restore_phases_seconds = Object.fromEntries(
  Object.keys(restoreRounds[0]?.keeper.phases ?? {}).map((phase) => [
    phase,
    summarize(restoreRounds.map((r) => r.keeper.phases[phase] ?? 0)),
  ]),
);
// Each round's ratio of throughputs on the same rows: floor seconds ÷ keeper seconds.
results.ratios = {
  backup: summarize(backupRounds.map((r) => r.floor.seconds / r.keeper.seconds)),
  restore: summarize(restoreRounds.map((r) => r.floor.seconds / r.keeper.seconds)),
  backup_cpu: summarize(backupRounds.map((r) => r.keeper.cpuSeconds / r.floor.cpuSeconds)),
  restore_cpu: summarize(restoreRounds.map((r) => r.keeper.cpuSeconds / r.floor.cpuSeconds)),
};
/**
 * What no keeper change could pass on this machine: `.dump` ÷ the backup's page queries alone, and the
 * replay ÷ keeper's own apply phases (schema, data, tables: the statements the floor runs, executed
 * by local D1), per round.
 */
results.ceilings = {
  backup: summarize(backupRounds.map((r, i) => r.floor.seconds / pageReads[i])),
  restore: summarize(
    restoreRounds.map(
      (r) => r.floor.seconds / ((r.keeper.phases.schema ?? 0) + (r.keeper.phases.data ?? 0) + (r.keeper.phases.tables ?? 0)),
    ),
  ),
};

// wrangler d1 export --local (builds the dump in memory: expected to fail on big databases). It has
// no --persist-to, so it runs in a scratch project whose .wrangler/state is the dataset's.
const wranglerBin = path.join(root, "node_modules/.bin/wrangler");
const exportProject = path.join(work, "export-project");
const wranglerExport = path.join(work, "wrangler-export.sql");
if (flags.wrangler === "true") {
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

// keeper's dump replayed by wrangler (multi-row INSERTs) — against wrangler's own export, when it exists.
if (flags.wrangler === "true") {
  since = performance.now();
  const replay = spawnSync(
    path.join(root, "node_modules/.bin/wrangler"),
    ["d1", "execute", "DB", "--local", "--persist-to", path.join(work, "replay"), "--file", keeperSql, "--yes"],
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
if (flags.wrangler === "true" && (results.wrangler_export as { ok: boolean }).ok) {
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
if (get("wrangler_export", "rows_per_s")) {
  (results.ratios as Record<string, unknown>).keeper_backup_vs_wrangler_export =
    rows /
    (results.keeper_backup as { seconds: { median: number } }).seconds.median /
    (get("wrangler_export", "rows_per_s") ?? 1);
}
mkdirSync(path.dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
rmSync(work, { recursive: true, force: true });
