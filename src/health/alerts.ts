import type { AppContext } from "../platform/context";
import type { HealthStatus } from "./score";

/**
 * Alerts: a JSON POST to every URL in ALERT_WEBHOOK_URLS, signed with HMAC-SHA256 over
 * "<unix seconds>.<body>" using the ALERT_WEBHOOK_SECRET secret, sent as
 *   X-Keeper-Signature: t=<unix seconds>,v1=<hex digest>
 * (a receiver recomputes it and rejects old timestamps, which stops replays). Each alert is sent
 * once: the last alerted status and the last alerted failed run live in keeper_alert_state.
 * Delivery retries three times with backoff; only `ctx.fetch` is used.
 */
const rank: Record<HealthStatus, number> = { healthy: 0, warning: 1, critical: 2 };

export interface AlertPayload {
  kind: "status_worsened" | "job_failed" | "test";
  text: string;
  [key: string]: unknown;
}

export function webhookUrls(env: Record<string, unknown>): string[] {
  return String(env.ALERT_WEBHOOK_URLS ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter((url) => /^https?:\/\//.test(url));
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function sign(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`)));
}

export async function deliver(
  ctx: AppContext,
  payload: AlertPayload,
  options: { sleep?: (ms: number) => Promise<void>; attempts?: number } = {},
): Promise<{ url: string; ok: boolean; status: number | null; attempts: number }[]> {
  const env = ctx.env as unknown as Record<string, unknown>;
  const urls = webhookUrls(env);
  const secret = String(env.ALERT_WEBHOOK_SECRET ?? "");
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const body = JSON.stringify({ service: "d1-keeper", at: ctx.now().toISOString(), ...payload });
  const results = [];
  for (const url of urls) {
    let status: number | null = null;
    let attempt = 0;
    const attempts = options.attempts ?? 3;
    while (attempt < attempts) {
      attempt++;
      const timestamp = Math.floor(ctx.now().getTime() / 1000);
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (secret) headers["X-Keeper-Signature"] = `t=${timestamp},v1=${await sign(secret, timestamp, body)}`;
      try {
        const response = await ctx.fetch(url, { method: "POST", headers, body });
        status = response.status;
        if (response.ok) break;
      } catch {
        status = null;
      }
      if (attempt < attempts) await sleep(500 * 2 ** (attempt - 1));
    }
    const ok = status !== null && status >= 200 && status < 300;
    if (!ok) ctx.logger.warn("alert delivery failed", { url, status });
    results.push({ url, ok, status, attempts: attempt });
  }
  return results;
}

async function readState(ctx: AppContext, key: string): Promise<string | null> {
  return (
    (await ctx.d1.prepare("SELECT value FROM keeper_alert_state WHERE key = ?").bind(key).first<{ value: string }>())?.value ??
    null
  );
}

async function writeState(ctx: AppContext, key: string, value: string): Promise<void> {
  await ctx.d1
    .prepare(
      "INSERT INTO keeper_alert_state (key, value, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at",
    )
    .bind(key, value, ctx.now().getTime())
    .run();
}

/** Sends what is new since the last evaluation: a worse status, and job runs that failed. */
export async function evaluateAlerts(
  ctx: AppContext,
  current: { score: number; status: HealthStatus; checks: { name: string; ok: boolean; detail: string }[] },
  options: { sleep?: (ms: number) => Promise<void> } = {},
) {
  const sent: AlertPayload[] = [];
  const previous = (await readState(ctx, "status")) as HealthStatus | null;
  if (previous !== null && rank[current.status] > rank[previous]) {
    const payload: AlertPayload = {
      kind: "status_worsened",
      text: `d1-keeper health ${previous} → ${current.status} (score ${current.score})`,
      from: previous,
      to: current.status,
      score: current.score,
      failing_checks: current.checks.filter((check) => !check.ok),
    };
    await deliver(ctx, payload, options);
    sent.push(payload);
  }
  await writeState(ctx, "status", current.status);

  const lastFailed = Number((await readState(ctx, "last_failed_run")) ?? 0);
  const { results: failed } = await ctx.d1
    .prepare(
      "SELECT id, job, trigger, error, started_at FROM keeper_job_runs WHERE status = 'failed' AND id > ? ORDER BY id LIMIT 20",
    )
    .bind(lastFailed)
    .all<{ id: number; job: string; trigger: string; error: string | null; started_at: number }>();
  for (const run of failed) {
    const payload: AlertPayload = {
      kind: "job_failed",
      text: `d1-keeper job ${run.job} failed: ${run.error ?? "unknown error"}`,
      run_id: run.id,
      job: run.job,
      trigger: run.trigger,
    };
    await deliver(ctx, payload, options);
    sent.push(payload);
  }
  if (failed.length > 0) await writeState(ctx, "last_failed_run", String(failed[failed.length - 1].id));
  return sent;
}
