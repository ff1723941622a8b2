import { startJob } from "../maintenance/jobs.service";
import { lastRun, type RunTrigger } from "../maintenance/runs";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { countIdleConversations } from "./conversations-archive.service";
import { cleanupOrphans } from "./orphans.service";
import { DAY_MS, type PolicyOverrides, RETENTION_JOB, type RetentionPolicy, resolvePolicy } from "./policy";
import type { PolicyRunResult, PolicyStatus } from "./schemas";

export { RETENTION_JOB };

interface PurgeCandidate {
  id: string;
  category: string | null;
  deleted_at: number;
}

function purgeCutoff(policy: RetentionPolicy, category: string | null, now: number): number {
  const days = (category && policy.categories[category]?.deleteDays) || policy.deleteDays;
  return now - days * DAY_MS;
}

/**
 * Videos past their purge window, oldest deletion first, in one query whatever the categories: the
 * widest window any category has bounds it (it uses idx_videos_deleted_at), and each row is checked
 * against its own category's cutoff in SQL (passed as one JSON object), so a run of not-yet-due
 * videos of a category with a longer window neither hides due ones deleted after them nor costs a
 * query per page (a purge unit must fit a step's budget).
 */
export async function purgeCandidates(ctx: AppContext, policy: RetentionPolicy, limit: number): Promise<PurgeCandidate[]> {
  const now = ctx.now().getTime();
  const shortest = Math.min(policy.deleteDays, ...Object.values(policy.categories).map((c) => c.deleteDays));
  const cutoffs = Object.fromEntries(
    Object.keys(policy.categories).map((category) => [category, purgeCutoff(policy, category, now)]),
  );
  const { results } = await ctx.d1
    .prepare(
      `SELECT id, category, deleted_at FROM videos
       WHERE deleted_at IS NOT NULL AND deleted_at < ?1
         AND deleted_at < coalesce((SELECT value FROM json_each(?2) WHERE key = videos.category), ?3)
       ORDER BY deleted_at, id LIMIT ?4`,
    )
    .bind(now - shortest * DAY_MS, JSON.stringify(cutoffs), purgeCutoff(policy, null, now), limit)
    .all<PurgeCandidate>();
  return results;
}

export interface PolicyCounts {
  [key: string]: number | boolean | null;
  videos_purged: number;
  rows_purged: number;
  media_purged: number;
  conversations_archived: number;
  messages_archived: number;
  orphan_rows: number;
  orphan_media: number;
  optimized: boolean;
  size_before_bytes: number | null;
  size_after_bytes: number | null;
}

/** What each policy would do right now, and how the last run went. Reads only. */
export async function policyStatus({ ctx, input }: { ctx: AppContext; input: PolicyOverrides }): Promise<PolicyStatus> {
  const policy = resolvePolicy(ctx.env as unknown as Record<string, unknown>, input);
  const now = ctx.now().getTime();
  const purge = await purgeCandidates(ctx, policy, 1000);
  const archiveCutoff = now - policy.archiveDays * DAY_MS;
  const orphans = await cleanupOrphans({ ctx, input: { dryRun: true } });
  const last = await lastRun({ ctx, input: { job: RETENTION_JOB } });
  return {
    policy,
    now: new Date(now).toISOString(),
    purge: {
      enabled: policy.purge,
      videos: purge.length,
      video_ids: purge.map((video) => video.id),
      default_cutoff: new Date(now - policy.deleteDays * DAY_MS).toISOString(),
    },
    archive: {
      enabled: policy.archive,
      conversations: await countIdleConversations(ctx, archiveCutoff),
      cutoff: new Date(archiveCutoff).toISOString(),
    },
    cleanup: {
      enabled: policy.cleanup,
      orphan_rows: orphans.rows,
      orphan_media_videos: orphans.media.videos,
      orphan_media_keys: orphans.media.keys,
    },
    optimize: { enabled: policy.optimize },
    last_run: last,
  };
}

/**
 * The manual door (HTTP/CLI) and the cron door share this: same Workflow, same lease. A dry run
 * reports the plan (policyStatus) without starting anything; a real manual run needs confirm: true.
 * The job runs as a Workflow (src/archival/retention-job.ts): this returns its run at once, still
 * `running`; `GET /admin/jobs/{id}` follows it.
 */
export async function applyPolicies({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: PolicyOverrides & { trigger: RunTrigger; dryRun?: boolean; confirm?: boolean };
}): Promise<PolicyRunResult> {
  const { trigger, dryRun, confirm, ...overrides } = input;
  const policy = resolvePolicy(ctx.env as unknown as Record<string, unknown>, overrides);
  if (dryRun) return { dryRun: true as const, plan: await policyStatus({ ctx, input: overrides }) };
  if (trigger === "manual" && !confirm) {
    throw new KeeperError(
      "CONFIRMATION_REQUIRED",
      "Applying retention policies deletes data; send confirm: true (try dryRun: true first)",
    );
  }
  const { run, started } = await startJob({
    ctx,
    input: { kind: "retention", trigger, params: { policy, requestedAt: ctx.now().getTime() } },
  });
  return { dryRun: false as const, run, started };
}
