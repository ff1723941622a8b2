import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { generateDataset } from "./dataset.ts";
import { adminToken, parseFlags, root, startWranglerDev } from "./harness.ts";

/**
 * Purge throughput: keeper's retention purge (chunked child deletes, then each video row with its
 * audit row, over HTTP against `wrangler dev` on port 8792) against the floor — one sqlite3 DELETE
 * per table in a single transaction, on a copy of the same SQLite file taken before keeper runs.
 * Both delete exactly the rows owned by the soft-deleted videos; the row counts are checked.
 *
 *   npm run bench -- archival
 *   npx tsx bench/archival.bench.ts --videos 2000 --context 100000 --memory 20000 --deleted-every 10
 */
const flags = parseFlags(process.argv.slice(2), {
  videos: "5000",
  context: "250000",
  memory: "50000",
  "deleted-every": "10",
  "persist-to": path.join(root, "bench/.state/archival"),
});
const size = {
  videos: Number(flags.videos),
  context: Number(flags.context),
  memory: Number(flags.memory),
  conversations: Math.floor(Number(flags.videos) / 2),
  messages: Number(flags.videos) * 2,
  deletedEvery: Number(flags["deleted-every"]),
};
const persistTo = flags["persist-to"];
const sqlite = (file: string, sql: string) => execFileSync("sqlite3", [file], { input: sql, encoding: "utf8" }).trim();

const owned = `
  SELECT (SELECT count(*) FROM videos WHERE deleted_at IS NOT NULL)
       + (SELECT count(*) FROM video_context WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL))
       + (SELECT count(*) FROM memory WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL))
       + (SELECT count(*) FROM conversations WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL))
       + (SELECT count(*) FROM messages WHERE conversation_id IN
           (SELECT id FROM conversations WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL)));`;
const total = `SELECT (SELECT count(*) FROM videos) + (SELECT count(*) FROM video_context) + (SELECT count(*) FROM memory)
  + (SELECT count(*) FROM conversations) + (SELECT count(*) FROM messages);`;

const file = generateDataset(persistTo, size, { fresh: true });
const copy = path.join(persistTo, "floor-copy.sqlite");
rmSync(copy, { force: true });
sqlite(file, `.backup '${copy}'`);
const rowsToDelete = Number(sqlite(file, owned));
const totalBefore = Number(sqlite(file, total));

const token = adminToken();
const server = await startWranglerDev({ port: 8792, persistTo });
let keeperMs = 0;
let invocations = 0;
try {
  const started = performance.now();
  for (;;) {
    invocations++;
    const response = await fetch(`${server.url}/admin/archival/apply-policies`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ confirm: true, deleteDays: 1, archive: false, cleanup: false, optimize: false }),
    });
    const body = (await response.json()) as { run?: { status: string }; status?: string };
    if (!response.ok) throw new Error(`apply-policies: ${response.status} ${JSON.stringify(body)}`);
    const status = body.run?.status ?? body.status;
    if (status === "succeeded") break;
    if (status !== "partial") throw new Error(`apply-policies ended ${JSON.stringify(body)}`);
  }
  keeperMs = performance.now() - started;
} finally {
  await server.stop();
}
const keeperDeleted = totalBefore - Number(sqlite(file, total));
if (keeperDeleted !== rowsToDelete) throw new Error(`keeper deleted ${keeperDeleted} rows, expected ${rowsToDelete}`);

// The floor: plain DELETEs, children first (as keeper does), one transaction, straight on the copy.
const floorStarted = performance.now();
sqlite(
  copy,
  `PRAGMA foreign_keys = ON;
BEGIN;
DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL));
DELETE FROM conversations WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL);
DELETE FROM memory WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL);
DELETE FROM video_context WHERE video_id IN (SELECT id FROM videos WHERE deleted_at IS NOT NULL);
DELETE FROM videos WHERE deleted_at IS NOT NULL;
COMMIT;`,
);
const floorMs = performance.now() - floorStarted;
const floorDeleted = totalBefore - Number(sqlite(copy, total));
if (floorDeleted !== rowsToDelete) throw new Error(`sqlite3 deleted ${floorDeleted} rows, expected ${rowsToDelete}`);

const keeperRate = rowsToDelete / (keeperMs / 1000);
const floorRate = rowsToDelete / (floorMs / 1000);
console.log(
  JSON.stringify(
    {
      dataset: size,
      rows_deleted: rowsToDelete,
      keeper: { ms: Math.round(keeperMs), rows_per_s: Math.round(keeperRate), http_calls: invocations },
      sqlite3: { ms: Math.round(floorMs), rows_per_s: Math.round(floorRate) },
      sqlite3_over_keeper: Number((floorRate / keeperRate).toFixed(2)),
    },
    null,
    2,
  ),
);
