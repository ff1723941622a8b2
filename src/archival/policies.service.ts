import { type JobRun, lastRun, type RunTrigger, runExclusive } from "../maintenance/runs";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { archiveConversations, countArchivable } from "./conversation-archive.service";
import { optimizeDatabase } from "./optimize.service";
import { cleanupOrphans } from "./orphans.service";
import { DAY_MS, type RetentionPolicy, retentionPolicyFrom } from "./policy";
import { purgeVideo } from "./purge.service";

export const RETENTION_JOB = "retention.apply-policies";

export interface PolicyOverrides {
  archiveDays?: number;
  deleteDays?: number;
  deleteDaysByCategory?: Record<string, number>;
  optimize?: boolean;
}

export function effectivePolicy(ctx: AppContext, overrides: PolicyOverrides): RetentionPolicy {
  const base = retentionPolicyFrom(ctx.env as unknown as Record<string, unknown>);
  return {
    archiveDays: overrides.archiveDays ?? base.archiveDays,
    deleteDays: overrides.deleteDays ?? base.deleteDays,
    deleteDaysByCategory: { ...base.deleteDaysByCategory, ...(overrides.deleteDaysByCategory ?? {}) },
    optimize: overrides.optimize ?? base.optimize,
  };
}

const deleteCutoffFor = (policy: RetentionPolicy, now: number, category: string | null) =>
  now -
  (category !== null && category in policy.deleteDaysByCategory ? policy.deleteDaysByCategory[category] : policy.deleteDays) *
    DAY_MS;

/** Soft-deleted videos past their category's window, paged by (deleted_at, id); never a whole table. */
async function* purgeCandidates(ctx: AppContext, policy: RetentionPolicy) {
  const now = ctx.now().getTime();
  const widest = now - Math.min(policy.deleteDays, ...Object.values(policy.deleteDaysByCategory)) * DAY_MS;
  let after: [number, string] = [-1, ""];
  for (;;) {
    const { results } = await ctx.d1
      .prepare(
        `SELECT id, category, deleted_at FROM videos
         WHERE deleted_at IS NOT NULL AND deleted_at < ? AND (deleted_at > ? OR (deleted_at = ? AND id > ?))
         ORDER BY deleted_at, id LIMIT 100`,
      )
      .bind(widest, after[0], after[0], after[1])
      .all<{ id: string; category: string | null; deleted_at: number }>();
    for (const row of results) {
      const cutoff = deleteCutoffFor(policy, now, row.category);
      if (row.deleted_at < cutoff) yield { id: row.id, cutoff };
    }
    const last = results.at(-1);
    if (!last || results.length < 100) return;
    after = [last.deleted_at, last.id];
  }
}

export interface PolicyPreview {
  policy: RetentionPolicy;
  archive_conversations: { cutoff: string; conversations: number; messages: number };
  purge_videos: { count: number; ids: string[] };
  orphans: Awaited<ReturnType<typeof cleanupOrphans>>;
  optimize: { enabled: boolean; size_bytes: number | null };
}

const PREVIEW_IDS = 100;

/** What each policy would do right now, changing nothing. */
export async function previewPolicies({ ctx, input }: { ctx: AppContext; input: PolicyOverrides }): Promise<PolicyPreview> {
  const policy = effectivePolicy(ctx, input);
  const archiveCutoff = ctx.now().getTime() - policy.archiveDays * DAY_MS;
  const ids: string[] = [];
  let count = 0;
  for await (const candidate of purgeCandidates(ctx, policy)) {
    count++;
    if (ids.length < PREVIEW_IDS) ids.push(candidate.id);
  }
  const size = await optimizeDatabase({ ctx, input: { dryRun: true } });
  return {
    policy,
    archive_conversations: { cutoff: new Date(archiveCutoff).toISOString(), ...(await countArchivable(ctx, archiveCutoff)) },
    purge_videos: { count, ids },
    orphans: await cleanupOrphans({ ctx, input: { dryRun: true, confirm: false } }),
    optimize: { enabled: policy.optimize, size_bytes: size.size_before },
  };
}

type Phase = "archive" | "purge" | "orphans" | "optimize";
const phases: Phase[] = ["archive", "purge", "orphans", "optimize"];

/**
 * Runs every policy under the retention lease. Each phase selects only what is still past its
 * cutoff, so a run stopped by its deadline resumes at the stored phase and simply finds less to do.
 */
export async function applyPolicies({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: PolicyOverrides & { trigger: RunTrigger; confirm: boolean; budgetMs?: number };
}): Promise<JobRun> {
  if (input.trigger === "manual" && !input.confirm) {
    throw new KeeperError("CONFIRMATION_REQUIRED", "Applying policies deletes data: send confirm: true (or dry_run: true)");
  }
  const policy = effectivePolicy(ctx, input);
  return runExclusive<{ phase: Phase }>({
    ctx,
    input: { job: RETENTION_JOB, trigger: input.trigger, budgetMs: input.budgetMs },
    work: async ({ deadline, cursor, saveCursor }) => {
      const counts: Record<string, number> = {
        conversations_archived: 0,
        messages_archived: 0,
        videos_purged: 0,
        media_objects_deleted: 0,
        orphan_rows_deleted: 0,
        orphan_media_objects_deleted: 0,
      };
      const start = cursor ? phases.indexOf(cursor.phase) : 0;
      for (const phase of phases.slice(Math.max(start, 0))) {
        if (ctx.now().getTime() >= deadline) {
          await saveCursor({ phase });
          return { counts: { ...counts, resume_at: phases.indexOf(phase) }, partial: true };
        }
        if (phase === "archive") {
          const archived = await archiveConversations({
            ctx,
            input: { olderThanDays: policy.archiveDays, dryRun: false, confirm: true, deadline },
          });
          counts.conversations_archived += archived.archived;
          counts.messages_archived += archived.messages;
          if (archived.partial) {
            await saveCursor({ phase });
            return { counts, partial: true };
          }
        } else if (phase === "purge") {
          for await (const candidate of purgeCandidates(ctx, policy)) {
            if (ctx.now().getTime() >= deadline) {
              await saveCursor({ phase });
              return { counts, partial: true };
            }
            const purged = await purgeVideo({
              ctx,
              input: { id: candidate.id, dryRun: false, confirm: true, requireDeletedBefore: candidate.cutoff },
            });
            counts.videos_purged += purged.deleted?.videos ?? 0;
            counts.media_objects_deleted += purged.deleted?.media_objects ?? 0;
          }
        } else if (phase === "orphans") {
          const orphans = await cleanupOrphans({ ctx, input: { dryRun: false, confirm: true } });
          counts.orphan_rows_deleted += Object.values(orphans.rows).reduce((a, b) => a + b, 0);
          counts.orphan_media_objects_deleted += orphans.media_objects_deleted;
        } else if (policy.optimize) {
          const optimized = await optimizeDatabase({ ctx, input: { dryRun: false } });
          counts.size_before = optimized.size_before ?? 0;
          counts.size_after = optimized.size_after ?? 0;
        }
      }
      await saveCursor(null);
      return { counts };
    },
  });
}

export async function retentionStatus({ ctx, input }: { ctx: AppContext; input: PolicyOverrides }) {
  return {
    would: await previewPolicies({ ctx, input }),
    last_run: await lastRun({ ctx, input: { job: RETENTION_JOB } }),
    last_success: await lastRun({ ctx, input: { job: RETENTION_JOB, status: "succeeded" } }),
  };
}
