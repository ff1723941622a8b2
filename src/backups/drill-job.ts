import { NonRetryableError } from "cloudflare:workflows";
import type { JobDefinition, JobSlice, StepContext } from "../maintenance/job-runtime";
import { recordBackupCheck } from "./backup-checks.service";
import { newestBackups } from "./catalog.service";
import { type RestoreState, restoreJobDefinition } from "./restore-job";

export const DRILL_JOB = "backups.drill";

/**
 * The restore drill as a long job: the newest complete backup restored into SCRATCH_DB (which is
 * disposable, so always with force) through the restore job's own slices — check, data, verify —
 * and every table's digest compared with the manifest. A mismatch fails the run, which the health
 * score and alerts see. Its outcome is also recorded as the backup's latest check (`kind: "drill"`),
 * which the backup list and the dashboard show.
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

/** Runs a part of the drill; a failure that ends it is recorded as the backup's failed check first. */
async function recordingFailure<T>(ctx: StepContext, state: DrillState, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (state.restore && error instanceof NonRetryableError)
      await recordBackupCheck({ ctx, input: { backupId: state.restore.input.id, kind: "drill", problems: [error.message] } });
    throw error;
  }
}

export const drillJobDefinition: JobDefinition<DrillJobInput, DrillState> = {
  kind: "drill",
  job: DRILL_JOB,
  async begin({ ctx }) {
    const [latest] = await newestBackups({ ctx, input: { limit: 1 } });
    if (!latest) return sliceOf({ restore: null }, null);
    const input = { id: latest.id, target: "scratch" as const, force: true, confirm: true };
    const slice = await restoreJobDefinition.begin({ ctx, input }).catch(async (error: unknown) => {
      if (error instanceof NonRetryableError)
        await recordBackupCheck({ ctx, input: { backupId: latest.id, kind: "drill", problems: [error.message] } });
      throw error;
    });
    return sliceOf({ restore: slice.state }, slice);
  },
  async advance({ ctx, state }) {
    return sliceOf(
      state,
      await recordingFailure(ctx, state, () => restoreJobDefinition.advance({ ctx, state: state.restore as RestoreState })),
    );
  },
  async finish({ ctx, state }) {
    const restore = state.restore;
    if (!restore) return { backup: null, note: "no backup to drill yet" };
    // The restore's finish fails the run when a table differs from the manifest.
    const counts = await recordingFailure(ctx, state, () => restoreJobDefinition.finish({ ctx, state: restore }));
    await recordBackupCheck({ ctx, input: { backupId: restore.input.id, kind: "drill", problems: [] } });
    return counts;
  },
};
