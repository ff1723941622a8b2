import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { digestTable } from "../../src/backups/digest";
import { introspect } from "../../src/backups/introspect";
import { planRestore } from "../../src/backups/restore.service";
import { UNIT_ATTEMPTS } from "../../src/backups/restore-job";
import { countD1Calls } from "../../src/maintenance/budget";
import { at } from "../archival/support";
import { contextOn } from "../migrations/support";
import { seedContext, seedConversation, seedVideo } from "../support/factories";
import { appTables, backupNow, failingOn, lastRestoreAudit, manifestOf, now, restore, restoreWith } from "./support";

async function seedSome(n: number) {
  for (let i = 0; i < n; i++) {
    const video = await seedVideo({ tags: ["t"] });
    await seedContext(video.id, { timestamp: i });
    if (i % 2 === 0) await seedConversation(video.id, { messages: 2 });
  }
}

/** The app tables' digests, or null for a table that is missing: what "the same database" means here. */
async function state(d1: D1Database) {
  const tables = (await introspect(d1)).tables;
  const out: Record<string, { rows: number; sha256: string } | null> = {};
  for (const name of appTables) {
    const table = tables.find((t) => t.name === name);
    out[name] = table ? await digestTable(d1, table) : null;
  }
  return out;
}

async function counts(d1: D1Database) {
  const out: Record<string, number> = {};
  for (const name of appTables)
    out[name] = (await d1.prepare(`SELECT count(*) AS n FROM ${name}`).first<{ n: number }>())?.n ?? 0;
  return out;
}

