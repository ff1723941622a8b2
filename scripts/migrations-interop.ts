import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { type DevServer, startWranglerDev } from "../bench/harness.ts";

/**
 * `npm run db:interop`: proves, with the real wrangler CLI and a real `wrangler dev`, that the two
 * doors share one ledger. wrangler applies → keeper reports (first-seen checksums) and rolls back →
 * wrangler lists the rolled-back migration as pending and re-applies it → keeper rolls back and
 * applies → wrangler finds nothing to apply. Local only (a state folder under .wrangler/), a free port.
 */
const root = process.cwd();
const state = path.join(root, ".wrangler/migrations-interop");
const adminToken = "interop-admin-token-0123456789";
const wrangler = path.join(root, "node_modules/.bin/wrangler");
const quietEnv = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { cwd: root, env: quietEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function wranglerD1(verb: "apply" | "list"): string {
  return run(wrangler, ["d1", "migrations", verb, "DB", "--local", "--persist-to", state]);
}

function keeper(url: string, ...args: string[]): unknown {
  try {
    const out = run(process.execPath, [path.join(root, "cli/keeper.ts"), "--url", url, "--token", adminToken, "--json", ...args]);
    return JSON.parse(out);
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`keeper ${args.join(" ")} failed: ${failed.stderr ?? ""}${failed.stdout ?? ""}`);
  }
}

/** A `wrangler dev` on a free port with this run's admin token (stopped by its process group's PID). */
function startWorker(): Promise<DevServer> {
  return startWranglerDev({
    persistTo: state,
    vars: { KEEPER_ADMIN_TOKEN: adminToken, KEEPER_ENV: "development" },
    timeoutMs: 60_000,
  });
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`interop check failed: ${message}`);
  console.log(`ok  ${message}`);
}

interface Status {
  ok: boolean;
  applied: { name: string; checksum: { recorded_as: string | null; matches: boolean | null } }[];
  pending: { name: string }[];
}

rmSync(state, { recursive: true, force: true });
const names = run("bash", ["-c", "ls drizzle/*.sql | xargs -n1 basename"]).trim().split("\n");
const latest = names.at(-1)!;

wranglerD1("apply");
let worker = await startWorker();
try {
  const status = keeper(worker.url, "migrate", "status") as Status;
  check(
    JSON.stringify(status.applied.map((entry) => entry.name)) === JSON.stringify(names),
    "keeper sees every migration wrangler applied",
  );
  check(
    status.applied.every((entry) => entry.checksum.recorded_as === "first_seen" && entry.checksum.matches),
    "their checksums are recorded as first seen",
  );
  const rolledBack = keeper(worker.url, "migrate", "rollback", "--yes") as { rolled_back: string[] };
  check(JSON.stringify(rolledBack.rolled_back) === JSON.stringify([latest]), `keeper rolled back ${latest}`);
} finally {
  await worker.stop();
}
await new Promise((resolve) => setTimeout(resolve, 1500));
check(wranglerD1("list").includes(latest), `wrangler lists ${latest} as unapplied`);
wranglerD1("apply");

worker = await startWorker();
try {
  const status = keeper(worker.url, "migrate", "status") as Status;
  check(status.ok && status.pending.length === 0, "after wrangler re-applied it, keeper reports no drift and nothing pending");
  keeper(worker.url, "migrate", "rollback", "--yes");
  const applied = keeper(worker.url, "migrate", "apply") as { applied: string[] };
  check(JSON.stringify(applied.applied) === JSON.stringify([latest]), `keeper applied ${latest}`);
  const lint = keeper(worker.url, "migrate", "lint") as { ok: boolean };
  check(lint.ok, "keeper migrate lint passes on the bundled files");
  const test = keeper(worker.url, "migrate", "test") as { ok: boolean };
  check(test.ok, "keeper migrate test passes on SCRATCH_DB");
} finally {
  await worker.stop();
}
await new Promise((resolve) => setTimeout(resolve, 1500));
check(/No migrations to apply/i.test(wranglerD1("list")), "wrangler finds nothing to apply after keeper applied");
rmSync(state, { recursive: true, force: true });
