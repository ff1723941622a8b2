import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { generateDataset } from "./dataset";
import { adminToken, ensureDevVars, parseFlags, root, startWranglerDev } from "./harness";

/**
 * npm run bench:load — keeper's full stack (auth, validation, query monitor, error handling)
 * against a bare Hono + D1 route doing the same SQL, both under `wrangler dev` on loopback, on the
 * same local database, in the same run. Reports requests/s, latency and the keeper/bare ratio, and
 * checks nothing was lost: rows written must equal 2xx write responses.
 *
 *   npm run bench:load -- --seconds 10 --connections 10
 */

const flags = parseFlags(process.argv.slice(2), {
  seconds: "10",
  connections: "10",
  "persist-to": path.join(root, "bench/.state/load"),
  out: path.join(root, "bench/results/load.json"),
});
const seconds = Number(flags.seconds);
const connections = Number(flags.connections);
if (!(seconds > 0 && seconds <= 120)) throw new Error("--seconds must be between 1 and 120");
if (!(connections > 0 && connections <= 100)) throw new Error("--connections must be between 1 and 100");

interface Result {
  name: string;
  requestsPerSecond: number;
  latencyP50: number;
  latencyP99: number;
  non2xx: number;
  errors: number;
  total2xx: number;
}

async function load(name: string, options: autocannon.Options): Promise<Result> {
  const result = await autocannon({ connections, duration: seconds, ...options });
  return {
    name,
    requestsPerSecond: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total2xx: result["2xx"],
  };
}

async function countMemory(url: string, token: string, videoId: string): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const query: string = `limit=200${cursor ? `&cursor=${cursor}` : ""}`;
    const response = await fetch(`${url}/v1/videos/${videoId}/memory?${query}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const page = (await response.json()) as { items: unknown[]; next_cursor: string | null };
    count += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return count;
}

ensureDevVars();
const persistTo = path.resolve(flags["persist-to"]);
console.error(`dataset: 2,000 videos, 100,000 context rows → ${persistTo}`);
generateDataset(
  persistTo,
  { videos: 2000, context: 100_000, memory: 0, conversations: 0, messages: 0, deletedEvery: 0 },
  { fresh: true },
);

const keeper = await startWranglerDev({ port: 8795, persistTo });
const bare = await startWranglerDev({
  port: 8796,
  persistTo,
  config: "bench/bare/wrangler.toml",
  readyPath: "/context/vid-0000001",
});
try {
  const token = adminToken();
  const auth = { Authorization: `Bearer ${token}` };
  const results: Result[] = [];
  const readVideo = "vid-0000042";
  const keeperWriteVideo = "vid-0000100";
  const bareWriteVideo = "vid-0000101";

  results.push(await load("read bare", { url: `${bare.url}/context/${readVideo}` }));
  results.push(await load("read keeper", { url: `${keeper.url}/v1/videos/${readVideo}/context?limit=50`, headers: auth }));

  const writeBody = JSON.stringify({ timestamp: 1.5, content: "load test memory entry" });
  results.push(
    await load("write bare", {
      url: `${bare.url}/memory/${bareWriteVideo}`,
      method: "POST",
      body: writeBody,
      headers: { "Content-Type": "application/json" },
    }),
  );
  results.push(
    await load("write keeper", {
      url: `${keeper.url}/v1/videos/${keeperWriteVideo}/memory`,
      method: "POST",
      body: writeBody,
      headers: { ...auth, "Content-Type": "application/json" },
    }),
  );

  const health = await fetch(`${keeper.url}/admin/health`, { headers: auth });
  if (health.ok) results.push(await load("health report keeper", { url: `${keeper.url}/admin/health`, headers: auth }));

  const keeperRows = await countMemory(keeper.url, token, keeperWriteVideo);
  const bareRows = await countMemory(keeper.url, token, bareWriteVideo);
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  const summary = {
    date: new Date().toISOString(),
    seconds,
    connections,
    results,
    ratios: {
      read: byName["read keeper"].requestsPerSecond / byName["read bare"].requestsPerSecond,
      write: byName["write keeper"].requestsPerSecond / byName["write bare"].requestsPerSecond,
    },
    nothingLost: {
      keeper: { rowsWritten: keeperRows, responses2xx: byName["write keeper"].total2xx },
      bare: { rowsWritten: bareRows, responses2xx: byName["write bare"].total2xx },
    },
  };
  mkdirSync(path.dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));
  // Every 2xx must be a stored row; rows beyond that can only be requests still in flight when the
  // clock stopped (at most one per connection), whose responses autocannon no longer counts.
  const inFlight = keeperRows - byName["write keeper"].total2xx;
  const lost = inFlight < 0 || inFlight > connections;
  const failed = results.some((r) => r.errors > 0 || (r.name.includes("keeper") && r.non2xx > 0));
  if (lost || failed) {
    console.error(lost ? "rows written differ from 2xx responses" : "errors or non-2xx responses under load");
    process.exitCode = 1;
  }
} finally {
  await keeper.stop();
  await bare.stop();
}
