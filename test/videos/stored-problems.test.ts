import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeCursor } from "../../src/platform/cursor";
import { seedConversation, seedVideo, uniqueId } from "../support/factories";
import { call, json } from "../support/http";

/**
 * Rows written around the API before D1 enforced its rules (migration 0004) must not break reads.
 * The trigger is dropped and re-created around the insert in one batch (one transaction), so no
 * other test ever sees the table without it.
 */
async function insertAroundRules(table: string, sql: string, ...params: unknown[]) {
  const trigger = await env.DB.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?")
    .bind(`${table}_rules_insert`)
    .first<{ sql: string }>();
  await env.DB.batch([
    env.DB.prepare(`DROP TRIGGER IF EXISTS ${table}_rules_insert`),
    env.DB.prepare(sql).bind(...params),
    ...(trigger ? [env.DB.prepare(trigger.sql)] : []),
  ]);
}

interface Item {
  id: string | number;
  tags?: string[];
  metadata?: unknown;
  data?: unknown;
  stored_problems?: { field: string; problem: string; raw: string | null }[];
}

describe("a stored row that breaks the rules", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is shown with safe values and a problem marker, logged once per answer, and counted by health", async () => {
    const id = uniqueId("bad");
    const createdAt = Date.now();
    await insertAroundRules(
      "videos",
      "INSERT INTO videos (id, filename, file_path, duration, tags, metadata, created_at, updated_at) VALUES (?, 'f.mp4', ?, 1, 'not json', '[1,2]', ?, ?)",
      id,
      `/bad/${id}`,
      createdAt,
      createdAt,
    );
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: string) => {
      warnings.push(line);
    });

    const one = await call("GET", `/v1/videos/${id}`, { token: "read" });
    expect(one.status).toBe(200);
    const video = await json<Item>(one);
    expect(video.tags).toEqual([]);
    expect(video.metadata).toBeNull();
    expect(video.stored_problems).toEqual([
      { field: "tags", problem: "not valid JSON", raw: "not json" },
      { field: "metadata", problem: "valid JSON of the wrong shape", raw: "[1,2]" },
    ]);

    // A page that starts at this row (the cursor is the sort key just after it).
    const cursor = encodeCursor([createdAt, `${id}~`]);
    const page = await call("GET", `/v1/videos?limit=5&cursor=${cursor}`, { token: "read" });
    expect(page.status).toBe(200);
    const listed = (await json<{ items: Item[] }>(page)).items.find((item) => item.id === id);
    expect(listed?.stored_problems?.map((problem) => problem.field)).toEqual(["tags", "metadata"]);
    const logged = warnings.filter((line) => line.includes("stored rows break the data API's rules") && line.includes(id));
    expect(logged).toHaveLength(2); // one per answer, not one per field

    const integrity = await json<{ invariants: Record<string, number>; broken_rules: { rule: string; examples: unknown[] }[] }>(
      await call("GET", "/admin/health/integrity", { token: "read" }),
    );
    expect(integrity.invariants.api_rule_violations).toBeGreaterThanOrEqual(2);
    const tagsRule = integrity.broken_rules.find((rule) => rule.rule.startsWith("videos.tags"));
    expect(tagsRule?.examples.length).toBeGreaterThan(0);
  });

  it("in a context entry or a message does not break their listings", async () => {
    const video = await seedVideo();
    await insertAroundRules(
      "video_context",
      "INSERT INTO video_context (video_id, context_type, tool_name, data, created_at, updated_at) VALUES (?, 'note', 't', '[1,2]', 1, 1)",
      video.id,
    );
    const context = await call("GET", `/v1/videos/${video.id}/context`, { token: "read" });
    expect(context.status).toBe(200);
    const [entry] = (await json<{ items: Item[] }>(context)).items;
    expect(entry.data).toEqual({});
    expect(entry.stored_problems).toEqual([{ field: "data", problem: "valid JSON of the wrong shape", raw: "[1,2]" }]);

    const conversation = await seedConversation(video.id);
    await insertAroundRules(
      "messages",
      "INSERT INTO messages (conversation_id, role, content, metadata, created_at) VALUES (?, 'user', '', '\"text\"', 1)",
      conversation.id,
    );
    const messages = await call("GET", `/v1/conversations/${conversation.id}/messages`, { token: "read" });
    expect(messages.status).toBe(200);
    const bad = (await json<{ items: Item[] }>(messages)).items.find((item) => item.stored_problems);
    expect(bad?.stored_problems).toEqual([{ field: "metadata", problem: "valid JSON of the wrong shape", raw: '"text"' }]);
  });
});
