import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { digestTable } from "../../src/backups/digest";
import { introspect } from "../../src/backups/introspect";
import { seedContext, seedConversation, seedVideo } from "../support/factories";
import { appTables, backupNow, failingOn, lastRestoreAudit, manifestOf, restore } from "./support";

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
  it("one flipped byte in one object: 422 before any table is touched, and an audit row says so", async () => {
    await seedSome(4);
    const backup = await backupNow();
    const manifest = await manifestOf(backup.id);
    const victim = manifest.objects.filter((o: { kind: string }) => o.kind === "data").at(-1).key as string;
    const bytes = new Uint8Array(await ((await env.BACKUPS.get(victim)) as R2ObjectBody).arrayBuffer());
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await env.BACKUPS.put(victim, bytes);
    const before = await counts(env.DB);
    const refused = await restore(backup.id, { target: "main", force: true, confirm: true });
    expect(refused.status).toBe(422);
    expect(refused.body.problems.join("\n")).toContain(victim);
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
    expect(done.body, JSON.stringify(done.body)).toMatchObject({ verified: true, foreign_key_violations: [] });
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
        const fault = failingOn(env[binding] as object, method as never, failOn);
        const result = await restore(backup.id, { target: "main", force: true, confirm: true }, { [binding]: fault.binding });
        const after = await state(env.DB);
        const audit = await lastRestoreAudit(backup.id);
        const label = `${binding}.${method} #${failOn}: ${result.status} ${JSON.stringify(audit)}`;
        if (result.status === 200) {
          expect(after, label).toEqual(restoredState);
          expect(audit, label).toMatchObject({ outcome: "restored", verified: true });
        } else if (binding === "BACKUPS" && failOn === 1) {
          // The manifest itself could not be read: nothing is known, nothing was started.
          expect(after, label).toEqual(changedState);
        } else {
          expect(after, label).toEqual(changedState);
          expect(["refused", "not_started", "rolled_back"], label).toContain(audit?.outcome);
          if (audit?.outcome === "rolled_back") {
            expect(audit, label).toMatchObject({ verified: true });
            expect(result.status, label).toBe(503);
            expect(result.body.safety_backup, label).toBe(audit.safety_backup);
          }
        }
        outcomes.add(`${binding}:${String(audit?.outcome)}`);
        if (fault.calls() < failOn) break;
      }
    }
    expect([...outcomes]).toEqual(expect.arrayContaining(["DB:rolled_back", "DB:restored", "BACKUPS:refused"]));
  }, 600_000);
});