describe("a restore never destroys first", () => {
  it("one flipped byte in one object: the restore is refused before any table is touched, and an audit row says so", async () => {
    await seedSome(4);
    const backup = await backupNow();
    const manifest = await manifestOf(backup.id);
    const victim = manifest.objects.filter((o: { kind: string }) => o.kind === "data").at(-1).key as string;
    const bytes = new Uint8Array(await ((await env.BACKUPS.get(victim)) as R2ObjectBody).arrayBuffer());
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await env.BACKUPS.put(victim, bytes);
    const before = await counts(env.DB);
    const refused = await restore(backup.id, { target: "main", force: true, confirm: true });
    expect(refused.body.run.status).toBe("failed");
    expect(refused.body.error).toContain("the target was not touched");
    expect(refused.body.error).toContain(victim);
    expect(refused.body.safety_backup ?? null, "no safety backup is taken for a backup that fails its checks").toBeNull();
    expect(await counts(env.DB)).toEqual(before);
    expect(await lastRestoreAudit(backup.id)).toMatchObject({ outcome: "refused", dropped: [] });
  });

  it("--tables videos --force is refused while the tables a drop would cascade into hold rows", async () => {
    await seedSome(3);
    const backup = await backupNow();
    expect((await restore(backup.id, { target: "scratch", force: true })).body.verified).toBe(true);
    const before = await counts(env.SCRATCH_DB);
    const refused = await restore(backup.id, { target: "scratch", force: true, tables: ["videos"] });
    expect(refused.status).toBe(409);
    expect(refused.body.cascades.map((c: { table: string }) => c.table).sort()).toEqual(["conversations", "video_context"]);
    expect(await counts(env.SCRATCH_DB)).toEqual(before);
    const withChildren = await restore(backup.id, {
      target: "scratch",
      force: true,
      tables: ["videos", "video_context", "memory", "conversations", "messages"],
    });
    expect(withChildren.body, JSON.stringify(withChildren.body)).toMatchObject({ verified: true });
  });

  it("restoring into main takes a safety backup first and names it in the audit row", async () => {
    await seedSome(2);
    const backup = await backupNow();
    const done = await restore(backup.id, { target: "main", force: true, confirm: true });
    expect(done.body, JSON.stringify(done.body)).toMatchObject({ verified: true, foreign_key_violations: 0 });
    const safety = done.body.safety_backup as string;
    expect(safety).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect((await manifestOf(safety)).tables.length).toBeGreaterThan(0);
    expect(await lastRestoreAudit(backup.id)).toMatchObject({ outcome: "restored", safety_backup: safety, verified: true });
  });

  it("a fault at every batch of statements and every object read leaves main as it was or fully restored — never empty", async () => {
    await seedSome(3);
    const backup = await backupNow();
    const restoredState = await state(env.DB);
    await seedSome(2);
    await env.DB.prepare("DELETE FROM videos WHERE rowid = (SELECT min(rowid) FROM videos)").run();
    const changed = await backupNow();
    const changedState = await state(env.DB);
    expect(changedState).not.toEqual(restoredState);

    const outcomes = new Set<string>();
    for (const [method, binding] of [
      ["batch", "DB"],
      ["get", "BACKUPS"],
    ] as const) {
      for (let failOn = 1; ; failOn++) {
        // Start every round from the changed database.
        const reset = await restore(changed.id, { target: "main", force: true, confirm: true });
        expect(reset.body.verified, JSON.stringify(reset.body)).toBe(true);
        // As many failures in a row as the restore tries one unit: a fault it cannot ride out.
        const fault = failingOn(env[binding] as object, method as never, failOn, UNIT_ATTEMPTS);
        const result = await restoreWith(backup.id, { target: "main", force: true, confirm: true }, { [binding]: fault.binding });
        const after = await state(env.DB);
        const audit = await lastRestoreAudit(backup.id);
        const label = `${binding}.${method} #${failOn}: ${result.run?.status} ${result.run?.error} ${JSON.stringify(audit)}`;
        if (result.run?.status === "succeeded") {
          expect(after, label).toEqual(restoredState);
          expect(audit, label).toMatchObject({ outcome: "restored", verified: true });
        } else {
          expect(after, label).toEqual(changedState);
          expect(["refused", "not_started", "rolled_back"], label).toContain(audit?.outcome);
          if (audit?.outcome === "rolled_back") {
            expect(audit, label).toMatchObject({ verified: true });
            expect(result.counts?.safety_backup, label).toBe(audit.safety_backup);
            expect(result.counts, label).toHaveProperty("rollback_verify_ms");
            expect(result.run?.error, label).toContain(`restored from safety backup ${audit.safety_backup} and verified`);
          }
        }
        outcomes.add(`${binding}:${String(audit?.outcome)}`);
        if (fault.calls() < failOn) break;
      }
    }
    expect([...outcomes]).toEqual(expect.arrayContaining(["DB:rolled_back", "DB:restored", "DB:not_started", "BACKUPS:refused"]));
  }, 600_000);

  it("a restore killed after it started replacing main leaves a run record naming its safety backup, which undoes it", async () => {
    await seedSome(3);
    const backup = await backupNow();
    await seedSome(2);
    const before = await state(env.DB);
    const started = async () =>
      (await env.DB.prepare("SELECT 1 AS x FROM sqlite_schema WHERE name = 'keeper_restore_position'").first()) !== null;
    // Killed: from the first step after the replacing began, no step runs again — not even the
    // runtime's own record of the failure.
    const killed = await restoreWith(
      backup.id,
      { target: "main", force: true, confirm: true },
      {},
      {
        beforeStep: async () => {
          if (await started()) throw new Error("Worker exceeded CPU time limit.");
        },
      },
    );
    expect(killed.run?.status).toBe("running");
    const safety = killed.counts?.safety_backup as string;
    expect(safety).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    const shown = await at(now, "GET", `/admin/jobs/${killed.runId}`, { token: "read" });
    expect(shown.body.counts).toMatchObject({
      backup: backup.id,
      target: "main",
      safety_backup: safety,
      check_ms: expect.any(Number),
      safety_ms: expect.any(Number),
    });
    expect(await state(env.DB)).not.toEqual(before);
    await env.DB.prepare("DELETE FROM keeper_leases WHERE name = 'backups.restore'").run();
    await env.DB.prepare("UPDATE keeper_job_runs SET status = 'failed' WHERE id = ?").bind(killed.runId).run();

    const undo = await restore(safety, { target: "main", force: true, confirm: true });
    expect(undo.body.run.status, JSON.stringify(undo.body)).toBe("succeeded");
    expect(await state(env.DB)).toEqual(before);
  });

  it("a restore that fails after it took its safety backup says where the database is, in the run's error", async () => {
    await seedSome(2);
    const backup = await backupNow();
    let failed = false;
    const result = await restoreWith(
      backup.id,
      { target: "main", force: true, confirm: true },
      {},
      {
        beforeStep: async (name) => {
          const position = await env.DB.prepare(
            "SELECT 1 AS x FROM sqlite_schema WHERE name = 'keeper_restore_position'",
          ).first();
          if (position && !failed && name.startsWith("advance")) {
            failed = true;
            throw new Error("the step was evicted");
          }
        },
      },
    );
    expect(result.run?.status).toBe("failed");
    const safety = result.counts?.safety_backup as string;
    expect(safety).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect(result.run?.error).toContain(
      `restore failed; the database before it is in backup ${safety}: keeper backup restore ${safety} --target main --force`,
    );
  });

  it("a restore's plan reads the target in at most five D1 calls, however many tables it holds", async () => {
    await seedSome(2);
    const backup = await backupNow();
    const filled = await restore(backup.id, { target: "scratch", force: true });
    expect(filled.body, JSON.stringify(filled.body)).toMatchObject({ verified: true });
    const tables = (await introspect(env.SCRATCH_DB)).tables.length;
    expect(tables).toBeGreaterThan(10);
    let calls = 0;
    const ctx = contextOn(env.DB, { env: { SCRATCH_DB: countD1Calls(env.SCRATCH_DB, () => calls++) } });
    // Every table present and full, and a subset restored: the existence, count and cascade reads all run.
    const planned = await planRestore({
      ctx,
      input: { id: backup.id, target: "scratch", force: true, dryRun: true, confirm: false },
    });
    expect(planned.plan.drops.length).toBe(planned.plan.tables.length);
    expect(calls).toBeLessThanOrEqual(5);
    calls = 0;
    await expect(
      planRestore({
        ctx,
        input: { id: backup.id, target: "scratch", tables: ["videos"], force: true, dryRun: true, confirm: false },
      }),
    ).rejects.toThrow(/by cascade/);
    expect(calls).toBeLessThanOrEqual(5);
  });
});
