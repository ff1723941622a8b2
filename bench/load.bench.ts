import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { generateDataset } from "./dataset";
import {
  adminToken,
  type DevServer,
  ensureDevVars,
  parseFlags,
  processTreeCpuSeconds,
  root,
  startWranglerDev,
  summarize,
  type Timing,
} from "./harness";
import { loadDatasetSize, readVideo, type Scenario, workloadRequest, writeVideo } from "./load-workload";

/**
 * npm run bench:load — keeper's full stack (auth, validation, query monitor, error handling)
 * against a bare Hono + D1 Worker doing the same SQL (bench/bare), served twice: with keeper's static
 * assets configured as keeper is (`bareWithAssets`: wrangler dev's asset router sits in front of the
 * Worker and costs CPU on every request, Worker routes included) and without them (`bare`). All three
 * run under `wrangler dev` on loopback, each on its own copy of the same generated database (two
 * workerd processes on one SQLite file contend for its lock). Samples are interleaved: every round
 * runs the three peers back to back, each round starting with the next peer in turn, after one
 * unmeasured warm-up sample each. The default number of rounds is twice the number of peers, so
 * every peer opens as many rounds as every other (the peer opening a round can fare better). Reports requests/s (min/median/max over the rounds), latency, CPU
 * seconds of each workerd process tree, and per round keeper ÷ bareWithAssets (`ratios`, the floor
 * keeper is held to) and keeper ÷ bare (`ratiosVsNoAssets`), each as min/median/max over the rounds.
 * Checks nothing was lost: rows written = 2xx write responses, for every peer.
 *
 * `--compare <checkout>` adds a fourth peer, `compared`: keeper as another checkout of this project
 * builds it (an older commit with the same migrations, and its own node_modules), served by that
 * checkout's wrangler on its own copy of the data and measured in the same rotation;
 * `ratiosVsCompared` is keeper ÷ it per round, so a change to the request path is measured against
 * the code before it, interleaved.
 *
 *   npm run bench:load -- --seconds 8 [--rounds 6] --connections 10 [--scale 0.1] [--compare ../before]
 */

const flags = parseFlags(process.argv.slice(2), {
  seconds: "8",
  rounds: "",
  connections: "10",
  scale: "1",
  compare: "",
  work: path.join(root, "bench/.state/load"),
  out: path.join(root, "bench/results/load.json"),
});
const seconds = Number(flags.seconds);
const connections = Number(flags.connections);
if (!(seconds > 0 && seconds <= 120)) throw new Error("--seconds must be between 1 and 120");
if (!(connections > 0 && connections <= 100)) throw new Error("--connections must be between 1 and 100");
const scale = Number(flags.scale);
if (!(scale > 0 && scale <= 4)) throw new Error("--scale must be in (0, 4]");
const size = loadDatasetSize(scale);

interface Sample {
  requestsPerSecond: number;
  latencyP50: number;
  latencyP99: number;
  non2xx: number;
  errors: number;
  total2xx: number;
  cpuSeconds: number;
}

type Peer = "keeper" | "bare" | "bareWithAssets" | "compared";
const compared = flags.compare ? path.resolve(flags.compare) : null;
if (compared && !existsSync(path.join(compared, "node_modules/.bin/wrangler")))
  throw new Error(`--compare ${compared}: not a checkout of this project with its node_modules installed`);
const peers: Peer[] = ["bare", "bareWithAssets", "keeper", ...(compared ? (["compared"] as const) : [])];
const rounds = flags.rounds === "" ? 2 * peers.length : Number(flags.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) throw new Error("--rounds must be a whole number from 1 to 20");
if (rounds % peers.length !== 0)
  console.error(`note: with ${rounds} rounds the ${peers.length} peers do not open equally many rounds`);
/** Peers that serve keeper's data API (the others serve the bare Worker's routes). */
const servesKeeper = (peer: Peer) => peer === "keeper" || peer === "compared";
const request = (peer: Peer, scenario: Scenario, server: DevServer, token: string) =>
  workloadRequest(servesKeeper(peer) ? "keeper" : "bare", scenario, server.url, token);

