import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { generateDataset } from "./dataset";
import { adminToken, parseFlags, root, startWranglerDev } from "./harness";
import { loadDatasetSize, readVideo, type Scenario, workloadRequest } from "./load-workload";

/**
 * npm run bench:profile — where keeper's Worker spends its CPU under the load benchmark's workload:
 * `wrangler dev` on a fresh copy of the load dataset, a warm-up, then a V8 CPU profile of the
 * Worker's isolate (through wrangler dev's inspector, DevTools protocol) while autocannon sends the
 * scenario's requests. Writes the profile (open it in Chrome DevTools' Performance panel) and prints
 * the functions that held the most samples, by their own time and with their callees.
 *
 * Shares count samples. The profile's time deltas are not used: a delta runs from one sample to the
 * next, so it also holds whatever waiting the isolate did in between and charges it to a frame.
 * The isolate is the Worker alone; local D1, wrangler dev's proxy and asset router run elsewhere in
 * the workerd process, so these shares are of the Worker's own part of a request. `--worker bare`
 * profiles the load benchmark's floor instead (bench/bare served with keeper's static assets), for
 * comparing samples per request.
 *
 *   npm run bench:profile -- [--scenario read|write] [--worker keeper|bare] [--seconds 8] [--top 25]
 */

const flags = parseFlags(process.argv.slice(2), {
  scenario: "read",
  worker: "keeper",
  seconds: "8",
  connections: "10",
  top: "25",
  work: path.join(root, "bench/.state/profile"),
  out: "",
});
const scenario = flags.scenario as Scenario;
if (scenario !== "read" && scenario !== "write") throw new Error("--scenario must be read or write");
const worker = flags.worker;
if (worker !== "keeper" && worker !== "bare") throw new Error("--worker must be keeper or bare");
const seconds = Number(flags.seconds);
if (!(seconds > 0 && seconds <= 60)) throw new Error("--seconds must be between 1 and 60");
const connections = Number(flags.connections);
if (!(Number.isInteger(connections) && connections > 0 && connections <= 100))
  throw new Error("--connections must be a whole number from 1 to 100");
const top = Number(flags.top);
if (!(Number.isInteger(top) && top > 0 && top <= 200)) throw new Error("--top must be a whole number from 1 to 200");
const out = flags.out || path.join(root, `bench/results/profile-${worker}-${scenario}.cpuprofile`);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

/** The DevTools protocol over the inspector's WebSocket: one command at a time, answered by id. */
async function inspectorSession(inspectorPort: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  if (targets.length === 0) throw new Error("wrangler dev's inspector lists no Worker to profile");
  // wrangler's inspector proxy refuses a connection without an allowed Origin.
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl, {
    headers: { Origin: "http://localhost" },
  } as unknown as string[]);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve);
    socket.addEventListener("error", () => reject(new Error("could not connect to wrangler dev's inspector")));
  });
  let lastId = 0;
  const waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const pending = message.id === undefined ? undefined : waiting.get(message.id);
    if (!pending || message.id === undefined) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(message.error.message));
    else pending.resolve(message.result);
  });
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = ++lastId;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => socket.close(),
  };
}

/**
 * The lines of the bundle wrangler dev is serving (the file the profile's frames name, under
 * `.wrangler/tmp/dev-*` beside the Worker's config), read while it exists: a frame is then shown
 * with the start of its source line.
 */
function servedBundleLines(file: string): string[] {
  const folders = [root, path.join(root, "bench/bare")].map((dir) => path.join(dir, ".wrangler/tmp")).filter(existsSync);
  const newest = folders
    .flatMap((folder) => readdirSync(folder).map((name) => path.join(folder, name, file)))
    .filter((candidate) => path.basename(path.dirname(candidate)).startsWith("dev-") && existsSync(candidate))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return newest ? readFileSync(newest, "utf8").split("\n") : [];
}

/** Each function's share of the samples: its own, and with everything it called. */
function sampleShares(profile: Profile, bundle: { file: string; lines: string[] }) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const label = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const source = url === bundle.file ? (bundle.lines[lineNumber]?.trim().slice(0, 60) ?? "") : "";
    return `${functionName || "(anonymous)"} ${url}:${lineNumber + 1}${source ? `  ${source}` : ""}`;
  };
  const own = new Map<string, number>();
  const withCallees = new Map<string, number>();
  for (const sample of profile.samples) {
    const node = byId.get(sample);
    if (!node) continue;
    own.set(label(node), (own.get(label(node)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = sample; at !== undefined; at = parentOf.get(at)) {
      const name = label(byId.get(at) as ProfileNode);
      if (seen.has(name)) continue;
      seen.add(name);
      withCallees.set(name, (withCallees.get(name) ?? 0) + 1);
    }
  }
  const rank = (counts: Map<string, number>) =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => ({ share: count / profile.samples.length, name }));
  return { samples: profile.samples.length, own: rank(own), withCallees: rank(withCallees) };
}

const state = path.join(path.resolve(flags.work), worker);
console.error(`dataset: the load benchmark's (scale 1) → ${state}`);
generateDataset(state, loadDatasetSize(1), { fresh: true });
const server = await startWranglerDev(
  worker === "keeper"
    ? { persistTo: state }
    : { persistTo: state, config: "bench/bare/wrangler.assets.toml", readyPath: `/context/${readVideo}` },
);
try {
  const request = workloadRequest(worker, scenario, server.url, adminToken());
  await autocannon({ ...request, connections, duration: 3 });
  const inspector = await inspectorSession(server.inspectorPort);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.send("Profiler.start");
  const result = await autocannon({ ...request, connections, duration: seconds });
  const { profile } = await inspector.send<{ profile: Profile }>("Profiler.stop");
  inspector.close();
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(profile));
  const bundleFile = worker === "keeper" ? "index.js" : "worker.js";
  const shares = sampleShares(profile, { file: bundleFile, lines: servedBundleLines(bundleFile) });
  const percent = (share: number) => `${(100 * share).toFixed(1).padStart(5)}%`;
  console.log(
    `${worker} ${scenario}: ${result.requests.total} requests in ${seconds} s, ${shares.samples} samples of the Worker's isolate (${(shares.samples / result.requests.total).toFixed(2)} per request) → ${path.relative(root, out)}`,
  );
  console.log("\nown time (share of samples)");
  for (const entry of shares.own) console.log(`${percent(entry.share)}  ${entry.name}`);
  console.log("\nwith callees");
  for (const entry of shares.withCallees) console.log(`${percent(entry.share)}  ${entry.name}`);
} finally {
  await server.stop();
}
