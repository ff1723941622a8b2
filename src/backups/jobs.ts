import { runExclusive } from "../maintenance/runs";
import type { MaintenanceJob } from "../maintenance/scheduled";
import { BACKUP_JOB, createBackup } from "./create.service";
import { runRestoreDrill } from "./drill.service";
import { pruneBackups } from "./prune.service";

/** Daily (cron `0 4 * * *`): back up, then prune by the configured rules, then drill the newest. */
export const backupJob: MaintenanceJob = {
  name: BACKUP_JOB,
  run: async ({ ctx }) => (await createBackup({ ctx, input: { trigger: "cron" } })).run,
};

export const pruneJob: MaintenanceJob = {
  name: "backups.prune",
  run: async ({ ctx }) =>
    runExclusive({
      ctx,
      input: { job: "backups.prune", trigger: "cron" },
      work: async () => {
        const result = await pruneBackups({ ctx, input: { dryRun: false, confirm: true, trigger: "cron" } });
        return { counts: { kept: result.keep.length, deleted: result.deleted.length } };
      },
    }),
};

export const drillJob: MaintenanceJob = {
  name: "backups.drill",
  run: async ({ ctx }) => runRestoreDrill({ ctx, input: { trigger: "cron" } }),
};
