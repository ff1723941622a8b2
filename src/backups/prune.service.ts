import { z } from "@hono/zod-openapi";
import { recordAudit } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { deletePrefix } from "../platform/r2";
import { forgetBackupChecks } from "./backup-checks.service";
import { idSecondMs, listBackupIds, listBackups } from "./catalog.service";
import { BACKUP_JOB } from "./create.service";
import { BACKUP_PREFIX, type Manifest, manifestKey } from "./manifest";
import { RESTORE_JOB } from "./restore-job";

const count = z.number().int().min(0).max(3650);
export const RetentionRules = z
  .object({
    keepDays: count.optional().openapi({ description: "Keep every backup younger than this many days (the seed's --keep-days)" }),
    keepLast: count.optional().openapi({ description: "Keep the newest N backups" }),
    daily: count.optional().openapi({ description: "Keep the newest backup of each of the last N days that have one" }),
    weekly: count.optional().openapi({ description: "… of each of the last N ISO weeks" }),
    monthly: count.optional().openapi({ description: "… of each of the last N months" }),
  })
  .strict();
export type RetentionRules = z.output<typeof RetentionRules>;

export const PruneResult = z
  .object({
    dryRun: z.boolean(),
    rules: RetentionRules.openapi({ description: "The rules applied: the request's, or BACKUP_KEEP_* and the defaults" }),
    keep: z.array(z.object({ id: z.string(), why: z.array(z.string()) })),
    delete: z.array(z.string()).openapi({ description: "Complete backups no rule keeps" }),
    incomplete: z.array(z.string()).openapi({ description: "Leftovers of failed runs (no manifest, older than two days)" }),
    deleted: z.array(z.string()).openapi({ description: "What this call deleted (none on a dry run)" }),
  })
  .openapi("BackupPruneResult");
export type PruneResult = z.output<typeof PruneResult>;

const DAY_MS = 86_400_000;
/** Objects of a backup that never got its manifest, older than this, are leftovers of a failed run. */
const INCOMPLETE_GRACE_MS = 2 * DAY_MS;

const isoWeek = (date: Date) => {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  day.setUTCDate(day.getUTCDate() + 4 - (day.getUTCDay() || 7));
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  return `${day.getUTCFullYear()}-W${Math.ceil(((day.getTime() - yearStart) / DAY_MS + 1) / 7)}`;
};

/** Which backups the rules keep, and why; the newest backup is always kept, whatever the rules say. */
export function selectKept(backups: Manifest[], rules: RetentionRules, now: number): Map<string, string[]> {
  const sorted = [...backups].sort((a, b) => b.created_at.localeCompare(a.created_at));
  const reasons = new Map<string, string[]>();
  const keep = (id: string, reason: string) => reasons.set(id, [...(reasons.get(id) ?? []), reason]);
  if (sorted[0]) keep(sorted[0].id, "newest");
  for (const b of sorted.slice(0, rules.keepLast ?? 0)) keep(b.id, "keep-last");
  if (rules.keepDays !== undefined)
    for (const b of sorted) if (now - Date.parse(b.created_at) < rules.keepDays * DAY_MS) keep(b.id, "keep-days");
  const tier = (limit: number | undefined, bucketOf: (d: Date) => string, name: string) => {
    if (!limit) return;
    const seen = new Set<string>();
    for (const b of sorted) {
      const bucket = bucketOf(new Date(b.created_at));
      if (seen.has(bucket)) continue;
      if (seen.size >= limit) break;
      seen.add(bucket);
      keep(b.id, name);
    }
  };
  tier(rules.daily, (d) => d.toISOString().slice(0, 10), "daily");
  tier(rules.weekly, isoWeek, "weekly");
  tier(rules.monthly, (d) => d.toISOString().slice(0, 7), "monthly");
  return reasons;
}

export function rulesFromEnv(env: Record<string, unknown>): RetentionRules {
  const number = (key: string, fallback: number) => {
    const value = Number(env[key] ?? fallback);
    return Number.isInteger(value) && value >= 0 ? value : fallback;
  };
  return { keepDays: number("BACKUP_KEEP_DAYS", 30), keepLast: number("BACKUP_KEEP_LAST", 7), daily: 7, weekly: 4, monthly: 6 };
}

/**
 * Deletes backups no rule keeps (manifest first, so a half-deleted backup no longer "exists"),
 * and leftovers of failed runs older than two days — none while a backup or a restore runs, so
 * never the backup a run is still writing.
 */
export async function pruneBackups({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: RetentionRules & { dryRun: boolean; confirm: boolean; trigger?: "cron" | "manual" };
}): Promise<PruneResult> {
  const { dryRun, confirm, trigger, ...given } = input;
  const rules = Object.values(given).some((value) => value !== undefined)
    ? given
    : rulesFromEnv(ctx.env as unknown as Record<string, unknown>);
  const now = ctx.now().getTime();
  const backups = await listBackups({ ctx });
  const kept = selectKept(backups, rules, now);
  const doomed = backups.filter((b) => !kept.has(b.id)).map((b) => b.id);
  // A backup being written (by the backup job, or as a restore's safety backup) has no manifest
  // yet: while either job runs, no incomplete backup counts as a leftover.
  const writing = await ctx.d1
    .prepare(`SELECT count(*) AS n FROM keeper_leases WHERE name IN (?, ?) AND expires_at > ?`)
    .bind(BACKUP_JOB, RESTORE_JOB, now)
    .first<{ n: number }>();
  const complete = new Set(backups.map((b) => b.id));
  const leftovers: string[] = [];
  for (const id of (writing?.n ?? 0) > 0 ? [] : await listBackupIds(ctx)) {
    if (complete.has(id)) continue;
    const started = idSecondMs(id);
    if (Number.isFinite(started) && now - started > INCOMPLETE_GRACE_MS) leftovers.push(id);
  }
  const plan = { rules, keep: [...kept].map(([id, why]) => ({ id, why })), delete: doomed, incomplete: leftovers };
  if (dryRun) return { dryRun: true, ...plan, deleted: [] };
  if (trigger !== "cron" && !confirm) {
    throw new KeeperError("CONFIRMATION_REQUIRED", "Pruning deletes backups; send confirm: true (try dryRun: true first)");
  }
  const deleted: string[] = [];
  for (const id of [...doomed, ...leftovers]) {
    await ctx.backups.delete(manifestKey(id));
    const objects = await deletePrefix(ctx.backups, `${BACKUP_PREFIX}${id}/`);
    await forgetBackupChecks(ctx, id);
    await recordAudit(ctx, { action: "backups.prune", target: id, detail: { objects, incomplete: leftovers.includes(id) } });
    deleted.push(id);
  }
  return { dryRun: false, ...plan, deleted };
}
