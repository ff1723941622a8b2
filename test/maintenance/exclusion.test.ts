import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ExclusiveJob, exclusionMatrix, exclusiveLeases } from "../../src/maintenance/exclusion";
import { jobsByCron } from "../../src/maintenance/jobs";
import { dispatchScheduled } from "../../src/maintenance/scheduled";
import { jobDefinitions } from "../../src/maintenance/workflows";
import { parseConfig } from "../../src/platform/config";
import { at, atUntilDone } from "../archival/support";
import { seedVideo } from "../support/factories";
import { waitForRun } from "../support/jobs";

/**
 * The exclusion matrix, pair by pair: with one job's lease held, starting each other job is
 * refused (423) exactly when the matrix says they clash, and the refused job leaves no lease.
 */
const now = Date.UTC(2045, 5, 1);

async function holding<T>(job: ExclusiveJob, work: () => Promise<T>): Promise<T> {
  const name = exclusiveLeases[job];
  await env.DB.prepare("INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES (?, 'elsewhere', ?, ?)")
    .bind(name, now, now + 3_600_000)
    .run();
  try {
    return await work();
  } finally {
    await env.DB.prepare("DELETE FROM keeper_leases WHERE name = ? AND holder = 'elsewhere'").bind(name).run();
  }
}

let backupId: string | null = null;
async function existingBackup() {
  backupId ??= (await atUntilDone(now - 60_000, "/admin/backups", { body: {} })).body.run.counts.backup as string;
  return backupId;
}

/** Starts `job` by its HTTP door; returns the status, and for a started job waits for its end. */
async function start(job: ExclusiveJob): Promise<number> {
  switch (job) {
    case "backup": {
      const res = await atUntilDone(now, "/admin/backups", { body: {} });
      if (res.status === 200) expect(res.body.run.status).toBe("succeeded");
      return res.status;
    }
    case "retention": {
      const res = await atUntilDone(now, "/admin/archival/apply-policies", { body: { confirm: true, optimize: false } });
      if (res.status === 200) expect(res.body.run.status).toBe("succeeded");
      return res.status;
    }
    case "migration":
      return (await at(now, "POST", "/admin/migrations/apply", { body: {} })).status;
    case "restore":
      return (
        await at(now, "POST", `/admin/backups/${await existingBackup()}/restore`, {
          body: { target: "main", force: true, confirm: true },
        })
      ).status;
    case "drill": {
      const res = await at(now, "POST", "/admin/backups/drill");
      if (res.status !== 202) return res.status;
      expect((await waitForRun(res.body.run.id)).status).toBe("succeeded");
      return 200;
    }
  }
}

describe("jobs that clash exclude each other", () => {
  it("the jobs' leases are the ones the matrix names, and the matrix is symmetric", () => {
    for (const [kind, definition] of Object.entries(jobDefinitions))
      expect(definition.job).toBe(exclusiveLeases[kind as ExclusiveJob]);
    for (const [job, others] of Object.entries(exclusionMatrix) as [ExclusiveJob, ExclusiveJob[]][])
      for (const other of others) expect(exclusionMatrix[other], `${other} × ${job}`).toContain(job);
  });

  it("from cron, a refused job is recorded as skipped, with what it waited for", async () => {
    const runs = await holding("migration", () =>
      dispatchScheduled({
        controller: createScheduledController({ cron: "30 3 * * *", scheduledTime: now }),
        env,
        config: parseConfig(env as unknown as Record<string, unknown>),
        jobs: jobsByCron,
        deps: { now: () => new Date(now) },
      }),
    );
    expect(runs).toMatchObject([{ job: "retention.apply-policies", status: "skipped" }]);
    expect(runs[0].error).toMatch(/cannot run while migrations runs/);
  });

  const jobs = Object.keys(exclusiveLeases) as ExclusiveJob[];
  for (const held of jobs) {
    it(`while ${held} runs, exactly the jobs the matrix names are refused`, async () => {
      await seedVideo({ deletedAt: now - 40 * 86_400_000 });
      if (held !== "restore") await existingBackup();
      for (const job of jobs) {
        if (job === held) continue;
        // A restore into the main database is only ever tried where it must be refused.
        if (job === "restore" && !exclusionMatrix.restore.includes(held)) continue;
        const status = await holding(held, () => start(job));
        const expected = exclusionMatrix[job].includes(held) ? 423 : 200;
        expect(status, `${job} while ${held} runs`).toBe(expected);
        const own = await env.DB.prepare("SELECT holder FROM keeper_leases WHERE name = ?")
          .bind(exclusiveLeases[job])
          .first<{ holder: string }>();
        expect(own, `${job} left no lease`).toBeNull();
      }
    });
  }
});
