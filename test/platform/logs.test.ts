import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { configuredSecrets, createLogger } from "../../src/platform/logger";
import { tokens } from "../support/http";

const webhookSecretPath = "/services/T0001/B0002/XyZsecretPartOfTheSlackUrl42";
const secrets = {
  ALERT_WEBHOOK_URLS: `https://hooks.slack.example${webhookSecretPath},https://alerts.example.org/hook?key=query-secret-value-77`,
  ALERT_WEBHOOK_SECRET: "hmac-signing-secret-0123456789",
  CLOUDFLARE_API_TOKEN: "cf-api-token-abcdefghijklmnop",
};
const leaks = [
  webhookSecretPath,
  "XyZsecretPartOfTheSlackUrl42",
  "query-secret-value-77",
  secrets.ALERT_WEBHOOK_SECRET,
  secrets.CLOUDFLARE_API_TOKEN,
  tokens.admin,
  "hunter2-password",
];

function captureLogs(): string[] {
  const lines: string[] = [];
  const keep = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  vi.spyOn(console, "log").mockImplementation(keep);
  vi.spyOn(console, "warn").mockImplementation(keep);
  vi.spyOn(console, "error").mockImplementation(keep);
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("nothing secret in logs", () => {
  it("a failed webhook delivery logs the webhook's origin, never its path, query or the signing secret", async () => {
    const lines = captureLogs();
    // A receiver that is down, and a fetch error that quotes the URL (as runtimes do).
    const failing = (async (input: RequestInfo | URL) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes("slack")) throw new Error(`network connection lost while POSTing ${url}`);
      return new Response("down", { status: 503 });
    }) as typeof fetch;
    const app = createApp({ fetch: failing });
    const res = await app.request(
      "/admin/health/test-webhook",
      { method: "POST", headers: { Authorization: `Bearer ${tokens.admin}` } },
      { ...env, ...secrets },
    );
    expect(res.status).toBe(200);
    const body = await res.text();
    const logged = lines.join("\n");
    expect(logged).toContain("alert delivery failed");
    expect(logged).toContain("https://hooks.slack.example/…#");
    expect(logged).toContain("https://alerts.example.org/…#");
    for (const leak of leaks) {
      expect(logged).not.toContain(leak);
      expect(body).not.toContain(leak);
    }
  }, 20_000);

  it("scrubs the secrets of the env each request came with, after an earlier env's were kept", async () => {
    const lines = captureLogs();
    const failing = (async (input: RequestInfo | URL) => {
      throw new Error(`network connection lost while POSTing ${String(input instanceof Request ? input.url : input)}`);
    }) as typeof fetch;
    const app = createApp({ fetch: failing });
    const testWebhook = (bindings: Record<string, unknown>) =>
      app.request(
        "/admin/health/test-webhook",
        { method: "POST", headers: { Authorization: `Bearer ${tokens.admin}` } },
        bindings,
      );
    expect((await testWebhook({ ...env, ...secrets })).status).toBe(200);
    // A changed secret arrives as a new env object: its values must be scrubbed, not the first env's only.
    const rotatedPath = "/services/T0001/B0002/RotatedSecretPathSegment7";
    expect(
      (await testWebhook({ ...env, ...secrets, ALERT_WEBHOOK_URLS: `https://hooks.slack.example${rotatedPath}` })).status,
    ).toBe(200);
    const logged = lines.join("\n");
    expect(logged.match(/alert delivery failed/g)?.length).toBeGreaterThanOrEqual(3);
    expect(logged).not.toContain(webhookSecretPath);
    expect(logged).not.toContain("RotatedSecretPathSegment7");
  }, 20_000);

  it("every configured secret and any URL credential is scrubbed from a whole line", () => {
    const lines = captureLogs();
    const logger = createLogger(
      { requestId: "r" },
      configuredSecrets({ ...env, ...secrets } as unknown as Record<string, unknown>),
    );
    logger.error("upstream failed", {
      detail: `POST https://hooks.slack.example${webhookSecretPath} failed; retry with ${secrets.CLOUDFLARE_API_TOKEN}`,
      cause: "connect https://operator:hunter2-password@db.example.com:5432/keeper refused",
      note: `signed with "${secrets.ALERT_WEBHOOK_SECRET}" by ${tokens.admin}`,
    });
    const logged = lines.join("\n");
    for (const leak of leaks) expect(logged).not.toContain(leak);
    expect(logged).toContain("https://[redacted]@db.example.com:5432/keeper");
  });
});
