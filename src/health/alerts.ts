import type { AppContext } from "../platform/context";
import type { DeliveryResult } from "./schemas";
import type { HealthStatus } from "./score";

/**
 * Alerts: a JSON POST to every URL in ALERT_WEBHOOK_URLS, signed with HMAC-SHA256 over
 * "<unix seconds>.<body>" using the ALERT_WEBHOOK_SECRET secret, sent as
 *   X-Keeper-Signature: t=<unix seconds>,v1=<hex digest>
 * (a receiver recomputes it and rejects old timestamps, which stops replays). What each webhook has
 * accepted lives in keeper_alert_state (see `evaluateAlerts`). Delivery tries three times with
 * backoff; only `ctx.fetch` is used.
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

/** A webhook's stable name that does not reveal it: the hex sha256 of its URL. */
async function webhookDigest(url: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url)));
}

/**
 * What logs and API answers show of a webhook: its origin and a digest prefix. Slack-style URLs
 * carry their secret in the path, so the path is never shown.
 */
export async function describeWebhook(url: string): Promise<string> {
  const digest = (await webhookDigest(url)).slice(0, 8);
  let origin = "(not a URL)";
  try {
    origin = new URL(url).origin;
  } catch {}
  return `${origin}/…#${digest}`;
}

interface DeliveryOptions {
  sleep?: (ms: number) => Promise<void>;
  attempts?: number;
}

/** POSTs one alert to one webhook, retrying with backoff (0.5 s, 1 s, …). */
async function deliverTo(ctx: AppContext, url: string, payload: AlertPayload, options: DeliveryOptions): Promise<DeliveryResult> {
  const secret = String((ctx.env as unknown as Record<string, unknown>).ALERT_WEBHOOK_SECRET ?? "");
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const body = JSON.stringify({ service: "d1-keeper", at: ctx.now().toISOString(), ...payload });
  const attempts = options.attempts ?? 3;
  let status: number | null = null;
  let attempt = 0;
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
  const shown = await describeWebhook(url);
  if (!ok) ctx.logger.warn("alert delivery failed", { webhook: shown, kind: payload.kind, status, attempts: attempt });
  return { url: shown, ok, status, attempts: attempt };
}

/** Sends one alert to every configured webhook (the test alert). */
export async function deliver(ctx: AppContext, payload: AlertPayload, options: DeliveryOptions = {}): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  for (const url of webhookUrls(ctx.env as unknown as Record<string, unknown>))
    results.push(await deliverTo(ctx, url, payload, options));
  return results;
}

/** Failed runs are alerted if they ended within this window; what was alerted is remembered as long. */
export const FAILED_RUN_ALERT_WINDOW_MS = 7 * 86_400_000;
const FAILED_RUNS_PER_EVALUATION = 20;

async function writeState(ctx: AppContext, key: string, value: string): Promise<void> {
  await ctx.d1
    .prepare(
      "INSERT INTO keeper_alert_state (key, value, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at",
    )
    .bind(key, value, ctx.now().getTime())
    .run();
}

/**
 * Sends what each webhook has not yet received: a status worse than the last one it was told (on the
 * first evaluation, anything but healthy), and every job run that failed within the window. State is
 * kept per webhook (keyed by a digest of its URL) and advances only when that webhook accepted the
 * alert, so a webhook that is down gets the alert at the next evaluation after it is back: at least
 * once, and exactly once when the webhook answers 2xx to what it received. An improving status is
 * recorded without an alert, so the next worsening alerts again.
 */
export async function evaluateAlerts({
  ctx,
  input,
  options = {},
}: {
  ctx: AppContext;
  input: { score: number; status: HealthStatus; checks: { name: string; ok: boolean; detail: string }[] };
  options?: DeliveryOptions;
}) {
  const now = ctx.now().getTime();
  const since = now - FAILED_RUN_ALERT_WINDOW_MS;
  await ctx.d1.prepare("DELETE FROM keeper_alert_state WHERE key LIKE 'failed_run:%' AND at < ?").bind(since).run();
  const { results: stateRows } = await ctx.d1
    .prepare("SELECT key, value FROM keeper_alert_state")
    .all<{ key: string; value: string }>();
  const state = new Map(stateRows.map((row) => [row.key, row.value]));
  const { results: failedRuns } = await ctx.d1
    .prepare(
      "SELECT id, job, trigger, error FROM keeper_job_runs WHERE status = 'failed' AND coalesce(finished_at, started_at) >= ? ORDER BY coalesce(finished_at, started_at), id",
    )
    .bind(since)
    .all<{ id: number; job: string; trigger: string; error: string | null }>();

  const sent: (AlertPayload & { webhook: string })[] = [];
  for (const url of webhookUrls(ctx.env as unknown as Record<string, unknown>)) {
    const receiver = (await webhookDigest(url)).slice(0, 16);
    const statusKey = `status:${receiver}`;
    const told = (state.get(statusKey) as HealthStatus | undefined) ?? "healthy";
    if (rank[input.status] > rank[told]) {
      const payload: AlertPayload = {
        kind: "status_worsened",
        text: `d1-keeper health ${told} → ${input.status} (score ${input.score})`,
        from: told,
        to: input.status,
        score: input.score,
        failing_checks: input.checks.filter((check) => !check.ok),
      };
      const result = await deliverTo(ctx, url, payload, options);
      if (result.ok) {
        await writeState(ctx, statusKey, input.status);
        sent.push({ ...payload, webhook: result.url });
      }
    } else if (rank[input.status] < rank[told] || !state.has(statusKey)) {
      await writeState(ctx, statusKey, input.status);
    }

    const unsent = failedRuns.filter((run) => !state.has(`failed_run:${run.id}:${receiver}`));
    for (const run of unsent.slice(0, FAILED_RUNS_PER_EVALUATION)) {
      const payload: AlertPayload = {
        kind: "job_failed",
        text: `d1-keeper job ${run.job} failed: ${run.error ?? "unknown error"}`,
        run_id: run.id,
        job: run.job,
        trigger: run.trigger,
      };
      const result = await deliverTo(ctx, url, payload, options);
      if (!result.ok) break;
      await writeState(ctx, `failed_run:${run.id}:${receiver}`, "sent");
      sent.push({ ...payload, webhook: result.url });
    }
  }
  return sent;
}
