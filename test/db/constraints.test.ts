import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { seedVideo, uniqueId } from "../support/factories";

/**
 * The same rules as the API's validators, enforced by D1 itself (its CHECKs, and the triggers of
 * migration 0004, which fire first; test/db/stored-rules.test.ts proves the full set): writes that bypass the Worker
 * (wrangler d1 execute, another service) are refused too.
 */
async function refused(sql: string, ...params: unknown[]): Promise<string> {
  try {
    await env.DB.prepare(sql)
      .bind(...params)
      .run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`accepted: ${sql} ${JSON.stringify(params)}`);
}

const insertVideo =
  "INSERT INTO videos (id, filename, file_path, duration, created_at, updated_at, metadata) VALUES (?, ?, ?, ?, 1, 1, ?)";

describe("videos constraints", () => {
  it.each([
    ["duration > 0", ["f.mp4", "/p", 0, null], /rule failed: videos\.duration/],
    ["duration numeric", ["f.mp4", "/p", "long", null], /rule failed: videos\.duration/],
    ["filename != ''", ["", "/p", 1, null], /rule failed: videos\.filename/],
    ["file_path != ''", ["f.mp4", "", 1, null], /rule failed: videos\.file_path/],
    ["metadata is JSON", ["f.mp4", "/p", 1, "{not json"], /rule failed: videos\.metadata/],
    ["filename NOT NULL", [null, "/p", 1, null], /rule failed: videos\.filename/],
  ])("%s", async (_label, values, message) => {
    const [filename, path, duration, metadata] = values as unknown[];
    const id = uniqueId("c");
    const uniquePath = path === "/p" ? `/p/${id}` : path;
    expect(await refused(insertVideo, id, filename, uniquePath, duration, metadata)).toMatch(message);
  });

  it("UNIQUE (file_path)", async () => {
    const video = await seedVideo();
    const path = (await env.DB.prepare("SELECT file_path FROM videos WHERE id = ?").bind(video.id).first<{ file_path: string }>())
      ?.file_path;
    expect(await refused(insertVideo, uniqueId("c"), "f.mp4", path, 1, null)).toMatch(
      /UNIQUE constraint failed: videos.file_path/,
    );
  });
});

describe("video_context constraints", () => {
  const insert =
    "INSERT INTO video_context (video_id, context_type, tool_name, timestamp, data, confidence, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, 1)";

  it("CHECK (timestamp IS NULL OR timestamp >= 0), confidence in [0, 1], data is JSON", async () => {
    const { id } = await seedVideo();
    expect(await refused(insert, id, "note", "t", -1, "{}", null)).toMatch(/rule failed: video_context\.timestamp/);
    expect(await refused(insert, id, "note", "t", 1, "{}", 1.5)).toMatch(/rule failed: video_context\.confidence/);
    expect(await refused(insert, id, "note", "t", 1, "{}", -0.01)).toMatch(/rule failed: video_context\.confidence/);
    expect(await refused(insert, id, "note", "t", 1, "nope", null)).toMatch(/rule failed: video_context\.data/);
    expect(await refused(insert, id, "", "t", 1, "{}", null)).toMatch(/rule failed: video_context\.context_type/);
  });

  it("UNIQUE (video_id, context_type, timestamp, tool_name), NULL timestamps included", async () => {
    const { id } = await seedVideo();
    await env.DB.prepare(insert).bind(id, "note", "t", 4, "{}", null).run();
    expect(await refused(insert, id, "note", "t", 4, "{}", null)).toMatch(/UNIQUE constraint failed/);
    await env.DB.prepare(insert).bind(id, "note", "t", null, "{}", null).run();
    expect(await refused(insert, id, "note", "t", null, "{}", null)).toMatch(/UNIQUE constraint failed/);
  });

  it("FOREIGN KEY to videos", async () => {
    expect(await refused(insert, "no-such-video", "note", "t", 1, "{}", null)).toMatch(/FOREIGN KEY constraint failed/);
  });
});

describe("memory, conversations, messages constraints", () => {
  it("refuse invalid rows", async () => {
    const { id } = await seedVideo();
    const mem = "INSERT INTO memory (video_id, timestamp, content, metadata, created_at) VALUES (?, ?, ?, ?, 1)";
    expect(await refused(mem, id, -1, "x", null)).toMatch(/rule failed: memory\.timestamp/);
    expect(await refused(mem, id, 1, "", null)).toMatch(/rule failed: memory\.content/);
    expect(await refused(mem, id, 1, "x", "[broken")).toMatch(/rule failed: memory\.metadata/);
    const conversation = uniqueId("conv");
    await env.DB.prepare("INSERT INTO conversations (id, video_id, created_at, updated_at) VALUES (?, ?, 1, 1)")
      .bind(conversation, id)
      .run();
    const msg = "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, 'hi', 1)";
    expect(await refused(msg, conversation, "robot")).toMatch(/messages_role_known/);
    expect(await refused(msg, "missing", "user")).toMatch(/FOREIGN KEY constraint failed/);
  });
});

describe("ON DELETE CASCADE", () => {
  it("removes every child of a deleted video", async () => {
    const { id } = await seedVideo();
    const now = Date.now();
    const conversation = uniqueId("conv");
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO video_context (video_id, context_type, tool_name, timestamp, data, created_at, updated_at) VALUES (?, 'note', 't', 1, '{}', ?, ?)",
      ).bind(id, now, now),
      env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, 1, 'x', ?)").bind(id, now),
      env.DB.prepare("INSERT INTO conversations (id, video_id, created_at, updated_at) VALUES (?, ?, ?, ?)").bind(
        conversation,
        id,
        now,
        now,
      ),
      env.DB.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'user', 'hi', ?)").bind(
        conversation,
        now,
      ),
    ]);
    await env.DB.prepare("DELETE FROM videos WHERE id = ?").bind(id).run();
    for (const [table, column, value] of [
      ["video_context", "video_id", id],
      ["memory", "video_id", id],
      ["conversations", "video_id", id],
      ["messages", "conversation_id", conversation],
    ]) {
      const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`)
        .bind(value)
        .first<{ n: number }>();
      expect(row?.n, table).toBe(0);
    }
  });
});
