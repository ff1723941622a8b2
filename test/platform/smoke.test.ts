import { describe, expect, it } from "vitest";
import { call, json } from "../support/http";

describe("smoke", () => {
  it("answers liveness and status", async () => {
    expect((await call("GET", "/healthz", { token: null })).status).toBe(200);
    const res = await call("GET", "/admin/status");
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ schema: { migrated: true, version: "0001_add_video_tags.sql" } });
  });
});
