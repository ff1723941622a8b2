import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateDataset } from "./dataset";
import { adminToken, parseFlags, root, startWranglerDev, timeRuns } from "./harness";

/**
 * npm run bench -- health: on a database with ≥ 1M context rows, the full health report's latency
 * (median of several runs, after a snapshot), and the query monitor's overhead on a hot data-API
 * read: the same request against two `wrangler dev` of the same Worker on the same data, one with
 * the monitor on (QUERY_MONITOR_SAMPLE_RATE=1) and one with it off (=0), each on its own copy of
 * the data, interleaved.
 */
const flags = parseFlags(process.argv.slice(2), {
  videos: "20000",
  context: "1000000",
  memory: "100000",
  runs: "7",
  scale: "1",
  requests: "300",
  out: path.join(root, "bench/results/health.json"),
});
const scale = Number(flags.scale);
if (!(scale > 0 && scale <= 4)) throw new Error("--scale must be in (0, 4]");
const size = {
  videos: Math.round(Number(flags.videos) * scale),
  context: Math.round(Number(flags.context) * scale),
  memory: Math.round(Number(flags.memory) * scale),
  conversations: 0,
  messages: 0,
  deletedEvery: 50,
};
const work = path.join(root, "bench/.state/health");
rmSync(work, { recursive: true, force: true });
generateDataset(path.join(work, "db"), size);
// Each server on its own copy: two workerd processes on one SQLite file contend for its lock.
cpSync(path.join(work, "db"), path.join(work, "db-unwatched"), { recursive: true });
const watched = await startWranglerDev({
  persistTo: path.join(work, "db"),
  vars: { QUERY_MONITOR_SAMPLE_RATE: "1" },
  timeoutMs: 180_000,
});
const unwatched = await startWranglerDev({
  persistTo: path.join(work, "db-unwatched"),
  vars: { QUERY_MONITOR_SAMPLE_RATE: "0" },
  timeoutMs: 180_000,
});
const results: Record<string, unknown> = { size };
try {
  const headers = { Authorization: `Bearer ${adminToken()}` };
  const snapshotStarted = performance.now();
  await (await fetch(`${watched.url}/admin/health/snapshot`, { method: "POST", headers })).text();
  results.snapshot_ms = performance.now() - snapshotStarted;
  const report = await timeRuns(Number(flags.runs), async () => {
    const res = await fetch(`${watched.url}/admin/health`, { headers });
    if (!res.ok) throw new Error(`report ${res.status}`);
    await res.text();
  });
  results.report_ms = report;

  const path_ = "/v1/videos/vid-0000042/context?limit=50";
  const one = async (url: string) => {
    const started = performance.now();
    const res = await fetch(`${url}${path_}`, { headers });
    if (!res.ok) throw new Error(`read ${res.status}: ${await res.text()}`);
    await res.text();
    return performance.now() - started;
  };
  for (let i = 0; i < 30; i++) await Promise.all([one(watched.url), one(unwatched.url)]);
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < Number(flags.requests); i++) {
    // Alternate which goes first so neither side gets the warmer cache systematically.
    if (i % 2) {
      on.push(await one(watched.url));
      off.push(await one(unwatched.url));
    } else {
      off.push(await one(unwatched.url));
      on.push(await one(watched.url));
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  results.hot_read_ms = {
    monitor_on_median: median(on),
    monitor_off_median: median(off),
    ratio: median(on) / median(off),
    requests: on.length,
  };
} finally {
  await watched.stop();
  await unwatched.stop();
}
mkdirSync(path.dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
rmSync(work, { recursive: true, force: true });
