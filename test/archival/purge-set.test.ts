import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { purgeCandidates } from "../../src/archival/policies.service";
import {
  PURGE_BATCH_ROWS,
  PURGE_CHUNK_ROWS,
  PURGE_MEDIA_CONCURRENCY,
  PURGE_SET_SIZE,
  purgeDueVideos,
} from "../../src/archival/purge.service";
import { countD1Calls, countR2Calls } from "../../src/maintenance/budget";
import { parseConfig } from "../../src/platform/config";
import { createContext } from "../../src/platform/context";
import { seedContext, seedConversation, seedVideo } from "../support/factories";

const count = async (sql: string, ...binds: unknown[]) =>
  (
    (await env.DB.prepare(sql)
      .bind(...binds)
      .first<{ n: number }>()) as { n: number }
  ).n;

const ctx = () =>
  createContext(
    env,
    parseConfig(env as unknown as Record<string, unknown>),
    {},
    {
      requestId: "purge-set",
      principal: { actor: "test", scopes: ["admin"] },
    },
  );

describe("set-wise retention purge", () => {
  it("purges a full set with children, media and one audit row each; a video restored meanwhile keeps everything", async () => {
    const deletedAt = Date.UTC(2026, 0, 1);
    const due: { id: string; deleted_at: number }[] = [];
    for (let i = 0; i < PURGE_SET_SIZE - 1; i++) {
      const { id } = await seedVideo({ deletedAt });
      await seedContext(id);
      due.push({ id, deleted_at: deletedAt });
    }
    const withEverything = due[0].id;
    await seedConversation(withEverything, { messages: 2 });
    await env.MEDIA.put(`videos/${withEverything}/frames/1.jpg`, "x");
    const restored = await seedVideo();
    await seedContext(restored.id);
    due.push({ id: restored.id, deleted_at: deletedAt });

    const result = await purgeDueVideos({ ctx: ctx(), input: { videos: due, reason: "test" } });

    expect(result.purged).toHaveLength(PURGE_SET_SIZE - 1);
    expect(result.purged).not.toContain(restored.id);
    // Each purged video: its row + one context row; the first also a conversation with two messages.
    expect(result.rows).toBe((PURGE_SET_SIZE - 1) * 2 + 3);
    expect(result.mediaDeleted).toBe(1);
    // One JSON parameter: a set holds more ids than D1's 100 bound parameters.
    const ids = JSON.stringify(due.slice(0, -1).map((v) => v.id));
    const inList = "SELECT value FROM json_each(?)";
    expect(await count(`SELECT count(*) AS n FROM videos WHERE id IN (${inList})`, ids)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM video_context WHERE video_id IN (${inList})`, ids)).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM keeper_audit_log WHERE action = 'archival.purge' AND target IN (${inList})`, ids),
    ).toBe(PURGE_SET_SIZE - 1);
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", restored.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM video_context WHERE video_id = ?", restored.id)).toBe(1);
    expect((await env.MEDIA.list({ prefix: `videos/${withEverything}/` })).objects).toHaveLength(0);

    const again = await purgeDueVideos({ ctx: ctx(), input: { videos: due, reason: "test" } });
    expect(again).toEqual({ purged: [], rows: 0, mediaDeleted: 0, mediaErrors: 0 });
  });
});

