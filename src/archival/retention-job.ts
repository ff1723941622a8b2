import type { StepMeter } from "../maintenance/budget";
import type { JobDefinition, JobSlice, StepContext } from "../maintenance/job-runtime";
import { addPhaseTime, type PhaseTimes, phaseTimeCounts } from "../maintenance/phase-times";
import type { RunCounts } from "../maintenance/runs";
import { ARCHIVE_BATCH, ARCHIVE_BATCH_COST, archiveConversationBatch } from "./conversations-archive.service";
import { cleanupOrphanMediaPage, cleanupOrphanRowsOf, optimizeDatabase, orphanChildTables } from "./orphans.service";
import { type PolicyCounts, purgeCandidates } from "./policies.service";
import { DAY_MS, RETENTION_JOB, type RetentionPolicy } from "./policy";
import { PURGE_SET_SIZE, purgeDueVideos } from "./purge.service";

/**
 * Retention as a long job: purge → archive → orphan rows → orphan media → optimize, each phase in
 * units (a purge set, an archive batch, a table's orphan rows, a page of the MEDIA listing) and
 * each step doing as many units as its budget holds. Units whose cost grows with their size (purge
 * sets and MEDIA pages: R2 calls per video) are sized from the room the step has left, so every
 * unit fits even the free plan's budget (45 queries and 45 R2 calls). Selection is by cutoff, so
 * the database itself says what is left; the state between steps is the phase, the counts, a table
 * index and the MEDIA listing cursor — a few hundred bytes.
 */

type Phase = "purge" | "archive" | "orphan-rows" | "orphan-media" | "optimize" | "done";

export interface RetentionInput {
  policy: RetentionPolicy;
  /** When the job was asked for: the cutoffs are measured from here, not from when a step runs. */
  requestedAt: number;
}

interface Cost {
  queries: number;
  r2Calls: number;
}

export interface RetentionState {
  policy: RetentionPolicy;
  /** When the job was asked for: every cutoff is measured from it, in every step. */
  now: number;
  phase: Phase;
  archiveRunId: string;
  archiveBatch: number;
  orphanTable: number;
  mediaCursor: string | null;
  mediaFailures: number;
  /** The largest cost of one unit seen so far, per phase: a step starts another unit only if that still fits. */
  unitCost: Partial<Record<Phase, Cost>>;
  /** The most R2 calls one video has cost (a purged or orphan video's files: a listing and a delete per 1000). */
  r2PerVideo: number;
  counts: PolicyCounts;
  /** Time each phase's units took: the run record's `purge_ms`, `archive_ms`, `orphan_rows_ms`, …. */
  phaseMs?: PhaseTimes;
}

/** What a unit of each phase costs at least, before any has run (see each service's cost note). */
const unitFloor: Record<Phase, Cost> = {
  purge: { queries: 4, r2Calls: 3 },
  archive: ARCHIVE_BATCH_COST,
  "orphan-rows": { queries: 2, r2Calls: 0 },
  "orphan-media": { queries: 2, r2Calls: 3 },
  optimize: { queries: 4, r2Calls: 0 },
  done: { queries: 0, r2Calls: 0 },
};

const needOf = (state: RetentionState, phase: Phase): Cost => {
  const seen = state.unitCost[phase];
  return {
    queries: Math.max(unitFloor[phase].queries, seen?.queries ?? 0),
    r2Calls: Math.max(unitFloor[phase].r2Calls, seen?.r2Calls ?? 0),
  };
};

/** Videos per purge set that the room left holds: one listing, then `r2PerVideo` calls per video. */
function purgeSetSize(meter: StepMeter, state: RetentionState): number {
  const room = meter.remaining();
  if (room.queries < needOf(state, "purge").queries) return 0;
  return Math.max(0, Math.min(PURGE_SET_SIZE, Math.floor((room.r2Calls - 1) / state.r2PerVideo)));
}

