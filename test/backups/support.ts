import { env } from "cloudflare:workers";
import { zstdDecompressSync } from "node:zlib";
import { backupJobDefinition } from "../../src/backups/backup-job";
import { restoreJobDefinition } from "../../src/backups/restore-job";
import type { BudgetLimits } from "../../src/maintenance/budget";
import { at, atUntilDone } from "../archival/support";
import { replacingMethod } from "../support/bindings";
import { runLocally, waitForRun } from "../support/jobs";

export const now = Date.UTC(2031, 2, 3, 4, 5, 6);
let clock = now;

/**
 * A backup at a fresh time (ids carry the time): started over HTTP, its Workflow followed to the
 * end, answered with the backup's id and whether it completed.
 */
export async function backupNow(clockAt?: number) {
  clock += 60_000;
  const res = await atUntilDone(clockAt ?? clock, "/admin/backups", { body: {} });
  const id = (res.body.run?.counts?.backup ?? null) as string;
  return { status: res.status, body: { ...res.body, backup_id: id, complete: res.body.run?.status === "succeeded" }, id };
}

/** A backup whose steps run here with other bindings (a D1 that writes between pages, say). */
export async function backupWith(bindings: Partial<Env>) {
  clock += 60_000;
  const local = await runLocally({
    definition: backupJobDefinition,
    input: { requestedAt: clock },
    bindings: { ...env, ...bindings },
    now: clock,
  });
  const counts = JSON.parse(local.run?.counts ?? "{}") as { backup?: string };
  return { run: local.run, complete: local.run?.status === "succeeded", id: counts.backup as string };
}

export interface TestManifestObject {
  key: string;
  kind: string;
  table: string | null;
  frames: number[];
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the fields they assert on
export async function manifestOf(id: string): Promise<any> {
  return (await at(now, "GET", `/admin/backups/${id}`)).body;
}

/** The SQL of some objects, decompressed here frame by frame (independently of keeper's reader). */
export async function objectSql(objects: TestManifestObject[]): Promise<string> {
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  let text = "";
  for (const object of objects) {
    const bytes = new Uint8Array(await ((await env.BACKUPS.get(object.key)) as R2ObjectBody).arrayBuffer());
    let offset = 0;
    for (const length of object.frames) {
      text += decoder.decode(zstdDecompressSync(bytes.subarray(offset, offset + length)), { stream: true });
      offset += length;
    }
  }
  return text + decoder.decode();
}

/** Statements of a dump: each ends with ";" at the end of a line. */
export const statementsOf = (sql: string) => sql.split(/(?<=;)\n/).filter((statement) => statement.trim().length > 0);

/** Every value of `table` by rowid as SQLite sees it: storage class, quote() and exact bytes. */
export async function exactRows(d1: D1Database, table: string, columns: string[]) {
  const list = columns.map((c) => `typeof("${c}"), quote("${c}"), hex("${c}")`).join(", ");
  return (await d1.prepare(`SELECT rowid, ${list} FROM "${table}" ORDER BY rowid`).raw()).map((row) => row.map(String));
}

/**
 * A restore asked for over HTTP and followed to its end: refusals the plan finds come back as they
 * are (409, 422, 428…); a started restore (202) is waited for, and its body is the finished run's
 * counts with `run` and `error` beside them.
 */
export async function restore(id: string, body: Record<string, unknown>) {
  const res = await at(now, "POST", `/admin/backups/${id}/restore`, { body });
  if (res.status !== 202) return res;
  const run = await waitForRun(res.body.run.id);
  return { status: res.status, body: { ...(run.counts ?? {}), run, error: run.error } };
}

/** A restore whose steps run here with other bindings (a D1 that fails, say), under production's limits. */
export async function restoreWith(
  id: string,
  body: { target?: "scratch" | "main"; tables?: string[]; force?: boolean; confirm?: boolean },
  bindings: Partial<Env>,
  options: { beforeStep?: (name: string) => Promise<void>; budget?: BudgetLimits } = {},
) {
  const local = await runLocally({
    definition: restoreJobDefinition,
    input: {
      id,
      target: body.target ?? "scratch",
      tables: body.tables,
      force: body.force ?? false,
      confirm: body.confirm ?? false,
    },
    bindings: { ...env, ...bindings },
    now,
    beforeStep: options.beforeStep,
    budget: options.budget,
  });
  const counts = JSON.parse(local.run?.counts ?? "null") as Record<string, unknown> | null;
  return { ...local, counts };
}

export const hex = (bytes: Uint8Array) =>
  [...bytes]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();

/**
 * `target` (a D1 or R2 binding) whose n-th call (1-based) of `method` fails, and the `times - 1`
 * calls after it; `calls()` counts them.
 */
export function failingOn<T extends object>(target: T, method: keyof T & string, failOn: number, times = 1) {
  let calls = 0;
  const binding = replacingMethod(target, method, (original) => (...args) => {
    calls++;
    if (calls >= failOn && calls < failOn + times) return Promise.reject(new Error(`${method} failed (injected, call ${calls})`));
    return original(...args);
  });
  return { binding, calls: () => calls };
}

export const appTables = ["videos", "video_context", "memory", "conversations", "messages"];

export async function lastRestoreAudit(id: string) {
  const row = await env.DB.prepare(
    "SELECT detail FROM keeper_audit_log WHERE action = 'backups.restore' AND target = ? ORDER BY id DESC LIMIT 1",
  )
    .bind(id)
    .first<{ detail: string }>();
  return row ? (JSON.parse(row.detail) as Record<string, unknown>) : null;
}
