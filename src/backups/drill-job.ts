import type { JobDefinition, JobSlice } from "../maintenance/job-runtime";
import { listBackups } from "./catalog.service";
import { type RestoreState, restoreJobDefinition } from "./restore-job";

export const DRILL_JOB = "backups.drill";

/**
 * The restore drill as a long job: the newest complete backup restored into SCRATCH_DB (which is
 * disposable, so always with force) through the restore job's own slices — check, data, verify —
 * and every table's digest compared with the manifest. A mismatch fails the run, which the health
 * score and alerts see.
 */

export interface DrillJobInput {
  /** When the drill was asked for (cron: the day's run). */
  requestedAt: number;
}

export interface DrillState {
  /** null: there was no backup to drill. */
  restore: RestoreState | null;
}

function sliceOf(state: DrillState, slice: JobSlice<RestoreState> | null): JobSlice<DrillState> {
  if (!slice) return { state, done: true, progress: { done: 0, total: 0, unit: "phases", phase: "no backup to drill yet" } };
  return {
    state: { restore: slice.state },
    done: slice.done,
    progress: { ...slice.progress, phase: `drill: ${slice.progress.phase}` },
    record: slice.record,
  };
}

export const drillJobDefinition: JobDefinition<DrillJobInput, DrillState> = {
  kind: "drill",
  job: DRILL_JOB,
  async begin({ ctx }) {
    const [latest] = await listBackups({ ctx });
    if (!latest) return sliceOf({ restore: null }, null);
    const slice = await restoreJobDefinition.begin({
      ctx,
      input: { id: latest.id, target: "scratch", force: true, confirm: true },
    });
    return sliceOf({ restore: slice.state }, slice);
  },
  async advance({ ctx, state }) {
    return sliceOf(state, await restoreJobDefinition.advance({ ctx, state: state.restore as RestoreState }));
  },
  async finish({ ctx, state }) {
    if (!state.restore) return { backup: null, note: "no backup to drill yet" };
    // The restore's finish fails the run when a table differs from the manifest.
    return restoreJobDefinition.finish({ ctx, state: state.restore });
  },
};
