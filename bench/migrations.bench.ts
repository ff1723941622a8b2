import { execFileSync } from "node:child_process";
import path from "node:path";
import { generateDataset } from "./dataset.ts";
import { adminToken, parseFlags, root, startWranglerDev, summarize } from "./harness.ts";

/**
 * How long keeper's migration door takes on a filled database, against the floor: the same
 * statements run by sqlite3 straight on the SQLite file behind the local D1 (no Worker, no D1 layer,
 * no ledger/checksum/audit rows). Each keeper run is a rollback of everything after 0000 (0001 drops
 * `videos.tags`, which rewrites the videos table) followed by re-applying it, over HTTP against
 * `wrangler dev` on a free port. The child tables' row counts are checked after every run: a rollback
 * that cascaded would show here.
 *
 *   npm run bench -- migrations                              (20k videos, 200k context, 50k memory)
 *   npx tsx bench/migrations.bench.ts --videos 2000 --context 20000 --memory 5000 --runs 3
 */
const flags = parseFlags(process.argv.slice(2), {
  videos: "20000",
  context: "200000",
  memory: "50000",
  runs: "3",
  "persist-to": path.join(root, "bench/.state/migrations"),
});
const size = {
  videos: Number(flags.videos),
  context: Number(flags.context),
  memory: Number(flags.memory),
  conversations: Math.floor(Number(flags.videos) / 2),
  messages: Number(flags.videos) * 2,
  deletedEvery: 0,
};
const runs = Number(flags.runs);
const persistTo = flags["persist-to"];

const sqlite = (file: string, sql: string) => execFileSync("sqlite3", [file], { input: sql, encoding: "utf8" });
const counts = (file: string) =>
  sqlite(
    file,
    "SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM video_context), (SELECT count(*) FROM memory), (SELECT count(*) FROM messages);",
  ).trim();

const file = generateDataset(persistTo, size, { fresh: true });
const before = counts(file);
const token = adminToken();

const server = await startWranglerDev({ persistTo });
const post = async (route: string, body: unknown) => {
  const response = await fetch(`${server.url}${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const parsed = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${route}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
};

const keeperRollback: number[] = [];
const keeperApply: number[] = [];
let downSql = "";
let upSql = "";
try {
  const plan = (await post("/admin/migrations/rollback", { to: 0, dryRun: true })) as { steps: { statements: string[] }[] };
  downSql = plan.steps.flatMap((step) => step.statements.map((statement) => `${statement};`)).join("\n");
  for (let run = 0; run < runs; run++) {
    let started = performance.now();
    await post("/admin/migrations/rollback", { to: 0, confirm: true });
    keeperRollback.push(performance.now() - started);
    if (run === 0) {
      const pending = (await post("/admin/migrations/apply", { dryRun: true })) as { steps: { statements: string[] }[] };
      upSql = pending.steps.flatMap((step) => step.statements.map((statement) => `${statement};`)).join("\n");
    }
    started = performance.now();
    await post("/admin/migrations/apply", {});
    keeperApply.push(performance.now() - started);
    if (counts(file) !== before) throw new Error(`rows changed: ${before} → ${counts(file)}`);
  }
} finally {
  await server.stop();
}

// The floor: the same statements in one transaction, straight on the file.
const floorRollback: number[] = [];
const floorApply: number[] = [];
for (let run = 0; run < runs; run++) {
  let started = performance.now();
  sqlite(file, `BEGIN;\n${downSql}\nCOMMIT;`);
  floorRollback.push(performance.now() - started);
  started = performance.now();
  sqlite(file, `BEGIN;\n${upSql}\nCOMMIT;`);
  floorApply.push(performance.now() - started);
  if (counts(file) !== before) throw new Error(`rows changed in the floor run: ${before} → ${counts(file)}`);
}

const ratio = (keeper: number[], floor: number[]) => summarize(keeper).median / summarize(floor).median;
console.log(
  JSON.stringify(
    {
      dataset: size,
      rows_after_every_run: before,
      runs,
      rollback_to_0: {
        keeper_over_sqlite3: Number(ratio(keeperRollback, floorRollback).toFixed(2)),
        keeper_ms: summarize(keeperRollback),
        sqlite3_ms: summarize(floorRollback),
      },
      apply_all: {
        keeper_over_sqlite3: Number(ratio(keeperApply, floorApply).toFixed(2)),
        keeper_ms: summarize(keeperApply),
        sqlite3_ms: summarize(floorApply),
      },
    },
    null,
    2,
  ),
);
