import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

/**
 * Shared plumbing for benchmarks: a local `wrangler dev` started and always stopped by its PID,
 * local migrations, process-tree memory, and timing statistics. Figures are only ever reported as
 * ratios against a peer measured in the same run.
 */

export const root = path.resolve(import.meta.dirname, "..");
const bin = (name: string) => path.join(root, "node_modules/.bin", name);

/** Local tokens come from .dev.vars; a fresh clone gets the example's. */
export function ensureDevVars(): Record<string, string> {
  const file = path.join(root, ".dev.vars");
  if (!existsSync(file)) copyFileSync(path.join(root, ".dev.vars.example"), file);
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) vars[match[1]] = match[2].replace(/^"|"$/g, "");
  }
  return vars;
}

export function adminToken(): string {
  return ensureDevVars().KEEPER_ADMIN_TOKEN.split(",")[0].trim();
}

/**
 * Headers for a benchmark's admin calls (JSON bodies). `Connection: close`: a job is followed by
 * polling, and a POST after a long pause (the floor's turn) could otherwise go out on a pooled
 * socket that wrangler dev has just closed as idle, failing with "other side closed" (seen on
 * every run of the backups benchmark at scale 1 on a slower machine).
 */
export function adminJsonHeaders(): Record<string, string> {
  return { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json", Connection: "close" };
}

/** `wrangler d1 migrations apply DB --local` into a given state folder (non-interactive). */
export function applyLocalMigrations(persistTo: string): void {
  execFileSync(bin("wrangler"), ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "true" },
  });
}

/** The SQLite file behind the local `DB` binding in a wrangler state folder (the one holding `videos`). */
export function localDatabaseFile(persistTo: string): string {
  const folder = path.join(persistTo, "v3/d1/miniflare-D1DatabaseObject");
  const candidates = existsSync(folder)
    ? readdirSync(folder)
        .filter((name) => name.endsWith(".sqlite"))
        .map((name) => path.join(folder, name))
    : [];
  const withVideos = candidates.filter(
    (file) =>
      execFileSync("sqlite3", [file, "SELECT count(*) FROM sqlite_schema WHERE name = 'videos'"], { encoding: "utf8" }).trim() ===
      "1",
  );
  if (withVideos.length !== 1) {
    throw new Error(`expected exactly one migrated local D1 in ${folder}, found ${withVideos.length}; run migrations first`);
  }
  return withVideos[0];
}

/** A loopback TCP port nothing listens on right now, chosen by the kernel (never a fixed number). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

export interface DevServer {
  url: string;
  /** The DevTools inspector's port (wrangler dev's own, in front of the Worker's isolate). */
  inspectorPort: number;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

