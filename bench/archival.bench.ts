import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateDataset } from "./dataset";
import { adminToken, parseFlags, root, startWranglerDev } from "./harness";

/**
 * npm run bench -- archival: purging soft-deleted videos with everything that belongs to them.
 * keeper's retention purge (chunked deletes through the Worker under wrangler dev) against a plain
 * `sqlite3` DELETE with ON DELETE CASCADE on a copy of the same database file, in the same run.
 *
 *   npx tsx bench/archival.bench.ts --videos 4000 --context 400000 --memory 100000
 */
const flags = parseFlags(process.argv.slice(2), {
  videos: "4000",
  context: "400000",
  memory: "100000",
  out: path.join(root, "bench/results/archival.json"),
});
const size = {
  videos: Number(flags.videos),
  context: Number(flags.context),
  memory: Number(flags.memory),
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

// The peer: sqlite3 on a copy of the same file, one DELETE, cascading.
const copy = path.join(work, "peer.sqlite");
copyFileSync(file, copy);
let since = performance.now();
execFileSync("sqlite3", [copy, "PRAGMA foreign_keys = ON; DELETE FROM videos WHERE deleted_at IS NOT NULL;"]);
const sqliteSeconds = (performance.now() - since) / 1000;

const server = await startWranglerDev({ persistTo: source, timeoutMs: 180_000 });
let keeperSeconds = 0;
let purged = 0;
let rowsPurged = 0;
try {
  const headers = { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" };
  since = performance.now();
  for (;;) {
    const res = (await (
      await fetch(`${server.url}/admin/archival/apply-policies`, {
        method: "POST",
        headers,
        body: JSON.stringify({ confirm: true, deleteDays: 1, archive: false, cleanup: false, optimize: false }),
      })
    ).json()) as { run: { status: string; counts: { videos_purged: number; rows_purged: number } } };
    purged += res.run.counts.videos_purged;
    rowsPurged += res.run.counts.rows_purged;
    if (res.run.status !== "partial") break;
  }
  keeperSeconds = (performance.now() - since) / 1000;
} finally {
  await server.stop();
}
const left = Number(
  execFileSync("sqlite3", [file, "SELECT count(*) FROM videos WHERE deleted_at IS NOT NULL"], { encoding: "utf8" }).trim(),
);
const results = {
  size,
  videos_purged: purged,
  rows_purged: rowsPurged,
  left_behind: left,
  keeper: { seconds: keeperSeconds, rows_per_s: rowsPurged / keeperSeconds },
  sqlite_cascade_delete: { seconds: sqliteSeconds, rows_per_s: doomedRows / sqliteSeconds },
  ratio_keeper_vs_sqlite: rowsPurged / keeperSeconds / (doomedRows / sqliteSeconds),
};
mkdirSync(path.dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
rmSync(work, { recursive: true, force: true });