async function sample(server: DevServer, options: autocannon.Options, duration = seconds): Promise<Sample> {
  const cpuBefore = processTreeCpuSeconds(server.pid);
  const result = await autocannon({ connections, duration, ...options });
  return {
    requestsPerSecond: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total2xx: result["2xx"],
    cpuSeconds: processTreeCpuSeconds(server.pid) - cpuBefore,
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
const work = path.resolve(flags.work);
const state: Record<Peer, string> = {
  keeper: path.join(work, "keeper"),
  bare: path.join(work, "bare"),
  bareWithAssets: path.join(work, "bare-with-assets"),
  compared: path.join(work, "compared"),
};
console.error(`dataset: ${size.videos} videos, ${size.context} context rows → ${state.keeper} (and a copy for each bare peer)`);
generateDataset(state.keeper, size, { fresh: true });
for (const peer of peers.filter((peer) => peer !== "keeper")) {
  rmSync(state[peer], { recursive: true, force: true });
  cpSync(state.keeper, state[peer], { recursive: true });
}

const servers = {} as Record<Peer, DevServer>;
try {
  // Keeper first: its build step writes public/vendor/, so the peer with assets sees the same folder.
  servers.keeper = await startWranglerDev({ persistTo: state.keeper });
  servers.bare = await startWranglerDev({
    persistTo: state.bare,
    config: "bench/bare/wrangler.toml",
    readyPath: `/context/${readVideo}`,
  });
  servers.bareWithAssets = await startWranglerDev({
    persistTo: state.bareWithAssets,
    config: "bench/bare/wrangler.assets.toml",
    readyPath: `/context/${readVideo}`,
  });
  if (compared) servers.compared = await startWranglerDev({ persistTo: state.compared, checkout: compared });
  const token = adminToken();
  const samples: Record<Scenario, Record<Peer, Sample[]>> = {
    read: { keeper: [], bare: [], bareWithAssets: [], compared: [] },
    write: { keeper: [], bare: [], bareWithAssets: [], compared: [] },
  };
  const writes2xx: Record<Peer, number> = { keeper: 0, bare: 0, bareWithAssets: 0, compared: 0 };
  for (const scenario of ["read", "write"] as const) {
    for (const peer of peers) {
      const warm = await sample(servers[peer], request(peer, scenario, servers[peer], token), 1);
      if (scenario === "write") writes2xx[peer] += warm.total2xx;
    }
    for (let round = 0; round < rounds; round++) {
      const order = peers.map((_, i) => peers[(round + i) % peers.length]);
      for (const peer of order) {
        const measured = await sample(servers[peer], request(peer, scenario, servers[peer], token));
        samples[scenario][peer].push(measured);
        if (scenario === "write") writes2xx[peer] += measured.total2xx;
        console.error(`${scenario} ${peer} round ${round + 1}: ${Math.round(measured.requestsPerSecond)} req/s`);
      }
    }
  }

  const describe = (list: Sample[]) => ({
    requestsPerSecond: summarize(list.map((s) => s.requestsPerSecond)),
    latencyP50Ms: summarize(list.map((s) => s.latencyP50)),
    latencyP99Ms: summarize(list.map((s) => s.latencyP99)),
    cpuMsPerRequest: summarize(list.map((s) => (1000 * s.cpuSeconds) / Math.max(1, s.requestsPerSecond * seconds))),
    non2xx: list.reduce((sum, s) => sum + s.non2xx, 0),
    errors: list.reduce((sum, s) => sum + s.errors, 0),
  });
  const results = Object.fromEntries(
    (["read", "write"] as const).map((scenario) => [
      scenario,
      Object.fromEntries(peers.map((peer) => [peer, describe(samples[scenario][peer])])),
    ]),
  ) as Record<Scenario, Record<Peer, ReturnType<typeof describe>>>;
  // Per round: keeper's throughput over a bare peer's in the same round; summarized over rounds.
  const ratio = (scenario: Scenario, floor: Exclude<Peer, "keeper">) =>
    summarize(
      samples[scenario].keeper.map((s, round) => s.requestsPerSecond / samples[scenario][floor][round].requestsPerSecond),
    );

  const rowsWritten: Partial<Record<Peer, number>> = {
    keeper: await countMemory(servers.keeper.url, token, writeVideo),
    ...(compared ? { compared: await countMemory(servers.compared.url, token, writeVideo) } : {}),
    // The bare peers have no list route; each counts the rows in its own copy.
    bare: await countBareRows(servers.bare.url),
    bareWithAssets: await countBareRows(servers.bareWithAssets.url),
  };
  const summary = {
    date: new Date().toISOString(),
    seconds,
    rounds,
    size,
    connections,
    peers: {
      bare: "bench/bare: Hono + D1, same SQL, no auth/validation/monitor, no static assets, its own copy of the database",
      bareWithAssets:
        "bench/bare with keeper's public/ as static assets (bench/bare/wrangler.assets.toml), so wrangler dev's asset router runs in front of it as it does for keeper; its own copy of the database",
      ...(compared ? { compared: `keeper as the checkout ${compared} builds it, its own copy of the database` } : {}),
    },
    results,
    // keeper ÷ bareWithAssets: both pay the asset router, so the ratio is keeper's own code.
    ratios: { read: ratio("read", "bareWithAssets"), write: ratio("write", "bareWithAssets") } satisfies Record<Scenario, Timing>,
    ratiosVsNoAssets: { read: ratio("read", "bare"), write: ratio("write", "bare") } satisfies Record<Scenario, Timing>,
    ...(compared ? { ratiosVsCompared: { read: ratio("read", "compared"), write: ratio("write", "compared") } } : {}),
    nothingLost: Object.fromEntries(
      peers.map((peer) => [peer, { rowsWritten: rowsWritten[peer], responses2xx: writes2xx[peer] }]),
    ),
  };
  mkdirSync(path.dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));
  // Every 2xx must be a stored row; rows beyond that can only be requests still in flight when a
  // sample's clock stopped (at most one per connection per sample), which autocannon no longer counts.
  const samplesTaken = rounds + 1;
  const lost = peers.some((peer) => {
    const inFlight = (rowsWritten[peer] ?? 0) - writes2xx[peer];
    return inFlight < 0 || inFlight > connections * samplesTaken;
  });
  const failed = (["read", "write"] as const).some(
    (scenario) =>
      results[scenario].keeper.errors > 0 ||
      results[scenario].keeper.non2xx > 0 ||
      (compared !== null && (results[scenario].compared.errors > 0 || results[scenario].compared.non2xx > 0)) ||
      results[scenario].bare.errors > 0 ||
      results[scenario].bareWithAssets.errors > 0,
  );
  if (lost || failed) {
    console.error(lost ? "rows written differ from 2xx responses" : "errors or non-2xx responses under load");
    process.exitCode = 1;
  }
} finally {
  for (const server of Object.values(servers)) await server.stop();
}

async function countBareRows(url: string): Promise<number> {
  const response = await fetch(`${url}/memory/${writeVideo}/count`);
  if (!response.ok) throw new Error(`bare peer count: ${response.status}`);
  return ((await response.json()) as { count: number }).count;
}
