import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateDataset } from "./dataset";
import {
  adminJsonHeaders,
  localDatabaseFile,
  parseFlags,
  processTreeCpuSeconds,
  root,
  startWranglerDev,
  summarize,
  timedShell,
} from "./harness";

/**
 * npm run bench -- archival: purging soft-deleted videos with everything that belongs to them.
 * keeper's retention purge (set-wise deletes through the Worker under wrangler dev, as the cron or
 * `keeper archive apply-policies` runs it) against its floor: one `DELETE` with ON DELETE CASCADE by
 * the sqlite3 CLI; and, to show what local D1 itself costs, the same DELETE sent through a binding of
 * the bare Worker (bench/bare). Each round starts each from a fresh copy of the same generated database; rounds
 * alternate which goes first. Wall and CPU seconds, CPU-ms per 1,000 rows, per-round ratios.
 *
 *   npx tsx bench/archival.bench.ts --videos 4000 --context 400000 --memory 100000 --rounds 3
 *   npx tsx bench/archival.bench.ts --scale 0.1
 */
const flags = parseFlags(process.argv.slice(2), {
  videos: "4000",
  context: "400000",
  memory: "100000",
  scale: "1",
  rounds: "3",
  out: path.join(root, "bench/results/archival.json"),
});
const scale = Number(flags.scale);
if (!(scale > 0 && scale <= 4)) throw new Error("--scale must be in (0, 4]");
const rounds = Number(flags.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) throw new Error("--rounds must be a whole number from 1 to 20");
const size = {
  videos: Math.round(Number(flags.videos) * scale),
  context: Math.round(Number(flags.context) * scale),
  memory: Math.round(Number(flags.memory) * scale),
  conversations: 0,
  messages: 0,
  deletedEvery: 2,
};
const work = path.join(root, "bench/.state/archival");
rmSync(work, { recursive: true, force: true });
const source = path.join(work, "source");
const file = generateDataset(source, size);
const doomed = Number(
  execFileSync("sqlite3", [file, "SELECT count(*) FROM videos WHERE deleted_at IS NOT NULL"], { encoding: "utf8" }).trim(),
);
const doomedRows = Number(
  execFileSync(
    "sqlite3",
    [
      file,
      "SELECT (SELECT count(*) FROM videos WHERE deleted_at IS NOT NULL) + (SELECT count(*) FROM video_context WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL)) + (SELECT count(*) FROM memory WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL))",
    ],
    { encoding: "utf8" },
  ).trim(),
);
console.error(`${doomed} soft-deleted videos, ${doomedRows} rows to purge`);

interface Measured {
  seconds: number;
  cpuSeconds: number;
}

/** The floor: sqlite3 on a fresh copy of the same file, one cascading DELETE. */
function floorPurge(round: number): Measured {
  const copy = path.join(work, `floor-${round}.sqlite`);
  copyFileSync(file, copy);
  const measured = timedShell(`sqlite3 '${copy}' 'PRAGMA foreign_keys = ON; DELETE FROM videos WHERE deleted_at IS NOT NULL;'`);
  rmSync(copy, { force: true });
  return measured;
}

/**
 * The same cascading DELETE inside local D1 (workerd's SQLite, through a binding): what any Worker
 * pays for these deletes on this machine, before keeper's own work. Only the request is timed.
 */
async function d1CascadePurge(round: number): Promise<Measured> {
  const state = path.join(work, `d1-${round}`);
  cpSync(source, state, { recursive: true });
  const server = await startWranglerDev({
    persistTo: state,
    config: "bench/bare/wrangler.toml",
    readyPath: "/memory/none/count",
    timeoutMs: 180_000,
  });
  try {
    const cpuBefore = processTreeCpuSeconds(server.pid);
    const since = performance.now();
    const response = await fetch(`${server.url}/purge-deleted`, { method: "POST" });
    if (!response.ok) throw new Error(`in-D1 cascade failed: ${await response.text()}`);
    const measured = { seconds: (performance.now() - since) / 1000, cpuSeconds: processTreeCpuSeconds(server.pid) - cpuBefore };
    await server.stop();
    const left = execFileSync(
      "sqlite3",
      [
        localDatabaseFile(state),
        "SELECT (SELECT count(*) FROM videos WHERE deleted_at IS NOT NULL) + (SELECT count(*) FROM video_context) + (SELECT count(*) FROM memory) + (SELECT count(*) FROM videos)",
      ],
      { encoding: "utf8" },
    ).trim();
    const keptRows =
      Number(
        execFileSync(
          "sqlite3",
          [file, "SELECT (SELECT count(*) FROM video_context) + (SELECT count(*) FROM memory) + (SELECT count(*) FROM videos)"],
          { encoding: "utf8" },
        ).trim(),
      ) - doomedRows;
    if (Number(left) !== keptRows) throw new Error(`in-D1 cascade left ${left} rows, expected ${keptRows}`);
    return measured;
  } finally {
    await server.stop();
    rmSync(state, { recursive: true, force: true });
  }
}

