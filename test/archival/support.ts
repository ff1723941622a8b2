import { env } from "cloudflare:workers";
import { createApp } from "../../src/app";
import { replacingMethod } from "../support/bindings";
import { tokens } from "../support/http";
import { waitForRun } from "../support/jobs";

export const DAY = 86_400_000;

/** The Worker at a fixed time, optionally with other bindings (a failing bucket, say). */
export async function at(
  now: number,
  method: string,
  path: string,
  options: { body?: unknown; token?: keyof typeof tokens; env?: Partial<Env> } = {},
) {
  const app = createApp({ now: () => new Date(now) });
  const headers: Record<string, string> = { Authorization: `Bearer ${tokens[options.token ?? "admin"]}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await app.request(
    path,
    { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) },
    { ...env, ...(options.env ?? {}) },
  );
  // biome-ignore lint/suspicious/noExplicitAny: tests read fields they assert on
  const body = (await res.json()) as any;
  return { status: res.status, body };
}

/**
 * POST a route that starts a job, then follow the job to its end: `body.run` is the finished run
 * (a started job's HTTP answer is its run while still `running`).
 */
export async function atUntilDone(now: number, path: string, options: { body?: unknown } = {}) {
  const res = await at(now, "POST", path, options);
  if (res.status !== 200 || res.body.dryRun || !res.body.run) return res;
  return { status: res.status, body: { ...res.body, run: await waitForRun(res.body.run.id) } };
}

export async function putMedia(videoId: string, names = ["source/v.mp4", "frames/000001.jpg", "cache/e.json"]) {
  for (const name of names) await env.MEDIA.put(`videos/${videoId}/${name}`, `bytes of ${name}`);
  return names.map((name) => `videos/${videoId}/${name}`);
}

export async function mediaKeys(videoId: string): Promise<string[]> {
  return (await env.MEDIA.list({ prefix: `videos/${videoId}/` })).objects.map((object) => object.key);
}

export async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

export async function auditActions(target: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT action FROM keeper_audit_log WHERE target = ? ORDER BY id")
    .bind(target)
    .all<{ action: string }>();
  return results.map((row) => row.action);
}

/** A bucket that fails on the n-th call of `method` (1-based) or on every one, and passes everything else through. */
export function failingBucket(bucket: R2Bucket, method: "put" | "delete", failOn: number | "every"): R2Bucket {
  let calls = 0;
  return replacingMethod(bucket, method, (original) => (...args) => {
    calls++;
    if (failOn === "every" || calls === failOn) return Promise.reject(new Error(`R2 ${method} failed (injected, call ${calls})`));
    return original(...args);
  });
}
