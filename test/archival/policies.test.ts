import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RETENTION_JOB } from "../../src/archival/policies.service";
import { resolvePolicy } from "../../src/archival/policy";
import { retentionJobDefinition } from "../../src/archival/retention-job";
import { jobsByCron } from "../../src/maintenance/jobs";
import { dispatchScheduled } from "../../src/maintenance/scheduled";
import { parseConfig } from "../../src/platform/config";
import { seedConversation, seedVideo } from "../support/factories";
import { runLocally, waitForRun } from "../support/jobs";
import { at, atUntilDone, count, DAY, failingBucket, mediaKeys, putMedia } from "./support";

/**
 * Each test runs at its own fixed clock far from the others' and asserts only on rows it seeded,
 * since the file's tests share one database.
 */
describe("conversation archive", () => {
  it("moves only idle conversations to R2 with a manifest, and they can be found and restored", async () => {
    const now = Date.UTC(2032, 0, 10);
    const video = await seedVideo();
    const old = await seedConversation(video.id, { updatedAt: now - 45 * DAY, messages: 4 });
    const fresh = await seedConversation(video.id, { updatedAt: now - 2 * DAY, messages: 1 });

    const dry = await at(now, "POST", "/admin/archival/archive-conversations", { body: { dryRun: true, archiveDays: 30 } });
    expect(dry.body.plan.archive.conversations).toBeGreaterThanOrEqual(1);
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(1);
    expect((await at(now, "POST", "/admin/archival/archive-conversations", { body: { archiveDays: 30 } })).status).toBe(428);

    const run = await atUntilDone(now, "/admin/archival/archive-conversations", { body: { archiveDays: 30, confirm: true } });
    expect(run.status).toBe(200);
    expect(run.body.run.status).toBe("succeeded");
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", old.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", fresh.id)).toBe(1);

    const found = await at(now, "GET", `/admin/archival/archived-conversations?video_id=${video.id}`, { token: "read" });
    expect(found.body.items.map((item: { conversation_id: string }) => item.conversation_id)).toEqual([old.id]);
    const key = found.body.items[0].archive_key as string;
    expect(key).toMatch(/^archives\/conversations\/2032\/01\/10\/.+\.jsonl\.gz$/);
    const manifest = (await (await env.BACKUPS.get(`${key}.manifest.json`))?.json()) as {
      conversation_ids: string[];
      sha256: string;
    };
    expect(manifest.conversation_ids).toContain(old.id);

    const restored = await at(now, "POST", `/admin/archival/archived-conversations/${old.id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body.messages).toBe(4);
    expect(await count("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", old.id)).toBe(4);
    expect((await at(now, "POST", `/admin/archival/archived-conversations/${old.id}/restore`)).status).toBe(409);
    expect((await at(now, "POST", "/admin/archival/archived-conversations/never-archived/restore")).status).toBe(404);
  });

  it("a restored conversation gets a fresh updated_at, so the next night does not archive it again", async () => {
    const now = Date.UTC(2032, 2, 10);
    const video = await seedVideo();
    const old = await seedConversation(video.id, { updatedAt: now - 45 * DAY, messages: 2 });
    expect(
      (await atUntilDone(now, "/admin/archival/archive-conversations", { body: { archiveDays: 30, confirm: true } })).body.run
        .status,
    ).toBe("succeeded");
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(0);

    const restoredAt = now + 3_600_000;
    expect((await at(restoredAt, "POST", `/admin/archival/archived-conversations/${old.id}/restore`)).status).toBe(200);
    expect(await count("SELECT updated_at AS n FROM conversations WHERE id = ?", old.id)).toBe(restoredAt);
    const nextNight = restoredAt + DAY;
    expect(
      (await atUntilDone(nextNight, "/admin/archival/archive-conversations", { body: { archiveDays: 30, confirm: true } })).body
        .run.status,
    ).toBe("succeeded");
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(1);
  });

  it("leaves every conversation in D1 when R2 keeps failing, and the run records the failure", async () => {
    const now = Date.UTC(2033, 0, 10);
    const video = await seedVideo();
    const old = await seedConversation(video.id, { updatedAt: now - 400 * DAY, messages: 2 });
    const policy = resolvePolicy(env as unknown as Record<string, unknown>, {
      archiveDays: 300,
      purge: false,
      cleanup: false,
      optimize: false,
    });
    const local = await runLocally({
      definition: retentionJobDefinition,
      input: { policy, requestedAt: now },
      bindings: { ...env, BACKUPS: failingBucket(env.BACKUPS, "put", "every") },
      now,
    });
    expect(local.run?.status).toBe("failed");
    expect(local.run?.error).toMatch(/R2 put failed/);
    expect(local.steps).toEqual(["begin", "advance 1", "record failure"]);
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", old.id)).toBe(2);
    expect(await count("SELECT count(*) AS n FROM keeper_archived_conversations WHERE conversation_id = ?", old.id)).toBe(0);
  });
});

describe("orphan files", () => {
  it("are deleted only once older than the grace period: an upload may precede its video's row", async () => {
    const orphan = `never-inserted-${Math.random().toString(36).slice(2, 10)}`;
    const keys = await putMedia(orphan);
    const uploadedAt = Date.now();
    const early = await at(uploadedAt + 60 * 60_000, "POST", "/admin/archival/cleanup", { body: { confirm: true } });
    expect(early.status).toBe(200);
    expect(early.body.media.videos).not.toContain(orphan);
    expect(await mediaKeys(orphan)).toEqual(keys.sort());
    const late = await at(uploadedAt + 2 * DAY, "POST", "/admin/archival/cleanup", { body: { confirm: true } });
    expect(late.body.media.videos).toContain(orphan);
    expect(await mediaKeys(orphan)).toEqual([]);
  });
});

describe("retention policies", () => {
  it("touch only rows past each cutoff, honour category windows, and change nothing the second time", async () => {
    const now = Date.UTC(2034, 2, 1);
    const oldDeleted = await seedVideo({ deletedAt: now - 8 * DAY });
    const recentDeleted = await seedVideo({ deletedAt: now - 6 * DAY });
    const camera = await seedVideo({ deletedAt: now - 3 * DAY, category: "surveillance" });
    const live = await seedVideo();
    await putMedia(oldDeleted.id);
    const idle = await seedConversation(live.id, { updatedAt: now - 31 * DAY, messages: 1 });
    const active = await seedConversation(live.id, { updatedAt: now - 29 * DAY, messages: 1 });

    const body = { confirm: true, categories: { surveillance: { deleteDays: 2 } } };
    const first = await atUntilDone(now, "/admin/archival/apply-policies", { body });
    expect(first.status).toBe(200);
    expect(first.body.run).toMatchObject({ status: "succeeded", job: RETENTION_JOB });
    const exists = async (id: string) => count("SELECT count(*) AS n FROM videos WHERE id = ?", id);
    expect(await exists(oldDeleted.id)).toBe(0);
    expect(await exists(camera.id)).toBe(0);
    expect(await exists(recentDeleted.id)).toBe(1);
    expect(await exists(live.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", idle.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id = ?", active.id)).toBe(1);

    const second = await atUntilDone(now, "/admin/archival/apply-policies", { body });
    expect(second.body.run.counts).toMatchObject({
      videos_purged: 0,
      conversations_archived: 0,
      orphan_rows: 0,
      orphan_media: 0,
    });
  });

  it("status shows what each policy would do and the last run", async () => {
    const now = Date.UTC(2035, 0, 1);
    const due = await seedVideo({ deletedAt: now - 30 * DAY });
    const res = await at(now, "GET", "/admin/archival/status?delete_days=7", { token: "read" });
    expect(res.status).toBe(200);
    expect(res.body.purge.video_ids).toContain(due.id);
    expect(res.body.policy).toMatchObject({ deleteDays: 7, archiveDays: 30 });
    expect(res.body).toHaveProperty("last_run");
  });

  it("rejects silly input with a clear problem and changes nothing", async () => {
    const now = Date.UTC(2036, 0, 1);
    const due = await seedVideo({ deletedAt: now - 30 * DAY });
    for (const body of [
      { confirm: true, deleteDays: -1 },
      { confirm: true, deleteDays: 0 },
      { confirm: true, archiveDays: 1.5 },
      { confirm: true, categories: { "Bad Name": { deleteDays: 3 } } },
      { confirm: true, unknown: 1 },
    ]) {
      const res = await at(now, "POST", "/admin/archival/apply-policies", { body });
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    expect((await at(now, "POST", "/admin/archival/apply-policies", { body: {} })).status).toBe(428);
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", due.id)).toBe(1);
  });

  it("two manual runs at once: one job starts, the other request gets that same run", async () => {
    const now = Date.UTC(2037, 0, 1);
    await seedVideo({ deletedAt: now - 30 * DAY });
    const [a, b] = await Promise.all([
      at(now, "POST", "/admin/archival/apply-policies", { body: { confirm: true } }),
      at(now, "POST", "/admin/archival/apply-policies", { body: { confirm: true } }),
    ]);
    expect([a.body.started, b.body.started].sort()).toEqual([false, true]);
    expect(a.body.run.id).toBe(b.body.run.id);
    expect((await waitForRun(a.body.run.id)).status).toBe("succeeded");
  });

  it("runs from the cron trigger through the shared dispatcher", async () => {
    expect(jobsByCron["30 3 * * *"].map((job) => job.name)).toEqual([RETENTION_JOB]);
    const now = Date.UTC(2038, 0, 1);
    const due = await seedVideo({ deletedAt: now - 30 * DAY });
    const controller = createScheduledController({ cron: "30 3 * * *", scheduledTime: now });
    const runs = await dispatchScheduled({
      controller,
      env,
      config: parseConfig(env as unknown as Record<string, unknown>),
      jobs: jobsByCron,
      deps: { now: () => new Date(now) },
    });
    expect(runs.map((run) => [run.job, run.trigger, run.status])).toEqual([[RETENTION_JOB, "cron", "running"]]);
    expect((await waitForRun(runs[0].id)).status).toBe("succeeded");
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", due.id)).toBe(0);
  });
});
