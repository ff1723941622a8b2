import { type JobOutcome, type RunTrigger, runExclusive } from "../maintenance/runs";
import type { AppContext } from "../platform/context";
import { listBackups } from "./catalog.service";
import { restoreBackup } from "./restore.service";

export const DRILL_JOB = "backups.drill";

/**
 * The restore drill: the newest backup restored into SCRATCH_DB (which is disposable, so always
 * with force) and every table's digest compared with the manifest. A mismatch fails the run, which
 * the health score and alerts see.
 */
export async function runRestoreDrill({ ctx, input }: { ctx: AppContext; input: { trigger: RunTrigger } }) {
  return runExclusive({
    ctx,
    input: { job: DRILL_JOB, trigger: input.trigger },
    work: async (): Promise<JobOutcome> => {
      const [latest] = await listBackups({ ctx });
      if (!latest) return { counts: { backup: null, note: "no backup to drill yet" } };
      const result = await restoreBackup({
        ctx,
        input: { id: latest.id, target: "scratch", force: true, confirm: true, dryRun: false },
      });
      if (!result.verified)
        throw new Error(
          `restore drill of ${latest.id}: ${result.mismatches.map((m) => m.table).join(", ")} differ from the manifest`,
        );
      return { counts: { backup: latest.id, tables: latest.tables.length, rows: latest.totals.rows, verified: true } };
    },
  });
}
