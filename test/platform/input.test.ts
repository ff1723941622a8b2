import { exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { requireUtf8Body } from "../../src/platform/utf8-body";
import { seedConversation, seedVideo, uniqueId } from "../support/factories";
import { call, json, tokens } from "../support/http";

type Problem = { status: number; errors?: { path: string; message: string }[] };

const videoBody = () => ({ filename: "f.mp4", file_path: `/in/${uniqueId("p")}.mp4`, duration: 1 });

describe("bodies of any width or depth", () => {
  it("a 200,000-element array is measured without recursion on every write route taking JSON (422, not 500)", async () => {
    const wide = { a: new Array(200_000).fill(0) };
    const video = await seedVideo();
    const conversation = await seedConversation(video.id);
    for (const [path, body, field] of [
      ["/v1/videos", { ...videoBody(), metadata: wide }, "body.metadata"],
      [`/v1/videos/${video.id}/context`, { context_type: "note", tool_name: "t", data: wide }, "body.data"],
      [`/v1/videos/${video.id}/memory`, { timestamp: 1, content: "x", metadata: wide }, "body.metadata"],
      [`/v1/conversations/${conversation.id}/messages`, { role: "user", content: "x", metadata: wide }, "body.metadata"],
    ] as const) {
      const res = await call("POST", path, { token: "write", body });
      const problem = await json<Problem>(res);
      expect(res.status, path).toBe(422);
      expect(problem.errors?.map((error) => error.path)).toContain(field);
    }
  });

  it("nesting past the limit is refused, also as a 200,000-deep array", async () => {
    let nested: unknown = 1;
    for (let level = 0; level < 40; level++) nested = [nested];
    const res = await call("POST", "/v1/videos", { token: "write", body: { ...videoBody(), metadata: { nested } } });
    expect(res.status).toBe(422);
    expect((await json<Problem>(res)).errors?.[0].message).toMatch(/nesting/);
    const deep = `{"filename":"f.mp4","file_path":"/deep","duration":1,"metadata":{"a":${"[".repeat(200_000)}${"]".repeat(200_000)}}}`;
    const raw = await call("POST", "/v1/videos", {
      token: "write",
      rawBody: deep,
      headers: { "Content-Type": "application/json" },
    });
    expect([400, 413, 422]).toContain(raw.status);
  });
});

describe("text that is not Unicode", () => {
  it("a lone surrogate is refused, naming the field, in a text field and inside JSON", async () => {
    for (const [text, field] of [
      ['{"filename":"\\ud800","file_path":"/s1","duration":1}', "body.filename"],
      ['{"filename":"f","file_path":"/s2","duration":1,"tags":["ok","\\udc00x"]}', "body.tags.1"],
      ['{"filename":"f","file_path":"/s3","duration":1,"metadata":{"k":{"deep":"a\\ud83d"}}}', "body.metadata.k.deep"],
      ['{"filename":"f","file_path":"/s4","duration":1,"metadata":{"\\ud800":1}}', "body.metadata.\ud800"],
    ]) {
      const res = await call("POST", "/v1/videos", {
        token: "write",
        rawBody: text,
        headers: { "Content-Type": "application/json" },
      });
      expect(res.status, text).toBe(422);
      expect(
        (await json<Problem>(res)).errors?.map((error) => error.path),
        text,
      ).toContain(field);
    }
  });

  it("invalid UTF-8 in a body is refused with 400 naming the field and the byte, not replaced with U+FFFD", async () => {
    const before = new TextEncoder().encode('{"filename":"bad');
    const after = new TextEncoder().encode(`","file_path":"/${uniqueId("u")}","duration":1}`);
    const body = new Uint8Array([...before, 0xff, 0xfe, ...after]);
    const res = await exports.default.fetch(
      new Request("https://keeper.test/v1/videos", {
        method: "POST",
        headers: { Authorization: `Bearer ${tokens.write}`, "Content-Type": "application/json" },
        body,
      }),
    );
    expect(res.status).toBe(400);
    const problem = await json<Problem>(res);
    expect(problem.errors).toEqual([
      { path: "body.filename", message: `not valid UTF-8 (first bad byte at offset ${before.length})` },
    ]);
  });
});

describe("query strings", () => {
  it("unknown parameters are refused with 400 naming them, and the OpenAPI document says so", async () => {
    const res = await call("GET", "/v1/videos?includeDeleted=true&limit=5&colour=red", { token: "read" });
    expect(res.status).toBe(400);
    expect((await json<Problem>(res)).errors?.map((error) => error.path)).toEqual(["query.includeDeleted", "query.colour"]);
    const document = await json<{ info: { description: string } }>(await call("GET", "/openapi.json", { token: null }));
    expect(document.info.description).toContain(
      "Query parameters an operation does not declare are refused with 400 naming them",
    );
  });

  it("an unknown parameter is refused wherever it stands, on routes with and without declared parameters", async () => {
    const { id } = await seedVideo();
    for (const [method, path] of [
      ["GET", `/v1/videos/${id}/context?colour=red`],
      ["GET", `/v1/videos/${id}/context?limit=5&colour=red`],
      ["GET", `/v1/videos/${id}?colour=red`],
      ["POST", `/v1/videos/${id}/memory?colour=red`],
    ]) {
      const res = await call(method, path, method === "POST" ? { body: { timestamp: 1, content: "note" } } : {});
      expect(res.status, path).toBe(400);
      expect(
        (await json<Problem>(res)).errors?.map((error) => error.path),
        path,
      ).toEqual(["query.colour"]);
    }
  });

  it("a URL with no parameters, or an empty query string, is answered", async () => {
    const { id } = await seedVideo();
    for (const path of [`/v1/videos/${id}/context`, `/v1/videos/${id}/context?`, `/v1/videos/${id}`, `/v1/videos/${id}?`]) {
      expect((await call("GET", path, { token: "read" })).status, path).toBe(200);
    }
    for (const path of [`/v1/videos/${id}/memory`, `/v1/videos/${id}/memory?`]) {
      expect((await call("POST", path, { body: { timestamp: 1, content: "note" } })).status, path).toBe(201);
    }
  });

  it("numbers are decimal digits only", async () => {
    for (const limit of ["0x10", "1e1", "+16", " 16", "16.0", "016", "", "Infinity"]) {
      const res = await call("GET", `/v1/videos?limit=${encodeURIComponent(limit)}`, { token: "read" });
      expect(res.status, limit).toBe(400);
      expect((await json<Problem>(res)).errors?.[0].path, limit).toBe("query.limit");
    }
    expect((await call("GET", "/v1/videos?limit=16", { token: "read" })).status).toBe(200);
  });
});

describe("methods", () => {
  it("TRACE and other unsupported methods answer 405 with Allow; an unknown path stays 404", async () => {
    const trace = await call("TRACE", "/v1/videos", { token: "read" });
    expect(trace.status).toBe(405);
    expect(trace.headers.get("Allow")).toBe("GET, HEAD, POST");
    const patch = await call("PATCH", "/v1/videos/some-id", { token: "write" });
    expect(patch.status).toBe(405);
    expect(patch.headers.get("Allow")).toBe("GET, HEAD");
    expect((await call("GET", "/v1/no-such-thing", { token: "read" })).status).toBe(404);
  });
});

describe("a JSON body is decoded once", () => {
  it("leaves the checked body's text in hono's body cache, which the JSON validator reads", async () => {
    const app = new Hono();
    app.use("*", requireUtf8Body());
    app.post("/", async (c) => {
      const cached = await (c.req.bodyCache as Record<string, Promise<unknown> | undefined>).text;
      return c.json({ cached, parsed: await c.req.json() });
    });
    const text = '{"content":"caf\u00e9 \u{1F3A5}","n":1}';
    // A leading BOM is dropped, as Request.text() drops it.
    const body = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]);
    const res = await app.request("/", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cached: text, parsed: { content: "caf\u00e9 \u{1F3A5}", n: 1 } });
    expect(await new Request("http://x", { method: "POST", body }).text()).toBe(text);
  });

  it("a malformed JSON body is still the validator's 400, and a write with a BOM is stored as sent", async () => {
    const post = (body: string | Uint8Array) =>
      exports.default.fetch(
        new Request("https://keeper.test/v1/videos", {
          method: "POST",
          headers: { Authorization: `Bearer ${tokens.write}`, "Content-Type": "application/json" },
          body,
        }),
      );
    expect((await post('{"filename": ')).status).toBe(400);
    const video = videoBody();
    const created = await post(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(video))]));
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject(video);
  });
});
