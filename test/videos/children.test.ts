import { describe, expect, it } from "vitest";
import { seedContext, seedConversation, seedVideo, tableCounts } from "../support/factories";
import { call, json } from "../support/http";

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

describe("video context", () => {
  it("adds context and lists it in insertion order, filtered by type", async () => {
    const { id } = await seedVideo();
    const first = await call("POST", `/v1/videos/${id}/context`, {
      token: "write",
      body: {
        context_type: "transcript",
        tool_name: "whisper",
        timestamp: 0,
        data: { text: "hello", language: "en" },
        confidence: 0.8,
      },
    });
    expect(first.status).toBe(201);
    await call("POST", `/v1/videos/${id}/context`, {
      body: { context_type: "scene", tool_name: "clip", timestamp: 3, data: { description: "a lab" } },
    });
    await call("POST", `/v1/videos/${id}/context`, {
      body: { context_type: "custom.thing", tool_name: "x", data: { anything: [1, 2] } },
    });

    const all = await json<Page<{ context_type: string; data: unknown }>>(
      await call("GET", `/v1/videos/${id}/context?limit=2`, { token: "read" }),
    );
    expect(all.items.map((item) => item.context_type)).toEqual(["transcript", "scene"]);
    const rest = await json<Page<{ context_type: string }>>(
      await call("GET", `/v1/videos/${id}/context?limit=2&cursor=${all.next_cursor}`),
    );
    expect(rest.items.map((item) => item.context_type)).toEqual(["custom.thing"]);
    expect(rest.next_cursor).toBeNull();
    const scenes = await json<Page<{ data: unknown }>>(await call("GET", `/v1/videos/${id}/context?context_type=scene`));
    expect(scenes.items).toHaveLength(1);
    expect(scenes.items[0].data).toEqual({ description: "a lab" });
  });

  it("takes constructor, a name Object.prototype also has, as a free-form context type", async () => {
    const { id } = await seedVideo();
    const res = await call("POST", `/v1/videos/${id}/context`, {
      body: { context_type: "constructor", tool_name: "x", data: { anything: 1 } },
    });
    expect(res.status).toBe(201);
  });

  it.each([
    ["timestamp < 0", { timestamp: -0.5 }],
    ["confidence > 1", { confidence: 1.01 }],
    ["confidence < 0", { confidence: -0.1 }],
    ["transcript without text", { context_type: "transcript", data: { words: [] } }],
    ["objects with a bad box", { context_type: "objects", data: { objects: [{ label: "cat", box: [1, 2] }] } }],
    ["data not an object", { data: "plain" }],
    ["empty tool_name", { tool_name: "" }],
    ["bad context_type", { context_type: "Has Spaces" }],
  ])("rejects %s with 422 and writes nothing", async (_label, change) => {
    const { id } = await seedVideo();
    const before = await tableCounts();
    const res = await call("POST", `/v1/videos/${id}/context`, {
      body: { context_type: "scene", tool_name: "clip", timestamp: 1, data: { description: "ok" }, ...change },
    });
    expect(res.status).toBe(422);
    expect(await tableCounts()).toEqual(before);
  });

  it("refuses a duplicate entry, also when timestamp is null (409)", async () => {
    const { id } = await seedVideo();
    const entry = { context_type: "scene", tool_name: "clip", data: { description: "whole video" } };
    expect((await call("POST", `/v1/videos/${id}/context`, { body: { ...entry, timestamp: null } })).status).toBe(201);
    expect((await call("POST", `/v1/videos/${id}/context`, { body: { ...entry, timestamp: null } })).status).toBe(409);
    expect((await call("POST", `/v1/videos/${id}/context`, { body: { ...entry, timestamp: 2 } })).status).toBe(201);
    expect((await call("POST", `/v1/videos/${id}/context`, { body: { ...entry, timestamp: 2 } })).status).toBe(409);
  });

  it("404s an unknown video and 409s a soft-deleted one", async () => {
    const body = { context_type: "scene", tool_name: "clip", data: { description: "x" } };
    expect((await call("POST", "/v1/videos/nope/context", { body })).status).toBe(404);
    const gone = await seedVideo({ deletedAt: Date.now() });
    const res = await call("POST", `/v1/videos/${gone.id}/context`, { body });
    expect(res.status).toBe(409);
    expect((await json<{ detail: string }>(res)).detail).toContain("soft-deleted");
    expect((await call("GET", "/v1/videos/nope/context")).status).toBe(404);
  });
});

