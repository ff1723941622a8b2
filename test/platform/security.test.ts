import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { createLogger } from "../../src/platform/logger";
import { call, tokens } from "../support/http";

describe("secrets stay secret", () => {
  afterEach(() => vi.restoreAllMocks());

  it("no token appears in responses or logs, even when a request fails", async () => {
    const lines: string[] = [];
    for (const method of ["log", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const broken = {
      prepare: () => {
        throw new Error(`boom while handling ${tokens.admin}`);
      },
    } as unknown as D1Database;
    const failing = await createApp({ wrapD1: () => broken }).request(
      "/admin/status",
      { headers: { Authorization: `Bearer ${tokens.admin}` } },
      env,
    );
    expect(failing.status).toBe(500);
    const bodies = [await failing.text()];
    for (const token of Object.values(tokens)) {
      const res = await call("GET", "/admin/status", { token: null, headers: { Authorization: `Bearer ${token}` } });
      bodies.push(await res.text());
    }
    const everything = [...bodies, ...lines].join("\n");
    for (const token of Object.values(tokens)) expect(everything).not.toContain(token);
    for (const secret of [env.KEEPER_READ_TOKEN, env.KEEPER_WRITE_TOKEN, env.KEEPER_ADMIN_TOKEN])
      expect(everything).not.toContain(secret);
  });

  it("the logger redacts fields that look like credentials", () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => {
      lines.push(line);
    });
    createLogger({ requestId: "r" }).info("calling", { authorization: "Bearer abc", webhookSecret: "s3cr3t", count: 2 });
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ authorization: "[redacted]", webhookSecret: "[redacted]", count: 2 });
  });

  it("an actor is named by a digest prefix, never by its token", async () => {
    const res = await call("GET", "/admin/status", { token: "write" });
    const { principal } = (await res.json()) as { principal: { actor: string } };
    expect(principal.actor).toMatch(/^token:write:[0-9a-f]{8}$/);
  });
});
