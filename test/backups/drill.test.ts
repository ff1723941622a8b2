import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { drillJobDefinition } from "../../src/backups/drill-job";
import { manifestKey } from "../../src/backups/manifest";
import { budgetProfiles } from "../../src/maintenance/budget";
import { jobsByCron } from "../../src/maintenance/jobs";
import { dispatchScheduled } from "../../src/maintenance/scheduled";
import { parseConfig } from "../../src/platform/config";
import { deletePrefix } from "../../src/platform/r2";
import { at } from "../archival/support";
import { seedContext, seedVideo } from "../support/factories";
import { leaseOf, runLocally, waitForRun } from "../support/jobs";
import { backupNow, manifestOf } from "./support";

const config = parseConfig(env as unknown as Record<string, unknown>);

async function seedSome(n: number) {
  for (let i = 0; i < n; i++) await seedContext((await seedVideo()).id, { timestamp: i });
}

/** A backup's latest check as the backup list answers it. */
async function lastCheck(id: string) {
  const list = await at(Date.UTC(2040, 0, 1), "GET", "/admin/backups", { token: "read" });
  return list.body.items.find((item: { id: string }) => item.id === id)?.last_check ?? null;
}

const fireDaily = (now: number) =>
  dispatchScheduled({
    controller: createScheduledController({ cron: "0 4 * * *", scheduledTime: now }),
    env,
    config,
    jobs: jobsByCron,
    deps: { now: () => new Date(now) },
  });

describe("the restore drill as a Workflow", () => {
  // The drill takes the newest backup in the bucket: each test starts from an empty one.
  beforeEach(async () => {
    await deletePrefix(env.BACKUPS, "backups/");
  });

  it("by hand: 202 with the run; with no backup yet it succeeds saying so; while SCRATCH_DB is held it fails clearly", async () => {
    const now = Date.UTC(2035, 0, 1);
    const empty = await at(now, "POST", "/admin/backups/drill");
    expect(empty.status).toBe(202);
    expect(empty.body).toMatchObject({ started: true, run: { job: "backups.drill", status: "running" } });
    expect((await waitForRun(empty.body.run.id)).counts).toMatchObject({ backup: null, note: "no backup to drill yet" });

    await seedSome(1);
    await backupNow(now - 60_000);
    await env.DB.prepare(
      "INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES ('scratch-db', 'elsewhere', ?, ?)",
    )
      .bind(now, now + 3_600_000)
      .run();
    const held = await at(now, "POST", "/admin/backups/drill");
    const run = await waitForRun(held.body.run.id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/SCRATCH_DB is in use/);
    expect((await leaseOf("scratch-db"))?.holder).toBe("elsewhere");
    await env.DB.prepare("DELETE FROM keeper_leases WHERE name = 'scratch-db'").run();
  });

  it("the daily cron starts one drill instance per day, beside the backup and a prune of its own", async () => {
    await seedSome(3);
    const newest = await backupNow(Date.UTC(2036, 0, 1));
    const now = Date.UTC(2036, 0, 2, 4);
    const runs = await fireDaily(now);
    expect(runs.map((run) => run.job)).toEqual(["backups.create", "backups.prune", "backups.drill"]);
    const drill = runs[2];
    expect(drill).toMatchObject({ trigger: "cron", instance_id: "drill-20360102", status: "running" });
    expect(runs[1].status).toBe("succeeded");
    const again = await fireDaily(now);
    expect(again[2].id).toBe(drill.id);
    const done = await waitForRun(drill.id);
    expect(done.status, JSON.stringify(done)).toBe("succeeded");
    expect(done.counts).toMatchObject({ backup: newest.id, target: "scratch", verified: true });
    expect(await lastCheck(newest.id)).toMatchObject({ kind: "drill", ok: true, problems: 0 });
    await waitForRun(runs[0].id);
    expect(await leaseOf("backups.drill")).toBeNull();
    expect(await leaseOf("scratch-db")).toBeNull();
  });

  it("a drill of a corrupted backup fails its run, and the prune of the same cron is not taken down with it", async () => {
    await seedSome(2);
    const newest = await backupNow(Date.UTC(2037, 0, 1));
    const victim = (await manifestOf(newest.id)).objects.find((o: { kind: string }) => o.kind === "data").key as string;
    const bytes = new Uint8Array(await ((await env.BACKUPS.get(victim)) as R2ObjectBody).arrayBuffer());
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await env.BACKUPS.put(victim, bytes);
    const runs = await fireDaily(Date.UTC(2037, 0, 2, 4));
    const prune = runs.find((run) => run.job === "backups.prune");
    const drill = runs.find((run) => run.job === "backups.drill");
    expect(prune?.status).toBe("succeeded");
    const failed = await waitForRun(drill?.id as number);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain(victim);
    expect(await lastCheck(newest.id)).toMatchObject({ kind: "drill", ok: false, problems: 1 });
    await waitForRun(runs[0].id);
    expect(await leaseOf("scratch-db")).toBeNull();
  });

  it("on the free plan, with 60 older backups in the bucket and the last drill's tables in SCRATCH_DB, stays within a step's budget", async () => {
    await seedSome(2);
    const newest = await backupNow(Date.UTC(2038, 0, 1));
    // Older backups as the catalog sees them: manifests under older ids (one R2 read each, if read).
    const manifest = await (await env.BACKUPS.get(manifestKey(newest.id)))?.json<Record<string, unknown>>();
    for (let day = 1; day <= 60; day++) {
      const date = new Date(Date.UTC(2037, 9, day, 4));
      const id = `${date.toISOString().slice(0, 10).replaceAll("-", "")}T040000Z-${(1000 + day).toString(16)}`;
      await env.BACKUPS.put(manifestKey(id), JSON.stringify({ ...manifest, id, created_at: date.toISOString(), objects: [] }));
    }
    // Twice: the second drill finds SCRATCH_DB holding every table the first one restored.
    for (const now of [Date.UTC(2038, 0, 2), Date.UTC(2038, 0, 3)]) {
      const local = await runLocally({
        definition: drillJobDefinition,
        input: { requestedAt: now },
        now,
        bindings: { ...env, KEEPER_PLATFORM_LIMITS: "free", KEEPER_JOB_BUDGET: "free" } as unknown as Env,
      });
      expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
      const counts = JSON.parse(local.run?.counts ?? "{}");
      expect(counts).toMatchObject({ backup: newest.id, target: "scratch", verified: true });
      expect(counts.max_queries_per_step).toBeLessThanOrEqual(budgetProfiles.free.queries);
      expect(counts.max_r2_calls_per_step).toBeLessThanOrEqual(budgetProfiles.free.r2Calls);
    }
  }, 60_000);
});