describe("memory", () => {
  it("adds memory and lists the latest moment first, paging with a cursor", async () => {
    const { id } = await seedVideo();
    for (const timestamp of [5, 1, 9, 9]) {
      const res = await call("POST", `/v1/videos/${id}/memory`, {
        token: "write",
        body: { timestamp, content: `at ${timestamp}` },
      });
      expect(res.status).toBe(201);
    }
    const first = await json<Page<{ timestamp: number; id: number }>>(
      await call("GET", `/v1/videos/${id}/memory?limit=3`, { token: "read" }),
    );
    expect(first.items.map((item) => item.timestamp)).toEqual([9, 9, 5]);
    expect(first.items[0].id).toBeLessThan(first.items[1].id);
    const second = await json<Page<{ timestamp: number }>>(
      await call("GET", `/v1/videos/${id}/memory?limit=3&cursor=${first.next_cursor}`),
    );
    expect(second.items.map((item) => item.timestamp)).toEqual([1]);

    // One per page: the cursor must step across equal timestamps without losing or repeating a row.
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/v1/videos/${id}/memory?limit=1${cursor ? `&cursor=${cursor}` : ""}`;
      const page: Page<{ id: number }> = await json(await call("GET", path));
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });

  it("rejects a negative timestamp and empty content", async () => {
    const { id } = await seedVideo();
    expect((await call("POST", `/v1/videos/${id}/memory`, { body: { timestamp: -1, content: "x" } })).status).toBe(422);
    expect((await call("POST", `/v1/videos/${id}/memory`, { body: { timestamp: 1, content: "" } })).status).toBe(422);
  });
});

describe("conversations and messages", () => {
  it("creates a conversation, appends messages in order and moves updated_at", async () => {
    const { id } = await seedVideo();
    const created = await call("POST", `/v1/videos/${id}/conversations`, { token: "write", body: { title: "Questions" } });
    expect(created.status).toBe(201);
    const conversation = await json<{ id: string; updated_at: string }>(created);
    for (const [role, content] of [
      ["user", "what is on the board?"],
      ["assistant", "an equation"],
    ]) {
      const res = await call("POST", `/v1/conversations/${conversation.id}/messages`, { body: { role, content } });
      expect(res.status).toBe(201);
    }
    const page = await json<Page<{ role: string; content: string }>>(
      await call("GET", `/v1/conversations/${conversation.id}/messages`),
    );
    expect(page.items.map((item) => item.role)).toEqual(["user", "assistant"]);
    const listed = await json<Page<{ id: string }>>(await call("GET", `/v1/videos/${id}/conversations`));
    expect(listed.items.map((item) => item.id)).toEqual([conversation.id]);
    const fetched = await json<{ updated_at: string }>(await call("GET", `/v1/conversations/${conversation.id}`));
    expect(fetched.updated_at >= conversation.updated_at).toBe(true);
  });

  it("rejects an unknown role, a missing conversation and a soft-deleted video", async () => {
    const { id } = await seedVideo();
    const conv = await seedConversation(id);
    const before = await tableCounts();
    expect((await call("POST", `/v1/conversations/${conv.id}/messages`, { body: { role: "robot", content: "hi" } })).status).toBe(
      422,
    );
    expect((await call("POST", "/v1/conversations/missing/messages", { body: { role: "user", content: "hi" } })).status).toBe(
      404,
    );
    const gone = await seedVideo({ deletedAt: Date.now() });
    const goneConv = await seedConversation(gone.id);
    expect(
      (await call("POST", `/v1/conversations/${goneConv.id}/messages`, { body: { role: "user", content: "hi" } })).status,
    ).toBe(409);
    expect((await call("POST", `/v1/videos/${gone.id}/conversations`, { body: {} })).status).toBe(409);
    expect(await tableCounts()).toEqual({ ...before, videos: before.videos + 1, conversations: before.conversations + 1 });
  });

  it("refuses a duplicate conversation id with 409", async () => {
    const { id } = await seedVideo();
    const conv = await seedConversation(id);
    expect((await call("POST", `/v1/videos/${id}/conversations`, { body: { id: conv.id } })).status).toBe(409);
  });

  it("context rows seeded straight into D1 show through the API", async () => {
    const { id } = await seedVideo();
    await seedContext(id, { contextType: "scene", timestamp: null });
    const page = await json<Page<{ timestamp: number | null }>>(await call("GET", `/v1/videos/${id}/context`));
    expect(page.items[0].timestamp).toBeNull();
  });
});
