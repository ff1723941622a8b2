import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { purgeVideo } from "../../src/archival/purge.service";
import { seedContext, seedConversation, seedVideo, tableCounts } from "../support/factories";
import { call, json } from "../support/http";
import { contextAt, countWhere, failingOnDelete, seedMedia } from "./support";

describe("soft delete, restore, list deleted", () => {
  it("hides a soft-deleted video from the data API and brings it back on restore", async () => {
    const { id } = await seedVideo();
    const deleted = await call("POST", `/admin/archival/videos/${id}/soft-delete`);
    expect(deleted.status).toBe(200);
    expect((await json(deleted)).changed).toBe(true);
    expect((await call("GET", `/v1/videos/${id}`, { token: "read" })).status).toBe(404);
    const again = await json(await call("POST", `/admin/archival/videos/${id}/soft-delete`));
    expect(again.changed).toBe(false);

    const list = await json<{ items: { id: string; age_days: number }[] }>(
      await call("GET", "/admin/archival/deleted?limit=200"),
    );
    expect(list.items.map((v) => v.id)).toContain(id);

    expect((await json(await call("POST", `/admin/archival/videos/${id}/restore`))).changed).toBe(true);
    expect((await call("GET", `/v1/videos/${id}`, { token: "read" })).status).toBe(200);
    const audits = await countWhere(
      "SELECT count(*) AS n FROM keeper_audit_log WHERE target = ? AND action LIKE 'archival.%'",
      id,
    );
    expect(audits).toBe(2);
  });

  it("requires admin scope and rejects an unknown id with no change", async () => {
    const { id } = await seedVideo();
    expect((await call("POST", `/admin/archival/videos/${id}/soft-delete`, { token: "write" })).status).toBe(403);
    const before = await tableCounts();
    const missing = await call("POST", "/admin/archival/videos/no-such-video/soft-delete");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("application/problem+json");
    expect(await tableCounts()).toEqual(before);
  });
});

describe("permanent delete", () => {
  async function seedFullVideo() {
    const { id } = await seedVideo({ deletedAt: Date.now() - 1000 });
    await seedContext(id);
    await seedContext(id);
    await env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, 1.0, 'x', 1)").bind(id).run();
    await seedConversation(id, { messages: 3 });
    const keys = await seedMedia(id);
    return { id, keys };
  }

  it("dry run reports the exact rows and keys and changes nothing", async () => {
    const { id, keys } = await seedFullVideo();
    const before = await tableCounts();
    const response = await call("POST", `/admin/archival/videos/${id}/purge`, { body: { dry_run: true } });
    expect(response.status).toBe(200);
    const body = await json<{ impact: { rows: Record<string, number>; media_keys: string[] } }>(response);
    expect(body.impact.rows).toEqual({ videos: 1, video_context: 2, memory: 1, conversations: 1, messages: 3 });
    expect(body.impact.media_keys.sort()).toEqual([...keys].sort());
    expect(await tableCounts()).toEqual(before);
  });

  it("refuses without confirmation (428), a live video (409), an unknown id (404), changing nothing", async () => {
    const { id } = await seedFullVideo();
    const live = await seedVideo();
    const before = await tableCounts();
    expect((await call("POST", `/admin/archival/videos/${id}/purge`, { body: {} })).status).toBe(428);
    expect((await call("POST", `/admin/archival/videos/${live.id}/purge`, { body: { confirm: true } })).status).toBe(409);
    expect((await call("POST", "/admin/archival/videos/nope/purge", { body: { confirm: true } })).status).toBe(404);
    expect((await call("POST", `/admin/archival/videos/${id}/purge`, { body: { confirm: "yes" } })).status).toBe(422);
    expect(await tableCounts()).toEqual(before);
    expect((await env.MEDIA.list({ prefix: `videos/${id}/` })).objects).toHaveLength(4);
  });

  it("deletes rows, objects and writes one audit row; repeating is a clean 404", async () => {
    const { id } = await seedFullVideo();
    const response = await call("POST", `/admin/archival/videos/${id}/purge`, { body: { confirm: true } });
    expect(response.status).toBe(200);
    const body = await json<{ deleted: Record<string, number> }>(response);
    expect(body.deleted).toEqual({ videos: 1, video_context: 2, memory: 1, conversations: 1, messages: 3, media_objects: 4 });
    expect(await countWhere("SELECT count(*) AS n FROM video_context WHERE video_id = ?", id)).toBe(0);
    expect((await env.MEDIA.list({ prefix: `videos/${id}/` })).objects).toHaveLength(0);
    expect(
      await countWhere("SELECT count(*) AS n FROM keeper_audit_log WHERE action = 'archival.purge' AND target = ?", id),
    ).toBe(1);
    expect((await call("POST", `/admin/archival/videos/${id}/purge`, { body: { confirm: true } })).status).toBe(404);
  });

  it("D1 goes first: when MEDIA deletes fail the objects are left for orphan cleanup, which removes them", async () => {
    const { id } = await seedFullVideo();
    const ctx = contextAt(Date.now(), { media: failingOnDelete(env.MEDIA) });
    const result = await purgeVideo({ ctx, input: { id, dryRun: false, confirm: true } });
    expect(result.deleted?.videos).toBe(1);
    expect(result.media_error).toContain("simulated");
    expect(await countWhere("SELECT count(*) AS n FROM videos WHERE id = ?", id)).toBe(0);
    expect((await env.MEDIA.list({ prefix: `videos/${id}/` })).objects).toHaveLength(4);

    const preview = await json<{ media_videos: string[] }>(
      await call("POST", "/admin/archival/cleanup", { body: { dry_run: true } }),
    );
    expect(preview.media_videos).toContain(id);
    const cleaned = await call("POST", "/admin/archival/cleanup", { body: { confirm: true } });
    expect(cleaned.status).toBe(200);
    expect((await env.MEDIA.list({ prefix: `videos/${id}/` })).objects).toHaveLength(0);
  });

  it("purges more children than one chunk", async () => {
    const { id } = await seedVideo({ deletedAt: Date.now() - 1000 });
    const rows = 2100;
    const statements = Array.from({ length: rows }, (_, i) =>
      env.DB.prepare(
        "INSERT INTO video_context (video_id, context_type, tool_name, timestamp, data, created_at, updated_at) VALUES (?, 'scene', 't', ?, '{}', 1, 1)",
      ).bind(id, i),
    );
    for (let i = 0; i < statements.length; i += 500) await env.DB.batch(statements.slice(i, i + 500));
    const result = await purgeVideo({ ctx: contextAt(Date.now()), input: { id, dryRun: false, confirm: true } });
    expect(result.deleted?.video_context).toBe(rows);
  });
});
