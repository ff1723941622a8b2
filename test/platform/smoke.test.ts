import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json } from "../support/http";

describe("smoke", () => {
  it("answers liveness and status with the newest applied migration as the schema version", async () => {
    expect((await call("GET", "/healthz", { token: null })).status).toBe(200);
    const res = await call("GET", "/admin/status");
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    const newest = env.TEST_MIGRATIONS.at(-1)?.name;
    expect(body).toMatchObject({ schema: { migrated: true, version: newest, applied_count: env.TEST_MIGRATIONS.length } });
  });
});
