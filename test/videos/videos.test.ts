import { describe, expect, it } from "vitest";
import { seedVideo, tableCounts, uniqueId } from "../support/factories";
import { call, json } from "../support/http";

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

const validVideo = () => {
  const id = uniqueId("v");
  return {
    id,
    filename: `${id}.mp4`,
    file_path: `/videos/${id}.mp4`,
    duration: 61.5,
    category: "lecture",
    tags: ["math", "week-1"],
  };
};

describe("POST /v1/videos", () => {
  it("creates a video and returns it with Location", async () => {
    const input = validVideo();
    const res = await call("POST", "/v1/videos", { token: "write", body: { ...input, metadata: { fps: 30 } } });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/v1/videos/${input.id}`);
    const video = await json(res);
    expect(video).toMatchObject({ ...input, metadata: { fps: 30 }, deleted_at: null });
    const fetched = await call("GET", `/v1/videos/${input.id}`, { token: "read" });
    expect(await json(fetched)).toEqual(video);
  });

  it("generates an id when none is given", async () => {
    const { id: _omitted, ...input } = validVideo();
    const video = await json<{ id: string }>(await call("POST", "/v1/videos", { body: input }));
    expect(video.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ["negative duration", { duration: -1 }, "body.duration"],
    ["zero duration", { duration: 0 }, "body.duration"],
    ["empty filename", { filename: "" }, "body.filename"],
    ["blank file_path", { file_path: "   " }, "body.file_path"],
    ["non-numeric duration", { duration: "12" }, "body.duration"],
    ["NUL in filename", { filename: "a\u0000b.mp4" }, "body.filename"],
    ["unknown field", { colour: "red" }, "body"],
    ["duplicate tags", { tags: ["a", "a"] }, "body.tags"],
    ["metadata not an object", { metadata: [1, 2] }, "body.metadata"],
    ["bad id", { id: "has space" }, "body.id"],
  ])("rejects %s with 422, a field path, and writes nothing", async (_label, change, path) => {
    const before = await tableCounts();
    const res = await call("POST", "/v1/videos", { body: { ...validVideo(), ...change } });
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    const problem = await json<Problem>(res);
    expect(problem.errors?.some((error) => error.path === path || error.path.startsWith(`${path}.`))).toBe(true);
    expect(await tableCounts()).toEqual(before);
  });

  it("rejects deeply nested and oversized metadata", async () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect((await call("POST", "/v1/videos", { body: { ...validVideo(), metadata: deep } })).status).toBe(422);
    const big = { blob: "x".repeat(120_000) };
    expect((await call("POST", "/v1/videos", { body: { ...validVideo(), metadata: big } })).status).toBe(422);
  });

  it("answers 409 for a duplicate file_path or id, and changes nothing", async () => {
    const first = validVideo();
    expect((await call("POST", "/v1/videos", { body: first })).status).toBe(201);
    const before = await tableCounts();
    const samePath = await call("POST", "/v1/videos", { body: { ...validVideo(), file_path: first.file_path } });
    expect(samePath.status).toBe(409);
    expect((await json<Problem>(samePath)).detail).toContain("file_path");
    const sameId = await call("POST", "/v1/videos", { body: { ...validVideo(), id: first.id } });
    expect(sameId.status).toBe(409);
    expect(await tableCounts()).toEqual(before);
  });
});

describe("GET /v1/videos", () => {
  it("pages newest first with a cursor and hides soft-deleted videos unless asked", async () => {
    const t0 = Date.UTC(2030, 0, 1);
    const category = uniqueId("c");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await seedVideo({ createdAt: t0 + i * 1000, category })).id);
    const deleted = await seedVideo({ createdAt: t0 + 10_000, deletedAt: t0 + 20_000 });

    const collected: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/videos?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page: { items: { id: string }[]; next_cursor: string | null } = await json(
        await call("GET", query, { token: "read" }),
      );
      collected.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
    } while (cursor && collected.length < 1000);
    expect(collected).not.toContain(deleted.id);
    const ours = collected.filter((id) => ids.includes(id));
    expect(ours).toEqual([...ids].reverse());
    expect(new Set(collected).size).toBe(collected.length);

    const withDeleted = await json<{ items: { id: string }[] }>(await call("GET", "/v1/videos?limit=200&include_deleted=true"));
    expect(withDeleted.items.map((item) => item.id)).toContain(deleted.id);
  });

  it("rejects bad paging input with 400", async () => {
    for (const query of ["limit=0", "limit=201", "limit=abc", "cursor=not-a-cursor", "include_deleted=maybe"]) {
      const res = await call("GET", `/v1/videos?${query}`);
      expect(res.status, query).toBe(400);
      expect((await json<Problem>(res)).errors?.length, query).toBeGreaterThan(0);
    }
  });

  it("hides a soft-deleted video from GET unless include_deleted", async () => {
    const video = await seedVideo({ deletedAt: Date.now() });
    expect((await call("GET", `/v1/videos/${video.id}`)).status).toBe(404);
    const res = await call("GET", `/v1/videos/${video.id}?include_deleted=true`);
    expect(res.status).toBe(200);
    expect((await json<{ deleted_at: string }>(res)).deleted_at).not.toBeNull();
  });

  it("404s an unknown video as problem+json", async () => {
    const res = await call("GET", "/v1/videos/does-not-exist");
    expect(res.status).toBe(404);
    expect(await json<Problem>(res)).toMatchObject({ type: "urn:d1-keeper:problem:not-found", status: 404 });
  });
});
