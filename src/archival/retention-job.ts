import type { JobDefinition, JobSlice, StepContext } from "../maintenance/job-runtime";
import type { RunCounts } from "../maintenance/runs";
import { ARCHIVE_BATCH, archiveConversationBatch } from "./conversations-archive.service";
import { cleanupOrphanMediaPage, cleanupOrphanRows, optimizeDatabase } from "./orphans.service";
import { type PolicyCounts, purgeCandidates } from "./policies.service";
import { DAY_MS, RETENTION_JOB, type RetentionPolicy } from "./policy";
import { PURGE_SET_SIZE, purgeDueVideos } from "./purge.service";

/**
 * Retention as a long job: purge → archive → orphan rows → orphan media → optimize, each phase in
 * units (a purge set, an archive batch, a page of the MEDIA listing) and each step doing as many
 * units as its budget holds. Selection is by cutoff, so the database itself says what is left; the
 * state between steps is the phase, the counts and the MEDIA listing cursor — a few hundred bytes.
 */

type Phase = "purge" | "archive" | "orphan-rows" | "orphan-media" | "optimize" | "done";

export interface RetentionInput {
  policy: RetentionPolicy;
  /** When the job was asked for: the cutoffs are measured from here, not from when a step runs. */
  requestedAt: number;
}

export interface RetentionState {
  policy: RetentionPolicy;
  /** When the job was asked for: every cutoff is measured from it, in every step. */
  now: number;
  phase: Phase;
  archiveRunId: string;
  archiveBatch: number;
  mediaCursor: string | null;
  mediaFailures: number;
  /** The largest cost of one unit seen so far: a step starts another unit only if that still fits. */
  unitCost: { queries: number; r2Calls: number };
  counts: PolicyCounts;
}

function nextPhase(policy: RetentionPolicy, after: Phase): Phase {
  const order: [Phase, boolean][] = [
    ["purge", policy.purge],
    ["archive", policy.archive],
    ["orphan-rows", policy.cleanup],
    ["orphan-media", policy.cleanup],
    ["optimize", policy.optimize],
  ];
  return order.slice(order.findIndex(([phase]) => phase === after) + 1).find(([, enabled]) => enabled)?.[0] ?? "done";
}

/** One unit of the current phase; returns the phase to continue with. */
async function runUnit(ctx: StepContext, state: RetentionState): Promise<Phase> {
  const counts = state.counts;
  switch (state.phase) {
    case "purge": {
      const batch = await purgeCandidates(ctx, state.policy, PURGE_SET_SIZE);
      if (batch.length === 0) return nextPhase(state.policy, "purge");
      const result = await purgeDueVideos(ctx, { videos: batch, reason: RETENTION_JOB });
      counts.videos_purged += result.purged.length;
      counts.rows_purged += result.rows;
      counts.media_purged += result.mediaDeleted;
      state.mediaFailures += result.mediaErrors;
      // Every due video changed under us (restored or re-deleted): move on rather than spin.
      return result.purged.length === 0 ? nextPhase(state.policy, "purge") : "purge";
    }
    case "archive": {
      const cutoff = state.now - state.policy.archiveDays * DAY_MS;
      const result = await archiveConversationBatch(ctx, { cutoff, runId: state.archiveRunId, batch: state.archiveBatch });
      state.archiveBatch++;
      counts.conversations_archived += result.archived;
      counts.messages_archived += result.messages;
      if (result.archived === 0 || result.archived + result.skipped < ARCHIVE_BATCH) return nextPhase(state.policy, "archive");
      return "archive";
    }
    case "orphan-rows": {
      const rows = await cleanupOrphanRows({ ctx, input: { dryRun: false } });
      counts.orphan_rows += Object.values(rows).reduce((sum, n) => sum + n, 0);
      return nextPhase(state.policy, "orphan-rows");
    }
    case "orphan-media": {
      const page = await cleanupOrphanMediaPage({ ctx, input: { dryRun: false, cursor: state.mediaCursor } });
      counts.orphan_media += page.keys;
      state.mediaCursor = page.next;
      return page.next === null ? nextPhase(state.policy, "orphan-media") : "orphan-media";
    }
    case "optimize": {
      const optimized = await optimizeDatabase({ ctx });
      counts.optimized = true;
      counts.size_before_bytes = optimized.size_before_bytes;
      counts.size_after_bytes = optimized.size_after_bytes;
      return "done";
    }
    case "done":
      return "done";
  }
}

function progressOf(state: RetentionState): JobSlice<RetentionState> {
  const phases: Phase[] = ["purge", "archive", "orphan-rows", "orphan-media", "optimize", "done"];
  return {
    state,
    done: state.phase === "done",
    progress: { done: phases.indexOf(state.phase), total: phases.length - 1, unit: "phases", phase: state.phase },
  };
}

export const retentionJobDefinition: JobDefinition<RetentionInput, RetentionState> = {
  kind: "retention",
  job: RETENTION_JOB,
  async begin({ input }) {
    const state: RetentionState = {
      policy: input.policy,
      now: input.requestedAt,
      phase: input.policy.purge ? "purge" : nextPhase(input.policy, "purge"),
      archiveRunId: crypto.randomUUID(),
      archiveBatch: 0,
      mediaCursor: null,
      mediaFailures: 0,
      unitCost: { queries: 0, r2Calls: 0 },
      counts: {
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
      },
    };
    return progressOf(state);
  },
  async advance({ ctx, state }) {
    // Cutoffs are the job's, not the step's: a job that spans midnight selects the same rows.
    const jobCtx: StepContext = { ...ctx, now: () => new Date(state.now) };
    do {
      const before = ctx.meter.reading();
      state.phase = await runUnit(jobCtx, state);
      const after = ctx.meter.reading();
      state.unitCost = {
        queries: Math.max(state.unitCost.queries, after.queries - before.queries),
        r2Calls: Math.max(state.unitCost.r2Calls, after.r2Calls - before.r2Calls),
      };
    } while (state.phase !== "done" && ctx.meter.hasRoom(state.unitCost));
    return progressOf(state);
  },
  async finish({ ctx, state }): Promise<RunCounts> {
    if (state.mediaFailures > 0) ctx.logger.warn("purge left media behind for orphan cleanup", { videos: state.mediaFailures });
    return state.counts;
  },
};