/** Video ids per MEDIA page that the room left holds, every one of them possibly an orphan. */
function mediaPageSize(meter: StepMeter, state: RetentionState): number {
  const room = meter.remaining();
  let size = Math.min(1000, Math.floor((room.r2Calls - 1) / state.r2PerVideo));
  // A query per 90 ids, then an audit query per orphan video.
  while (size > 0 && Math.ceil(size / 90) + size > room.queries) size--;
  return Math.max(0, size);
}

function fits(meter: StepMeter, state: RetentionState): boolean {
  if (!meter.hasRoom()) return false;
  if (state.phase === "purge") return purgeSetSize(meter, state) > 0;
  if (state.phase === "orphan-media") return mediaPageSize(meter, state) > 0;
  return meter.hasRoom(needOf(state, state.phase));
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

/** One unit of the current phase, sized to the step's room; returns the phase to continue with. */
async function runUnit(ctx: StepContext, state: RetentionState): Promise<Phase> {
  const counts = state.counts;
  switch (state.phase) {
    case "purge": {
      const batch = await purgeCandidates(ctx, state.policy, Math.max(1, purgeSetSize(ctx.meter, state)));
      if (batch.length === 0) return nextPhase(state.policy, "purge");
      const r2Before = ctx.meter.r2Calls;
      const result = await purgeDueVideos({ ctx, input: { videos: batch, reason: RETENTION_JOB } });
      learnR2PerVideo(state, ctx.meter.r2Calls - r2Before, result.purged.length);
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
      const table = orphanChildTables[state.orphanTable];
      // The finding query, then as many deletes as the room holds (at least one).
      const maxDeletes = Math.max(1, ctx.meter.remaining().queries - 1);
      const result = await cleanupOrphanRowsOf(ctx, { table, dryRun: false, maxDeletes });
      counts.orphan_rows += result.deleted;
      if (result.left > 0) return "orphan-rows";
      state.orphanTable++;
      return state.orphanTable < orphanChildTables.length ? "orphan-rows" : nextPhase(state.policy, "orphan-rows");
    }
    case "orphan-media": {
      const pageSize = Math.max(1, mediaPageSize(ctx.meter, state));
      const r2Before = ctx.meter.r2Calls;
      const page = await cleanupOrphanMediaPage({ ctx, input: { dryRun: false, cursor: state.mediaCursor, pageSize } });
      learnR2PerVideo(state, ctx.meter.r2Calls - r2Before - 1, page.videos.length);
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

/** A video with more files than any before raises the per-video cost later units are sized by. */
function learnR2PerVideo(state: RetentionState, calls: number, videos: number) {
  if (videos > 0) state.r2PerVideo = Math.max(state.r2PerVideo, Math.ceil(calls / videos));
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
      orphanTable: 0,
      mediaCursor: null,
      mediaFailures: 0,
      unitCost: {},
      r2PerVideo: 2,
      phaseMs: {},
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
    // At least one unit per step, so a step always moves on (a unit that cannot fit fails cleanly).
    do {
      const phase = state.phase;
      const before = ctx.meter.reading();
      const startedAt = ctx.now().getTime();
      state.phase = await runUnit(jobCtx, state);
      state.phaseMs ??= {};
      addPhaseTime(state.phaseMs, phase, startedAt, ctx.now().getTime());
      const after = ctx.meter.reading();
      const seen = state.unitCost[phase] ?? { queries: 0, r2Calls: 0 };
      state.unitCost[phase] = {
        queries: Math.max(seen.queries, after.queries - before.queries),
        r2Calls: Math.max(seen.r2Calls, after.r2Calls - before.r2Calls),
      };
    } while (state.phase !== "done" && fits(ctx.meter, state));
    return progressOf(state);
  },
  async finish({ ctx, state }): Promise<RunCounts> {
    if (state.mediaFailures > 0) ctx.logger.warn("purge left media behind for orphan cleanup", { videos: state.mediaFailures });
    return { ...state.counts, ...phaseTimeCounts(state.phaseMs) };
  },
};