/** keeper on a fresh copy of the whole local state: retention policy runs until nothing is left. */
async function keeperPurge(
  round: number,
): Promise<Measured & { videos: number; rows: number; left: number; purgeSeconds: number }> {
  const state = path.join(work, `keeper-${round}`);
  cpSync(source, state, { recursive: true });
  const server = await startWranglerDev({ persistTo: state, timeoutMs: 180_000 });
  let videos = 0;
  let purgedRows = 0;
  let purgeSeconds = 0;
  let measured: Measured;
  try {
    const headers = adminJsonHeaders();
    const cpuBefore = processTreeCpuSeconds(server.pid);
    const since = performance.now();
    // The retention policy runs as a Workflow job: start it, then follow its run until it ends
    // (polled every 50 ms, so the polling adds at most that much to the measured time).
    const response = await fetch(`${server.url}/admin/archival/apply-policies`, {
      method: "POST",
      headers,
      body: JSON.stringify({ confirm: true, deleteDays: 1, archive: false, cleanup: false, optimize: false }),
    });
    const started = (await response.json()) as { run?: { id: number } };
    if (!response.ok || !started.run) throw new Error(`apply-policies failed: ${JSON.stringify(started)}`);
    for (;;) {
      const run = (await (await fetch(`${server.url}/admin/jobs/${started.run.id}`, { headers })).json()) as {
        status: string;
        error: string | null;
        counts: { videos_purged: number; rows_purged: number; purge_ms: number } | null;
      };
      if (run.status === "succeeded" && run.counts) {
        videos = run.counts.videos_purged;
        purgedRows = run.counts.rows_purged;
        purgeSeconds = run.counts.purge_ms / 1000;
        break;
      }
      if (run.status !== "running") throw new Error(`retention ${run.status}: ${run.error}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    measured = { seconds: (performance.now() - since) / 1000, cpuSeconds: processTreeCpuSeconds(server.pid) - cpuBefore };
  } finally {
    await server.stop();
  }
  const left = Number(
    execFileSync("sqlite3", [localDatabaseFile(state), "SELECT count(*) FROM videos WHERE deleted_at IS NOT NULL"], {
      encoding: "utf8",
    }).trim(),
  );
  rmSync(state, { recursive: true, force: true });
  return { ...measured, videos, rows: purgedRows, left, purgeSeconds };
}

const roundsMeasured: { keeper: Awaited<ReturnType<typeof keeperPurge>>; floor: Measured; d1: Measured }[] = [];
for (let round = 0; round < rounds; round++) {
  const keeperFirst = round % 2 === 1;
  const floorFirst = keeperFirst ? null : floorPurge(round);
  const d1First = keeperFirst ? null : await d1CascadePurge(round);
  const keeper = await keeperPurge(round);
  const floor = floorFirst ?? floorPurge(round);
  const d1 = d1First ?? (await d1CascadePurge(round));
  roundsMeasured.push({ keeper, floor, d1 });
  console.error(
    `round ${round + 1}: keeper ${keeper.seconds.toFixed(2)} s (${keeper.rows} rows; its purge phase ${keeper.purgeSeconds.toFixed(2)} s), sqlite3 ${floor.seconds.toFixed(2)} s, the same DELETE in local D1 ${d1.seconds.toFixed(2)} s`,
  );
  if (keeper.left !== 0 || keeper.rows !== doomedRows) {
    throw new Error(`keeper left ${keeper.left} soft-deleted videos and purged ${keeper.rows} of ${doomedRows} rows`);
  }
}
const describe = (list: Measured[]) => ({
  seconds: summarize(list.map((m) => m.seconds)),
  rows_per_s: summarize(list.map((m) => doomedRows / m.seconds)),
  cpu_seconds: summarize(list.map((m) => m.cpuSeconds)),
  cpu_ms_per_1000_rows: summarize(list.map((m) => (m.cpuSeconds * 1000) / (doomedRows / 1000))),
});
const results = {
  size,
  rounds,
  videos_purged: roundsMeasured[0].keeper.videos,
  rows_purged: doomedRows,
  keeper: describe(roundsMeasured.map((r) => r.keeper)),
  /** The run record's `purge_ms`: the purge phase's own units, without the Workflow's start and end or the polling. */
  keeper_purge_phase_seconds: summarize(roundsMeasured.map((r) => r.keeper.purgeSeconds)),
  sqlite_cascade_delete: describe(roundsMeasured.map((r) => r.floor)),
  d1_cascade_delete: describe(roundsMeasured.map((r) => r.d1)),
  ratios: {
    purge: summarize(roundsMeasured.map((r) => r.floor.seconds / r.keeper.seconds)),
    /** What the purge's floor is in local D1: the same DELETE through a binding, ÷ the sqlite3 CLI's. */
    d1_cascade_vs_sqlite3: summarize(roundsMeasured.map((r) => r.floor.seconds / r.d1.seconds)),
    purge_vs_d1_cascade: summarize(roundsMeasured.map((r) => r.d1.seconds / r.keeper.seconds)),
  },
};
mkdirSync(path.dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
rmSync(work, { recursive: true, force: true });
