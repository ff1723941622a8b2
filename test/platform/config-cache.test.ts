import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { principalFromBearer } from "../../src/platform/auth";
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

describe("tokens known per configuration", () => {
  it("digests a valid token once per configuration; a wrong one every time, and it is never kept", async () => {
    // A fresh env object: a configuration this isolate has never seen.
    const config = parseConfig({ ...rawEnv });
    const digest = vi.spyOn(crypto.subtle, "digest");
    try {
      const first = await principalFromBearer("test-write-token-0123456789", config);
      const afterFirst = digest.mock.calls.length;
      expect(afterFirst).toBeGreaterThan(0);
      const again = await principalFromBearer("test-write-token-0123456789", config);
      expect(digest.mock.calls.length).toBe(afterFirst);
      expect(again).toEqual(first);
      expect(first?.scopes).toEqual(["read", "write"]);

      for (let attempt = 1; attempt <= 3; attempt++) {
        const before = digest.mock.calls.length;
        expect(await principalFromBearer("test-write-token-0123456780", config)).toBeNull();
        expect(digest.mock.calls.length).toBe(before + 1);
      }
      // The same token under another configuration is digested again (and answered by that one).
      const before = digest.mock.calls.length;
      const other = parseConfig({ ...rawEnv, KEEPER_WRITE_TOKEN: "another-write-token-0123456789" });
      expect(await principalFromBearer("test-write-token-0123456789", other)).toBeNull();
      expect(digest.mock.calls.length).toBeGreaterThan(before);
    } finally {
      digest.mockRestore();
    }
  });
});
