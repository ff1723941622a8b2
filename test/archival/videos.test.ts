import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { seedContext, seedConversation, seedVideo, tableCounts } from "../support/factories";
import { tokens } from "../support/http";
import { at, auditActions, count, failingBucket, mediaKeys, putMedia } from "./support";

const now = Date.UTC(2031, 5, 1);

describe("soft delete, restore, list deleted", () => {
  it("hides a video, lists it with its age, restores it, and repeats safely", async () => {
    const video = await seedVideo();
    const first = await at(now, "POST", `/admin/archival/videos/${video.id}/soft-delete`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ changed: true, video: { id: video.id, deleted_at: new Date(now).toISOString() } });
    const again = await at(now + 1000, "POST", `/admin/archival/videos/${video.id}/soft-delete`);
    expect(again.body.changed).toBe(false);
    expect(await auditActions(video.id)).toEqual(["archival.soft-delete"]);

    const listed = await at(now + 3 * 86_400_000, "GET", "/admin/archival/deleted?limit=200", { token: "read" });
    const entry = listed.body.items.find((item: { id: string }) => item.id === video.id);
    expect(entry.deleted_days_ago).toBe(3);

    expect((await at(now, "GET", `/v1/videos/${video.id}`)).status).toBe(404);
    const restored = await at(now, "POST", `/admin/archival/videos/${video.id}/restore`);
    expect(restored.body).toMatchObject({ changed: true, video: { deleted_at: null } });
    expect((await at(now, "POST", `/admin/archival/videos/${video.id}/restore`)).body.changed).toBe(false);
    expect((await at(now, "GET", `/v1/videos/${video.id}`)).status).toBe(200);
    expect(await auditActions(video.id)).toEqual(["archival.soft-delete", "archival.restore"]);
  });

  it("a restore that loses a race to a re-delete answers 409 and writes no audit row", async () => {
    const video = await seedVideo();
    await at(now, "POST", `/admin/archival/videos/${video.id}/soft-delete`);
    // The video is deleted again (a new deleted_at) between the restore's read and its write.
    const app = createApp({
      now: () => new Date(now),
      wrapD1: (d1) =>
        new Proxy(d1, {
          get(target, property) {
            if (property !== "batch") return Reflect.get(target, property).bind(target);
            return async (statements: D1PreparedStatement[]) => {
              await target.prepare("UPDATE videos SET deleted_at = deleted_at + 1 WHERE id = ?").bind(video.id).run();
              return target.batch(statements);
            };
          },
        }),
    });
    const res = await app.request(
      `/admin/archival/videos/${video.id}/restore`,
      { method: "POST", headers: { Authorization: `Bearer ${tokens.admin}` } },
      env,
    );
    expect(res.status).toBe(409);
    expect(await auditActions(video.id)).toEqual(["archival.soft-delete"]);
  });

  it("404s an unknown video and needs the admin scope", async () => {
    expect((await at(now, "POST", "/admin/archival/videos/nope/soft-delete")).status).toBe(404);
    expect((await at(now, "POST", "/admin/archival/videos/nope/restore")).status).toBe(404);
    const video = await seedVideo();
    expect((await at(now, "POST", `/admin/archival/videos/${video.id}/soft-delete`, { token: "write" })).status).toBe(403);
  });
});

