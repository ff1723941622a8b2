import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { recordBackupCheck } from "../../src/backups/backup-checks.service";
import { backupJobDefinition } from "../../src/backups/backup-job";
import { digestTable } from "../../src/backups/digest";
import { introspect } from "../../src/backups/introspect";
import { ObjectWriter } from "../../src/backups/object-writer";
import { at, failingBucket } from "../archival/support";
import { contextOn } from "../migrations/support";
import { seedContext, seedConversation, seedVideo } from "../support/factories";
import { runLocally } from "../support/jobs";
import { backupNow, restore } from "./support";

const now = Date.UTC(2031, 2, 3, 4, 5, 6);
const appTables = ["videos", "video_context", "memory", "conversations", "messages"];

async function seedSome(n = 30) {
  for (let i = 0; i < n; i++) {
    const video = await seedVideo({ category: i % 2 ? "lecture" : null, tags: ["t"] });
    await seedContext(video.id, { timestamp: i % 3 ? i : null, data: { description: `it's "quoted"\nand multi-line; ok` } });
    if (i % 5 === 0) await seedConversation(video.id, { messages: 2 });
  }
}

async function digests(d1: D1Database) {
  const schema = await introspect(d1);
  const out: Record<string, { rows: number; sha256: string }> = {};
  for (const table of schema.tables.filter((t) => appTables.includes(t.name))) out[table.name] = await digestTable(d1, table);
  return out;
}

async function schemaText(d1: D1Database) {
  const { results } = await d1
    .prepare(
      "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('keeper_leases', 'keeper_restore_position') ORDER BY type, name",
    )
    .all();
  return results;
}

async function backupIds() {
  return (await at(now, "GET", "/admin/backups", { token: "read" })).body.items.map((b: { id: string }) => b.id) as string[];
}

