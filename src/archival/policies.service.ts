import { lastRun, type RunTrigger, runExclusive } from "../maintenance/runs";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { ARCHIVE_BATCH, archiveConversationBatch, countIdleConversations } from "./conversations-archive.service";
import { cleanupOrphans, optimizeDatabase } from "./orphans.service";
import { DAY_MS, type PolicyOverrides, type RetentionPolicy, resolvePolicy } from "./policy";
import { PURGE_SET_SIZE, purgeDueVideos } from "./purge.service";

export const RETENTION_JOB = "retention.apply-policies";

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
 * Videos past their purge window, oldest deletion first. The widest window any category has bounds
 * the query (it uses idx_videos_deleted_at); each row is then checked against its own category's.
 * Pages on by (deleted_at, id) until `limit` are due, so a run of not-yet-due videos of a category
 * with a longer window cannot hide due ones deleted after them.
 */
export async function purgeCandidates(ctx: AppContext, policy: RetentionPolicy, limit: number): Promise<PurgeCandidate[]> {
  const now = ctx.now().getTime();
  const shortest = Math.min(policy.deleteDays, ...Object.values(policy.categories).map((c) => c.deleteDays));
  const due: PurgeCandidate[] = [];
  let after: [number, string] = [-1, ""];
  for (;;) {
    const { results } = await ctx.d1
      .prepare(
        `SELECT id, category, deleted_at FROM videos
         WHERE deleted_at IS NOT NULL AND deleted_at < ? AND (deleted_at > ? OR (deleted_at = ? AND id > ?))
         ORDER BY deleted_at, id LIMIT ?`,
      )
      .bind(now - shortest * DAY_MS, after[0], after[0], after[1], limit)
      .all<PurgeCandidate>();
    for (const video of results) {
      if (video.deleted_at < purgeCutoff(policy, video.category, now)) due.push(video);
      if (due.length === limit) return due;
    }
    const last = results.at(-1);
    if (!last || results.length < limit) return due;
    after = [last.deleted_at, last.id];
  }
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

/**
 * Every policy in order — purge, archive, orphans, optimize — in chunks, stopping before
 * `deadline`. Selection is by cutoff, so it is its own cursor: a run that stops early leaves the
 * rest selected for the next run, and a run with nothing left to do changes nothing.
 */
export async function runPolicies(ctx: AppContext, policy: RetentionPolicy, deadline: number) {
  const counts: PolicyCounts = {
    videos_purged: 0,
    rows_purged: 0,
    media_purged: 0,
    conversations_archived: 0,
    messages_archived: 0,
    orphan_rows: 0,
    orphan_media: 0,
    optimized: false,
    size_before_bytes: null,
    size_after_bytes: null,
  };
  const pastDeadline = () => ctx.now().getTime() >= deadline;
  if (policy.purge) {
    let failures = 0;
    while (!pastDeadline()) {
      const batch = await purgeCandidates(ctx, policy, PURGE_SET_SIZE);
      if (batch.length === 0) break;
      const result = await purgeDueVideos(ctx, { videos: batch, reason: RETENTION_JOB });
      counts.videos_purged += result.purged.length;
      counts.rows_purged += result.rows;
      counts.media_purged += result.mediaDeleted;
      failures += result.mediaErrors;
      // Every due video changed under us (restored or re-deleted): stop rather than spin.
      if (result.purged.length === 0) break;
    }
    if (failures > 0) ctx.logger.warn("purge left media behind for orphan cleanup", { videos: failures });
  }
  if (policy.archive) {
    const cutoff = ctx.now().getTime() - policy.archiveDays * DAY_MS;
    const runId = crypto.randomUUID();
    for (let batch = 0; !pastDeadline(); batch++) {
      const result = await archiveConversationBatch(ctx, { cutoff, runId, batch });
      counts.conversations_archived += result.archived;
      counts.messages_archived += result.messages;
      if (result.archived === 0 || result.archived + result.skipped < ARCHIVE_BATCH) break;
    }
  }
  if (pastDeadline()) return { counts, partial: true };
  if (policy.cleanup) {
    const orphans = await cleanupOrphans({ ctx, input: { dryRun: false } });
    counts.orphan_rows = Object.values(orphans.rows).reduce((sum, n) => sum + n, 0);
    counts.orphan_media = orphans.media.keys;
  }
  if (policy.optimize && !pastDeadline()) {
    const optimized = await optimizeDatabase({ ctx });
    counts.optimized = true;
    counts.size_before_bytes = optimized.size_before_bytes;
    counts.size_after_bytes = optimized.size_after_bytes;
  }
  return { counts, partial: pastDeadline() };
}

/** What each policy would do right now, and how the last run went. Reads only. */
export async function policyStatus({ ctx, input }: { ctx: AppContext; input: PolicyOverrides }) {
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
 * The manual door (HTTP/CLI) and the cron door share this: same code, same lease. A dry run reports
 * the plan (policyStatus) without taking the lease; a real manual run needs confirm: true.
 */
export async function applyPolicies({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: PolicyOverrides & { trigger: RunTrigger; dryRun?: boolean; confirm?: boolean; budgetMs?: number };
}) {
  const { trigger, dryRun, confirm, budgetMs, ...overrides } = input;
  const policy = resolvePolicy(ctx.env as unknown as Record<string, unknown>, overrides);
  if (dryRun) return { dryRun: true as const, plan: await policyStatus({ ctx, input: overrides }) };
  if (trigger === "manual" && !confirm) {
    throw new KeeperError(
      "CONFIRMATION_REQUIRED",
      "Applying retention policies deletes data; send confirm: true (try dryRun: true first)",
    );
  }
  const run = await runExclusive({
    ctx,
    input: { job: RETENTION_JOB, trigger, budgetMs },
    work: async ({ deadline }) => runPolicies(ctx, policy, deadline),
  });
  return { dryRun: false as const, run };
}