describe("permanent delete (purge)", () => {
  async function videoWithEverything() {
    const video = await seedVideo({ deletedAt: now - 10 * 86_400_000 });
    await seedContext(video.id, { timestamp: 1 });
    await seedContext(video.id, { timestamp: null });
    await env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, 1, 'm', 1)")
      .bind(video.id)
      .run();
    await seedConversation(video.id, { messages: 3 });
    const keys = await putMedia(video.id);
    return { ...video, keys };
  }

  it("dry run reports the exact counts and keys and changes nothing", async () => {
    const video = await videoWithEverything();
    const before = await tableCounts();
    const dry = await at(now, "POST", `/admin/archival/videos/${video.id}/purge`, { body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body.counts).toEqual({ videos: 1, video_context: 2, memory: 1, conversations: 1, messages: 3 });
    expect(dry.body.media.keys.sort()).toEqual([...video.keys].sort());
    expect(await tableCounts()).toEqual(before);
    expect(await mediaKeys(video.id)).toHaveLength(3);
  });

  it("needs confirm (428), refuses a live video without force (409), then removes everything with an audit row", async () => {
    const video = await videoWithEverything();
    expect((await at(now, "POST", `/admin/archival/videos/${video.id}/purge`, { body: {} })).status).toBe(428);
    const live = await seedVideo();
    expect((await at(now, "POST", `/admin/archival/videos/${live.id}/purge`, { body: { confirm: true } })).status).toBe(409);

    const done = await at(now, "POST", `/admin/archival/videos/${video.id}/purge`, { body: { confirm: true } });
    expect(done.status).toBe(200);
    expect(done.body.media).toMatchObject({ deleted: 3, error: null });
    for (const table of ["video_context", "memory", "conversations"]) {
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE video_id = ?`, video.id)).toBe(0);
    }
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", video.id)).toBe(0);
    expect(await mediaKeys(video.id)).toEqual([]);
    expect(await auditActions(video.id)).toEqual(["archival.purge"]);
    expect((await at(now, "POST", `/admin/archival/videos/${video.id}/purge`, { body: { confirm: true } })).status).toBe(404);
  });

  it("when R2 fails after D1, says so, and orphan cleanup removes the files left behind", async () => {
    const video = await videoWithEverything();
    const res = await at(now, "POST", `/admin/archival/videos/${video.id}/purge`, {
      body: { confirm: true },
      env: { MEDIA: failingBucket(env.MEDIA, "delete", 1) },
    });
    expect(res.status).toBe(200);
    expect(res.body.media.error).toContain("orphan cleanup");
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", video.id)).toBe(0);
    expect(await mediaKeys(video.id)).toHaveLength(3);

    const dry = await at(now, "POST", "/admin/archival/cleanup", { body: { dryRun: true } });
    expect(dry.body.media.videos).toContain(video.id);
    expect(await mediaKeys(video.id)).toHaveLength(3);
    expect((await at(now, "POST", "/admin/archival/cleanup", { body: {} })).status).toBe(428);
    const cleaned = await at(now, "POST", "/admin/archival/cleanup", { body: { confirm: true } });
    expect(cleaned.body.media.videos).toContain(video.id);
    expect(await mediaKeys(video.id)).toEqual([]);
  });

  it("a restore once the purge has started is refused (409) and the purge finishes; every position: test/hardening/faults.test.ts", async () => {
    const video = await videoWithEverything();
    let restoreStatus = 0;
    const racing = (d1: D1Database) =>
      ({
        ...d1,
        batch: (statements: D1PreparedStatement[]) => d1.batch(statements),
        prepare: (sql: string) => {
          const statement = d1.prepare(sql);
          if (!sql.startsWith("DELETE FROM messages")) return statement;
          return {
            bind: (...values: unknown[]) => ({
              run: async () => {
                if (restoreStatus === 0)
                  restoreStatus = (await at(now, "POST", `/admin/archival/videos/${video.id}/restore`)).status;
                return statement.bind(...values).run();
              },
            }),
          };
        },
      }) as unknown as D1Database;
    const res = await createApp({ now: () => new Date(now), wrapD1: racing }).request(
      `/admin/archival/videos/${video.id}/purge`,
      {
        method: "POST",
        headers: { Authorization: `Bearer ${tokens.admin}`, "Content-Type": "application/json" },
        body: '{"confirm":true}',
      },
      env,
    );
    expect(restoreStatus).toBe(409);
    expect(res.status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", video.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM video_context WHERE video_id = ?", video.id)).toBe(0);
    expect(await mediaKeys(video.id)).toEqual([]);
    expect(await auditActions(video.id)).toEqual(["archival.purge"]);
  });

  it("keeps the files of soft-deleted videos (they still exist)", async () => {
    const video = await seedVideo({ deletedAt: now });
    await putMedia(video.id);
    const cleaned = await at(now, "POST", "/admin/archival/cleanup", { body: { confirm: true } });
    expect(cleaned.body.media.videos).not.toContain(video.id);
    expect(await mediaKeys(video.id)).toHaveLength(3);
  });
});

describe("optimize", () => {
  it("runs PRAGMA optimize and reports sizes from D1's meta", async () => {
    const res = await at(now, "POST", "/admin/archival/optimize");
    expect(res.status).toBe(200);
    expect(res.body.size_before_bytes).toBeGreaterThan(0);
    expect(res.body.size_after_bytes).toBeGreaterThan(0);
    expect(res.body.note).toContain("VACUUM");
  });
});