const running = new Set<DevServer>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    for (const server of running) await server.stop();
    process.exit(130);
  });
}
process.on("exit", () => {
  for (const server of running) {
    try {
      process.kill(-server.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/**
 * Starts `wrangler dev` in its own process group and waits for /healthz. `stop()` signals the whole
 * group by PID (wrangler → workerd), so nothing outlives the benchmark.
 */
export async function startWranglerDev(options: {
  /** Default: a free port chosen now; the inspector always gets a free port of its own too. */
  port?: number;
  persistTo: string;
  vars?: Record<string, string>;
  timeoutMs?: number;
  /** Another wrangler config (another Worker); default: the project's wrangler.toml. */
  config?: string;
  /** What to poll until it answers 2xx; default /healthz. */
  readyPath?: string;
  /**
   * Another checkout of this project (an older commit, say, with its own node_modules): its Worker
   * is served, by its own wrangler, instead of this one's. Default: this checkout.
   */
  checkout?: string;
}): Promise<DevServer> {
  const checkout = options.checkout ? path.resolve(options.checkout) : root;
  ensureDevVars();
  // The same local tokens, so one client can call both.
  if (checkout !== root && !existsSync(path.join(checkout, ".dev.vars")))
    copyFileSync(path.join(root, ".dev.vars"), path.join(checkout, ".dev.vars"));
  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    options.persistTo,
    "--log-level",
    "warn",
  ];
  if (options.config) args.push("--config", options.config);
  for (const [key, value] of Object.entries(options.vars ?? {})) args.push("--var", `${key}:${value}`);
  const child = spawn(path.join(checkout, "node_modules/.bin/wrangler"), args, {
    cwd: checkout,
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
  if (child.pid === undefined) throw new Error("wrangler dev did not start");
  const pid = child.pid;
  const url = `http://127.0.0.1:${port}`;
  const server: DevServer = {
    url,
    inspectorPort,
    pid,
    process: child,
    stop: async () => {
      running.delete(server);
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        return;
      }
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        try {
          process.kill(-pid, 0);
        } catch {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // exited between the checks
      }
    },
  };
  running.add(server);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}${options.readyPath ?? "/healthz"}`);
      if (response.ok) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await server.stop();
  throw new Error(`wrangler dev did not answer on ${url} in time`);
}

function descendants(pid: number): number[] {
  const all: number[] = [pid];
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    for (const child of children) all.push(...descendants(child));
  } catch {
    // process ended
  }
  return all;
}

/** Resident memory of a process and its children, in bytes: `VmRSS` now and `VmHWM` (peak) per process. */
export function processTreeMemory(pid: number): { rssBytes: number; peakBytes: number; byCommand: Record<string, number> } {
  let rss = 0;
  let peak = 0;
  const byCommand: Record<string, number> = {};
  for (const member of descendants(pid)) {
    try {
      const status = readFileSync(`/proc/${member}/status`, "utf8");
      const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      const name = /Name:\s+(\S+)/.exec(status)?.[1] ?? String(member);
      rss += field("VmRSS");
      peak += field("VmHWM");
      byCommand[name] = Math.max(byCommand[name] ?? 0, field("VmHWM"));
    } catch {
      // process ended
    }
  }
  return { rssBytes: rss, peakBytes: peak, byCommand };
}

const clockTicksPerSecond = 100; // USER_HZ on Linux: /proc/<pid>/stat counts CPU time in these ticks

/** CPU seconds (user + system) used so far by a process and its children still alive. */
export function processTreeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const member of descendants(pid)) {
    try {
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of stat.
      const stat = readFileSync(`/proc/${member}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // process ended
    }
  }
  return ticks / clockTicksPerSecond;
}

/**
 * Runs a shell command line and measures it as its users run it: wall seconds, and the CPU seconds
 * (user + system) of everything it started, as bash's `times` reports for its children.
 */
export function timedShell(commandLine: string): { seconds: number; cpuSeconds: number } {
  const started = performance.now();
  const out = execFileSync("bash", ["-c", `${commandLine}\ntimes`], { encoding: "utf8", maxBuffer: 1 << 20 });
  const seconds = (performance.now() - started) / 1000;
  // `times` prints two lines (the shell's own, then its children's): "0m1.234s 0m0.050s".
  const children = out.trim().split("\n").at(-1) ?? "";
  const parts = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (parts.length !== 2) throw new Error(`could not read CPU times of: ${commandLine}`);
  return { seconds, cpuSeconds: parts[0] + parts[1] };
}

export interface Timing {
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export function summarize(values: number[]): Timing {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { runs: values, median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Runs `fn` `times` times (after `warmup` unmeasured runs) and returns wall-clock ms statistics. */
export async function timeRuns(times: number, fn: (run: number) => Promise<unknown>, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const values: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await fn(i);
    values.push(performance.now() - started);
  }
  return summarize(values);
}

export function parseFlags(argv: string[], defaults: Record<string, string>): Record<string, string> {
  const flags = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
    const [key, inline] = arg.slice(2).split("=", 2);
    if (!(key in defaults)) throw new Error(`unknown flag --${key}; known: ${Object.keys(defaults).join(", ")}`);
    flags[key] = inline ?? argv[++i] ?? "";
  }
  return flags;
}

/** Follows a job run at /admin/jobs/{id} until it ends; throws unless it succeeded. */
export async function followRun(url: string, headers: Record<string, string>, id: number) {
  for (;;) {
    const current = (await (await fetch(`${url}/admin/jobs/${id}`, { headers })).json()) as {
      status: string;
      error: string | null;
      counts: Record<string, string | number | boolean | null> | null;
    };
    if (current.status === "succeeded" && current.counts) return current.counts;
    if (current.status !== "running") throw new Error(`job ${id} ${current.status}: ${current.error}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * One complete backup over HTTP, as `keeper backup create` does it: start the backup Workflow, then
 * follow its run until it ends. Throws unless it succeeded.
 */
export async function backupOverHttp(url: string, headers: Record<string, string>) {
  const started = await fetch(`${url}/admin/backups`, { method: "POST", headers, body: "{}" });
  const { run } = (await started.json()) as { run: { id: number } };
  if (!started.ok || !run) throw new Error(`backup did not start: HTTP ${started.status}`);
  const counts = await followRun(url, headers, run.id);
  return { backupId: String(counts.backup), steps: Number(counts.steps) };
}