describe("what a set purge costs", () => {
  it("a full set of small videos without files: two D1 queries and one R2 listing", async () => {
    const deletedAt = Date.UTC(2026, 0, 1);
    const due: { id: string; deleted_at: number }[] = [];
    for (let i = 0; i < PURGE_SET_SIZE; i++) {
      const { id } = await seedVideo({ deletedAt });
      await seedContext(id);
      due.push({ id, deleted_at: deletedAt });
    }
    const calls = { queries: 0, r2: 0 };
    const counted = createContext(
      { ...env, DB: countD1Calls(env.DB, () => calls.queries++), MEDIA: countR2Calls(env.MEDIA, () => calls.r2++) },
      parseConfig(env as unknown as Record<string, unknown>),
      {},
      { requestId: "purge-set-cost", principal: { actor: "test", scopes: ["admin"] } },
    );

    const result = await purgeDueVideos({ ctx: counted, input: { videos: due, reason: "test" } });

    expect(result.purged).toHaveLength(PURGE_SET_SIZE);
    expect(result.rows).toBe(PURGE_SET_SIZE * 2);
    // The claim with the counts, then the cascading deletes with the audit rows; one listing of MEDIA.
    expect(calls).toEqual({ queries: 2, r2: 1 });
  });

  it("a video owning more than a chunk loses its children in chunks first; counts and audit stay exact", async () => {
    const deletedAt = Date.UTC(2026, 0, 1);
    const big = await seedVideo({ deletedAt });
    const small = await seedVideo({ deletedAt });
    await seedContext(small.id);
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO memory (video_id, timestamp, content, created_at) SELECT ?, 1.0 * i, 'seen ' || i, 0 FROM n`,
    )
      .bind(PURGE_CHUNK_ROWS + 10, big.id)
      .run();
    let queries = 0;
    const counted = createContext(
      { ...env, DB: countD1Calls(env.DB, () => queries++) },
      parseConfig(env as unknown as Record<string, unknown>),
      {},
      { requestId: "purge-set-big", principal: { actor: "test", scopes: ["admin"] } },
    );

    const result = await purgeDueVideos({
      ctx: counted,
      input: {
        videos: [big, small].map((video) => ({ id: video.id, deleted_at: deletedAt })),
        reason: "test",
      },
    });

    expect(result.purged).toEqual([big.id, small.id]);
    expect(result.rows).toBe(1 + PURGE_CHUNK_ROWS + 10 + 1 + 1);
    // Claim and counts, one chunk of the big video's memory, then one batch for both videos.
    expect(queries).toBe(3);
    expect(await count("SELECT count(*) AS n FROM memory WHERE video_id = ?", big.id)).toBe(0);
    const audit = await env.DB.prepare(
      "SELECT target, detail FROM keeper_audit_log WHERE action = 'archival.purge' AND target IN (?, ?) ORDER BY id",
    )
      .bind(big.id, small.id)
      .all<{ target: string; detail: string }>();
    expect(audit.results.map((row) => [row.target, JSON.parse(row.detail)])).toEqual([
      [big.id, { videos: 1, video_context: 0, memory: PURGE_CHUNK_ROWS + 10, conversations: 0, messages: 0, reason: "test" }],
      [small.id, { videos: 1, video_context: 1, memory: 0, conversations: 0, messages: 0, reason: "test" }],
    ]);
  });
});

describe("how a set purge splits its deletes", () => {
  it("one cascading statement per group of at most PURGE_CHUNK_ROWS children, groups in batches of at most PURGE_BATCH_ROWS", async () => {
    const deletedAt = Date.UTC(2026, 0, 1);
    // Each video's children fill most of a chunk, so each is a group of its own.
    const perVideo = Math.floor(PURGE_CHUNK_ROWS * 0.9);
    const groupsPerBatch = Math.floor(PURGE_BATCH_ROWS / perVideo);
    const videos = [];
    for (let i = 0; i < groupsPerBatch + 1; i++) {
      const video = await seedVideo({ deletedAt });
      await env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO memory (video_id, timestamp, content, created_at) SELECT ?, 1.0 * i, 'seen ' || i, 0 FROM n`,
      )
        .bind(perVideo, video.id)
        .run();
      videos.push({ id: video.id, deleted_at: deletedAt });
    }
    const statements: string[] = [];
    let queries = 0;
    const counted = createContext(
      {
        ...env,
        DB: countD1Calls(
          new Proxy(env.DB, {
            get(target, property) {
              const value = Reflect.get(target, property);
              if (property === "prepare")
                return (sql: string) => {
                  statements.push(sql);
                  return target.prepare(sql);
                };
              return typeof value === "function" ? value.bind(target) : value;
            },
          }),
          () => queries++,
        ),
      },
      parseConfig(env as unknown as Record<string, unknown>),
      {},
      { requestId: "purge-set-split", principal: { actor: "test", scopes: ["admin"] } },
    );

    const result = await purgeDueVideos({ ctx: counted, input: { videos, reason: "test" } });

    expect(result.purged).toHaveLength(videos.length);
    expect(result.rows).toBe(videos.length * (1 + perVideo));
    // The claim with the counts, then a full batch of groups, then one more for the last group.
    expect(queries).toBe(3);
    expect(statements.filter((sql) => sql.startsWith("DELETE FROM videos"))).toHaveLength(videos.length);
    expect(statements.filter((sql) => sql.startsWith("DELETE FROM memory"))).toHaveLength(0);
    expect(
      await count(
        "SELECT count(*) AS n FROM memory WHERE video_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(videos.map((v) => v.id)),
      ),
    ).toBe(0);
  });
});