describe("backups", () => {
  it("backs up, lists, verifies, and restores into SCRATCH_DB with equal digests", async () => {
    await seedSome();
    const created = await backupNow();
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ complete: true, run: { status: "succeeded", job: "backups.create" } });
    const id = created.body.backup_id as string;

    const list = await at(now, "GET", "/admin/backups", { token: "read" });
    expect(list.body.items.map((b: { id: string }) => b.id)).toContain(id);
    const manifest = (await at(now, "GET", `/admin/backups/${id}`, { token: "read" })).body;
    const videos = manifest.tables.find((t: { name: string }) => t.name === "videos");
    const videoCount = await env.DB.prepare("SELECT count(*) AS n FROM videos").first<{ n: number }>();
    expect(videos.rows).toBe(videoCount?.n);
    expect(manifest.schema_version).toBe(env.TEST_MIGRATIONS.at(-1)?.name);
    expect(manifest.tables.map((t: { name: string }) => t.name)).toContain("d1_migrations");
    expect(manifest.tables.map((t: { name: string }) => t.name)).not.toContain("keeper_leases");
    expect(manifest.tables.findIndex((t: { name: string }) => t.name === "videos")).toBeLessThan(
      manifest.tables.findIndex((t: { name: string }) => t.name === "video_context"),
    );

    const verified = await at(now, "POST", `/admin/backups/${id}/verify`);
    expect(verified.body).toMatchObject({ ok: true, problems: [] });

    const dry = await at(now, "POST", `/admin/backups/${id}/restore`, { body: { target: "scratch", dryRun: true } });
    expect(dry.body.plan.rows).toBe(manifest.totals.rows);
    const restored = await restore(id, { target: "scratch", force: true });
    expect(restored.status, JSON.stringify(restored.body)).toBe(202);
    expect(restored.body).toMatchObject({ verified: true, run: { status: "succeeded", job: "backups.restore" } });
    expect(await digests(env.SCRATCH_DB)).toEqual(await digests(env.DB));
  });

  it("backup → wipe → restore gives back the same rows and schema; a non-empty target needs force", async () => {
    await seedSome(10);
    const id = (await backupNow(now + 1000)).body.backup_id as string;
    const before = { data: await digests(env.DB), schema: await schemaText(env.DB) };
    await env.DB.batch(
      ["messages", "conversations", "memory", "video_context", "videos"].map((t) => env.DB.prepare(`DELETE FROM ${t}`)),
    );

    const refused = await at(now, "POST", `/admin/backups/${id}/restore`, { body: { target: "main", confirm: true } });
    expect(refused.status).toBe(409);
    expect((await at(now, "POST", `/admin/backups/${id}/restore`, { body: { target: "main", force: true } })).status).toBe(428);
    const done = await restore(id, { target: "main", force: true, confirm: true });
    expect(done.body.run.status, JSON.stringify(done.body)).toBe("succeeded");
    expect(done.body.verified).toBe(true);
    expect(await digests(env.DB)).toEqual(before.data);
    expect(await schemaText(env.DB)).toEqual(before.schema);
  });

  it("an R2 failure at any object is retried by its step and the backup completes; one that persists leaves no manifest", async () => {
    await seedSome(5);
    for (const failOn of [1, 2, 5]) {
      const local = await runLocally({
        definition: backupJobDefinition,
        input: { requestedAt: now + failOn * 60_000 },
        bindings: { ...env, BACKUPS: failingBucket(env.BACKUPS, "put", failOn) },
      });
      expect(local.run?.status, `put #${failOn}`).toBe("succeeded");
      const id = JSON.parse(local.run?.counts ?? "{}").backup as string;
      expect((await at(now, "POST", `/admin/backups/${id}/verify`)).body.ok).toBe(true);
    }
    const before = await backupIds();
    const broken = await runLocally({
      definition: backupJobDefinition,
      input: { requestedAt: now + 10 * 60_000 },
      bindings: { ...env, BACKUPS: failingBucket(env.BACKUPS, "put", "every") },
    });
    expect(broken.run?.status).toBe("failed");
    expect(await backupIds()).toEqual(before);
  });

  it("a schema change between two steps fails the backup clearly and writes no manifest", async () => {
    await seedSome(2);
    const before = await backupIds();
    const table = `schema_change_${Math.random().toString(36).slice(2, 8)}`;
    const local = await runLocally({
      definition: backupJobDefinition,
      input: { requestedAt: now + 11 * 60_000 },
      beforeStep: async (name) => {
        if (name === "advance 1") await env.DB.prepare(`CREATE TABLE ${table} (a INTEGER)`).run();
      },
    });
    await env.DB.prepare(`DROP TABLE ${table}`).run();
    expect(local.run?.status).toBe("failed");
    expect(local.run?.error).toMatch(/the schema changed while backup \S+ was being written/);
    expect(local.steps).toEqual(["begin", "advance 1", "record failure"]);
    expect(await backupIds()).toEqual(before);
  });

  it("a multipart upload failing at part k is aborted and leaves no object; a clean write round-trips", async () => {
    const part = 5 * 1024 * 1024;
    const chunk = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
    for (const failOn of [1, 2, 3]) {
      const key = `test/multipart-${failOn}`;
      let calls = 0;
      const flaky = new Proxy(env.BACKUPS, {
        get(target, property) {
          const value = Reflect.get(target, property);
          if (property !== "createMultipartUpload") return typeof value === "function" ? value.bind(target) : value;
          return async (...args: Parameters<R2Bucket["createMultipartUpload"]>) => {
            const upload = await target.createMultipartUpload(...args);
            return new Proxy(upload, {
              get(u, p) {
                const member = Reflect.get(u, p);
                if (p !== "uploadPart") return typeof member === "function" ? member.bind(u) : member;
                return (...a: Parameters<R2MultipartUpload["uploadPart"]>) =>
                  ++calls === failOn ? Promise.reject(new Error("part lost")) : u.uploadPart(...a);
              },
            });
          };
        },
      });
      const writer = new ObjectWriter(flaky, key, part);
      await expect(
        (async () => {
          for (let i = 0; i < 16; i++) await writer.write(chunk);
          await writer.finish();
        })(),
      ).rejects.toThrow("part lost");
      expect(await env.BACKUPS.head(key)).toBeNull();
    }
    const writer = new ObjectWriter(env.BACKUPS, "test/multipart-ok", part);
    for (let i = 0; i < 16; i++) await writer.write(chunk);
    const sha256 = await writer.finish();
    const stored = await env.BACKUPS.get("test/multipart-ok");
    const bytes = new Uint8Array(await (stored as R2ObjectBody).arrayBuffer());
    expect(bytes.byteLength).toBe(16 * chunk.byteLength);
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    expect(digest).toBe(sha256);
  });

  it("handles pages whose SQL does not compress (frames stay under workerd's zstd output limit)", async () => {
    const video = await seedVideo();
    const noise = () => [...crypto.getRandomValues(new Uint8Array(600))].map((b) => b.toString(36)).join("");
    for (let batch = 0; batch < 4; batch++) {
      await env.DB.batch(
        Array.from({ length: 50 }, (_, i) =>
          env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, ?, ?, 1)").bind(
            video.id,
            batch * 50 + i,
            `é ${noise()}`,
          ),
        ),
      );
    }
    const created = await backupNow(now + 8 * 60_000);
    expect(created.body.complete, JSON.stringify(created.body.run)).toBe(true);
    const id = created.body.backup_id as string;
    expect((await at(now, "POST", `/admin/backups/${id}/verify`)).body.ok).toBe(true);
    const restored = await restore(id, { target: "scratch", force: true });
    expect(restored.body.verified, JSON.stringify(restored.body)).toBe(true);
  });

  it("verify reports a corrupted object; the list shows each backup's latest verify, passed or failed", async () => {
    await seedSome(3);
    const sound = (await backupNow(now + 6 * 60_000)).body.backup_id as string;
    const id = (await backupNow(now + 7 * 60_000)).body.backup_id as string;
    const lastCheck = async (backup: string) =>
      (await at(now, "GET", "/admin/backups", { token: "read" })).body.items.find((b: { id: string }) => b.id === backup)
        .last_check;
    expect(await lastCheck(id)).toBeNull();

    expect((await at(now + 60_000, "POST", `/admin/backups/${sound}/verify`)).body.ok).toBe(true);
    expect((await at(now + 60_000, "POST", `/admin/backups/${id}/verify`)).body.ok).toBe(true);
    expect(await lastCheck(id)).toEqual({
      kind: "verify",
      at: new Date(now + 60_000).toISOString(),
      ok: true,
      problems: 0,
      summary: null,
    });

    const manifest = (await at(now, "GET", `/admin/backups/${id}`)).body;
    const victim = manifest.objects.find((o: { kind: string }) => o.kind === "data").key as string;
    const original = new Uint8Array(await ((await env.BACKUPS.get(victim)) as R2ObjectBody).arrayBuffer());
    original[Math.floor(original.length / 2)] ^= 0xff;
    await env.BACKUPS.put(victim, original);
    const verify = await at(now + 120_000, "POST", `/admin/backups/${id}/verify`);
    expect(verify.body.ok).toBe(false);
    expect(verify.body.problems.join("\n")).toContain(victim);
    expect(verify.body.checked_at).toBe(new Date(now + 120_000).toISOString());

    const failed = await lastCheck(id);
    expect(failed).toMatchObject({ kind: "verify", at: new Date(now + 120_000).toISOString(), ok: false });
    expect(failed.problems).toBe(verify.body.problems.length);
    expect(failed.summary).toContain(victim);
    expect(await lastCheck(sound)).toMatchObject({ ok: true, at: new Date(now + 60_000).toISOString() });

    // A drill records through the same call; the list then shows the drill as the latest check.
    await recordBackupCheck({
      ctx: contextOn(env.DB),
      input: { backupId: sound, kind: "drill", problems: ["table videos: 2 rows in its objects, the manifest says 3"] },
    });
    expect(await lastCheck(sound)).toMatchObject({
      kind: "drill",
      ok: false,
      problems: 1,
      summary: "table videos: 2 rows in its objects, the manifest says 3",
    });
  });

  it("prune keeps what the rules say and never the newest backup; leftovers of failed runs go too", async () => {
    const base = Date.UTC(2032, 0, 1);
    const ids: string[] = [];
    for (let day = 0; day < 4; day++) ids.push((await backupNow(base + day * 86_400_000)).body.backup_id);
    const later = base + 10 * 86_400_000;
    expect((await at(later, "POST", "/admin/backups/prune", { body: { keepLast: 0 } })).status).toBe(428);
    const dry = await at(later, "POST", "/admin/backups/prune", { body: { keepLast: 0, keepDays: 0, dryRun: true } });
    expect(dry.body.keep.map((k: { id: string }) => k.id)).toContain(ids[3]);
    expect((await at(later, "POST", `/admin/backups/${ids[0]}/verify`)).body.ok).toBe(true);
    const checksOf = async (id: string) =>
      (await env.DB.prepare("SELECT count(*) AS n FROM keeper_backup_checks WHERE backup_id = ?").bind(id).first<{ n: number }>())
        ?.n;
    expect(await checksOf(ids[0])).toBe(1);
    const done = await at(later, "POST", "/admin/backups/prune", { body: { keepLast: 2, confirm: true } });
    expect(done.body.deleted).toEqual(expect.arrayContaining([ids[0], ids[1]]));
    expect(await checksOf(ids[0])).toBe(0);
    const left = (await at(later, "GET", "/admin/backups")).body.items.map((b: { id: string }) => b.id);
    expect(left).toEqual(expect.arrayContaining([ids[2], ids[3]]));
    expect(left).not.toContain(ids[0]);
  });

  it("answers bad input with a clear problem and changes nothing", async () => {
    expect((await at(now, "GET", "/admin/backups/not-an-id")).status).toBe(400);
    expect((await at(now, "GET", "/admin/backups/20990101T000000Z-abcd")).status).toBe(404);
    const id = (await backupNow(now + 9 * 60_000)).body.backup_id as string;
    expect((await at(now, "POST", `/admin/backups/${id}/restore`, { body: { tables: ["nope"] } })).status).toBe(422);
    expect((await at(now, "POST", `/admin/backups/${id}/restore`, { body: { target: "elsewhere" } })).status).toBe(422);
    expect((await at(now, "POST", "/admin/backups/prune", { body: { keepDays: -1, confirm: true } })).status).toBe(422);
    expect((await at(now, "POST", "/admin/backups", { body: { budgetMs: 1 } })).status).toBe(422);
  });
});
