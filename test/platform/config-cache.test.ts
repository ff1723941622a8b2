import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { parseConfig } from "../../src/platform/config";

const rawEnv = env as unknown as Record<string, unknown>;

describe("configuration parsed once per env object", () => {
  it("returns the same parsed configuration for the same env object", () => {
    expect(parseConfig(rawEnv)).toBe(parseConfig(rawEnv));
  });

  it("parses a changed env (a new object, as after a deploy or a secret change) afresh", () => {
    const rotated = { ...rawEnv, KEEPER_READ_TOKEN: "rotated-read-token-0123456789" };
    expect(parseConfig(rotated)).not.toBe(parseConfig(rawEnv));
    expect(parseConfig(rotated).KEEPER_READ_TOKEN).toEqual(["rotated-read-token-0123456789"]);
  });

  it("authenticates against the tokens of the env the request came with, not an earlier one", async () => {
    const app = createApp();
    const health = (token: string, bindings: Record<string, unknown>) =>
      app.request("/admin/health/indexes", { headers: { Authorization: `Bearer ${token}` } }, bindings);
    expect((await health("test-read-token-0123456789", rawEnv)).status).toBe(200);
    const rotated = { ...rawEnv, KEEPER_READ_TOKEN: "rotated-read-token-0123456789" };
    expect((await health("test-read-token-0123456789", rotated)).status).toBe(401);
    expect((await health("rotated-read-token-0123456789", rotated)).status).toBe(200);
    // The first env still has its own tokens.
    expect((await health("rotated-read-token-0123456789", rawEnv)).status).toBe(401);
  });

  it("keeps refusing a bad configuration on every request (a failed parse is never kept)", async () => {
    const broken = { ...rawEnv, SLOW_QUERY_MS: "-5" };
    expect(() => parseConfig(broken)).toThrow(/configuration is invalid/);
    expect(() => parseConfig(broken)).toThrow(/configuration is invalid/);
  });
});