describe("files of a purged set", () => {
  it("only videos with files are listed and deleted, PURGE_MEDIA_CONCURRENCY at a time", async () => {
    const deletedAt = Date.UTC(2026, 0, 1);
    const due: { id: string; deleted_at: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const { id } = await seedVideo({ deletedAt });
      due.push({ id, deleted_at: deletedAt });
      if (i % 2 === 0) await env.MEDIA.put(`videos/${id}/frames/1.jpg`, "x");
    }
    // Every call waits a little, so calls started together are in flight together.
    let inFlight = 0;
    let most = 0;
    const calls: string[] = [];
    const slowBucket = new Proxy(env.MEDIA, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          calls.push(String(property));
          inFlight++;
          most = Math.max(most, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 20));
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            inFlight--;
          }
        };
      },
    });
    const slow = createContext(
      { ...env, MEDIA: slowBucket },
      parseConfig(env as unknown as Record<string, unknown>),
      {},
      { requestId: "purge-set-media", principal: { actor: "test", scopes: ["admin"] } },
    );

    const result = await purgeDueVideos({ ctx: slow, input: { videos: due, reason: "test" } });

    expect(result).toMatchObject({ mediaDeleted: 6, mediaErrors: 0 });
    expect(result.purged).toHaveLength(12);
    // One listing of prefixes, then a listing and a delete per video with files.
    expect(calls.filter((call) => call === "list")).toHaveLength(1 + 6);
    expect(calls.filter((call) => call === "delete")).toHaveLength(6);
    expect(most).toBe(PURGE_MEDIA_CONCURRENCY);
    for (const { id } of due) expect((await env.MEDIA.list({ prefix: `videos/${id}/` })).objects).toHaveLength(0);
  });
});

describe("purge candidates", () => {
  it("a long run of not-yet-due videos of a longer-window category does not hide a due one after them", async () => {
    const now = Date.UTC(2030, 0, 1);
    const fixed = { ...ctx(), now: () => new Date(now) };
    for (let i = 0; i < PURGE_SET_SIZE + 5; i++) {
      await seedVideo({ deletedAt: now - 100 * 86_400_000 - 1000 + i, category: "keep" });
    }
    const due = await seedVideo({ deletedAt: now - 50 * 86_400_000, category: "lecture" });
    const policy = {
      archiveDays: 30,
      deleteDays: 7,
      categories: { keep: { deleteDays: 3650 } },
      archive: false,
      purge: true,
      cleanup: false,
      optimize: false,
    };
    const candidates = await purgeCandidates(fixed, policy, PURGE_SET_SIZE);
    expect(candidates.map((c) => c.id)).toContain(due.id);
    expect(candidates.every((c) => c.category !== "keep")).toBe(true);
  });

  it("a video restored and deleted again after it was selected is not purged, and keeps its children", async () => {
    const selectedAt = Date.UTC(2026, 0, 2);
    const { id } = await seedVideo({ deletedAt: selectedAt });
    await seedContext(id);
    await seedConversation(id, { messages: 2 });
    // Selected as due with deleted_at = selectedAt; then restored and deleted again.
    await env.DB.prepare("UPDATE videos SET deleted_at = NULL WHERE id = ?").bind(id).run();
    await env.DB.prepare("UPDATE videos SET deleted_at = ? WHERE id = ?")
      .bind(selectedAt + 1000, id)
      .run();
    const result = await purgeDueVideos({ ctx: ctx(), input: { videos: [{ id, deleted_at: selectedAt }], reason: "test" } });
    expect(result.purged).toEqual([]);
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM video_context WHERE video_id = ?", id)).toBe(1);
    expect(
      await count(
        "SELECT count(*) AS n FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE video_id = ?)",
        id,
      ),
    ).toBe(2);
  });
});
