import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { classifyD1Error } from "../../src/db/d1-errors";
import { tableCounts } from "../support/factories";
import { call, json, tokens } from "../support/http";

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: { path: string; message: string }[];
}

const adminHeaders = { Authorization: `Bearer ${tokens.admin}` };

describe("problem+json for malformed requests", () => {
  it("400 for a body that is not JSON, and nothing is written", async () => {
    const before = await tableCounts();
    const res = await call("POST", "/v1/videos", { rawBody: '{"filename": ', headers: { "Content-Type": "application/json" } });
    expect(res.status).toBe(400);
    const problem = await json<Problem>(res);
    expect(problem).toMatchObject({ status: 400, instance: "/v1/videos", detail: "The request body is not valid JSON" });
    expect(await tableCounts()).toEqual(before);
  });

  it("415 for a body that is not application/json", async () => {
    const res = await call("POST", "/v1/videos", {
      rawBody: "filename=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("413 for a body over 1 MiB", async () => {
    const res = await call("POST", "/v1/videos", { body: { filename: "x".repeat(1_100_000) } });
    expect(res.status).toBe(413);
    expect((await json<Problem>(res)).type).toBe("urn:d1-keeper:problem:payload-too-large");
  });

  it("404 problem for an unknown route", async () => {
    const res = await call("GET", "/v2/anything");
    expect(res.status).toBe(404);
    expect(await json<Problem>(res)).toMatchObject({ status: 404, instance: "/v2/anything" });
  });

  it("a JSON array where an object is expected is 422 with the body path", async () => {
    const res = await call("POST", "/v1/videos", { body: [1, 2, 3] });
    expect(res.status).toBe(422);
    expect((await json<Problem>(res)).errors?.[0].path).toBe("body");
  });
});

describe("D1 failures", () => {
  it("maps an overloaded D1 to 503 with Retry-After", async () => {
    const overloaded = {
      prepare: () => {
        throw new Error("D1_ERROR: D1 DB is overloaded. Too many requests queued.");
      },
    } as unknown as D1Database;
    const app = createApp({ wrapD1: () => overloaded });
    const res = await app.request("/admin/status", { headers: adminHeaders }, env);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("answers an unexpected failure with a 500 problem that leaks no internals", async () => {
    const broken = {
      prepare: () => {
        throw new TypeError("secret internal detail at line 42");
      },
    } as unknown as D1Database;
    const res = await createApp({ wrapD1: () => broken }).request("/admin/status", { headers: adminHeaders }, env);
    expect(res.status).toBe(500);
    const problem = await json<Problem>(res);
    expect(JSON.stringify(problem)).not.toContain("secret internal detail");
    expect(problem.detail).toBe("An unexpected error occurred");
  });

  it("classifies constraint errors through Drizzle's cause chain", () => {
    const d1 = new Error("D1_ERROR: UNIQUE constraint failed: videos.file_path: SQLITE_CONSTRAINT");
    const wrapped = new Error("Failed query: insert into videos …", { cause: d1 });
    expect(classifyD1Error(wrapped)?.status).toBe(409);
    expect(
      classifyD1Error(new Error("x", { cause: new Error("CHECK constraint failed: videos_duration_positive") }))?.status,
    ).toBe(422);
    expect(classifyD1Error(new Error("NOT NULL constraint failed: videos.filename"))?.status).toBe(422);
    expect(classifyD1Error(new Error("FOREIGN KEY constraint failed"))?.status).toBe(422);
    expect(classifyD1Error(new Error("something else entirely"))).toBeNull();
    const rule = classifyD1Error(
      new Error("x", { cause: new Error("D1_ERROR: rule failed: videos.filename: must not be blank: SQLITE_CONSTRAINT") }),
    );
    expect(rule?.status).toBe(422);
    expect(rule?.errors).toEqual([{ path: "videos.filename", message: "must not be blank" }]);
  });
});

describe("configuration", () => {
  it("a bad deployment config is a clear 500 problem naming the variables", async () => {
    const badNumber = await createApp().request("/admin/status", { headers: adminHeaders }, { ...env, SLOW_QUERY_MS: "soon" });
    expect(badNumber.status).toBe(500);
    expect((await json<Problem>(badNumber)).errors?.map((error) => error.path)).toEqual(["env.SLOW_QUERY_MS"]);
    const halfAccess = await createApp().request("/admin/status", { headers: adminHeaders }, { ...env, ACCESS_AUD: "only-half" });
    expect(halfAccess.status).toBe(500);
    expect((await json<Problem>(halfAccess)).errors?.map((error) => error.path)).toEqual(["env.ACCESS_AUD"]);
  });

  it("refuses tokens too short to be secret", async () => {
    const res = await createApp().request("/healthz", {}, { ...env, KEEPER_READ_TOKEN: "short" });
    expect(res.status).toBe(500);
  });
});
