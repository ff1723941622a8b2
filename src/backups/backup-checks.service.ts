import { z } from "@hono/zod-openapi";
import { eq, inArray, max } from "drizzle-orm";
import { backupChecks } from "../db/schema";
import type { AppContext } from "../platform/context";
import { listBackups, newestBackups, summarize } from "./catalog.service";
import type { Manifest } from "./manifest";

export const BackupCheck = z
  .object({
    kind: z.enum(["verify", "drill"]).openapi({ description: "verify: `keeper backup verify`; drill: a restore drill" }),
    at: z.string(),
    ok: z.boolean(),
    problems: z.number().openapi({ description: "How many problems the check found" }),
    summary: z.string().nullable().openapi({ description: "The first problems found, or null when there were none" }),
  })
  .openapi("BackupCheck");
export type BackupCheck = z.output<typeof BackupCheck>;

/** Enough of the problems to recognize the failure on the dashboard; the full list is in the check's own answer. */
const SUMMARY_PROBLEMS = 3;
const SUMMARY_MAX_CHARS = 1000;

export function summarizeProblems(problems: readonly string[]): string | null {
  if (problems.length === 0) return null;
  const shown = problems.slice(0, SUMMARY_PROBLEMS).join("; ");
  const more = problems.length > SUMMARY_PROBLEMS ? ` (+${problems.length - SUMMARY_PROBLEMS} more)` : "";
  return shown.length + more.length > SUMMARY_MAX_CHARS
    ? `${shown.slice(0, SUMMARY_MAX_CHARS - more.length - 1)}…${more}`
    : shown + more;
}

/** Stores how a check of a backup ended, so the backup list and the dashboard can show it. */
export async function recordBackupCheck({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { backupId: string; kind: BackupCheck["kind"]; problems: readonly string[] };
}): Promise<BackupCheck> {
  const at = ctx.now().getTime();
  const row = {
    backupId: input.backupId,
    kind: input.kind,
    at,
    actor: ctx.principal.actor,
    ok: input.problems.length === 0,
    problems: input.problems.length,
    summary: summarizeProblems(input.problems),
  };
  await ctx.db.insert(backupChecks).values(row);
  return presentCheck(row);
}

function presentCheck(row: Pick<typeof backupChecks.$inferSelect, "kind" | "at" | "ok" | "problems" | "summary">): BackupCheck {
  return { kind: row.kind, at: new Date(row.at).toISOString(), ok: row.ok, problems: row.problems, summary: row.summary };
}

/** Each backup's latest check (by insertion: checks are recorded as they end), for the backups given. */
export async function latestBackupChecks(ctx: AppContext, backupIds: readonly string[]): Promise<Map<string, BackupCheck>> {
  const latest = new Map<string, BackupCheck>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < backupIds.length; i += 90) {
    const ids = backupIds.slice(i, i + 90);
    const newest = ctx.db
      .select({ id: max(backupChecks.id) })
      .from(backupChecks)
      .where(inArray(backupChecks.backupId, ids))
      .groupBy(backupChecks.backupId);
    const rows = await ctx.db.select().from(backupChecks).where(inArray(backupChecks.id, newest));
    for (const row of rows) latest.set(row.backupId, presentCheck(row));
  }
  return latest;
}

/** A pruned backup's checks go with it. */
export async function forgetBackupChecks(ctx: AppContext, backupId: string): Promise<void> {
  await ctx.db.delete(backupChecks).where(eq(backupChecks.backupId, backupId));
}

/** Complete backups, newest first, each with its latest check (null: never verified nor drilled). */
export async function listBackupsWithChecks({
  ctx,
  input,
}: {
  ctx: AppContext;
  /**
   * `manifests`: the complete backups already read (listBackups or newestBackups), newest first;
   * otherwise the newest `limit` of them, or all.
   */
  input?: { manifests?: Manifest[]; limit?: number };
}) {
  const backups =
    input?.manifests ??
    (input?.limit === undefined ? await listBackups({ ctx }) : await newestBackups({ ctx, input: { limit: input.limit } }));
  const checks = await latestBackupChecks(
    ctx,
    backups.map((backup) => backup.id),
  );
  return backups.map((backup) => ({ ...summarize(backup), last_check: checks.get(backup.id) ?? null }));
}
