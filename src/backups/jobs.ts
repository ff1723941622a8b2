import { startJob } from "../maintenance/jobs.service";
import { runExclusive } from "../maintenance/runs";
import type { MaintenanceJob } from "../maintenance/scheduled";
import { BACKUP_JOB } from "./create.service";
import { DRILL_JOB } from "./drill-job";
import { pruneBackups } from "./prune.service";

/**
 * Daily (cron `0 4 * * *`): start the backup Workflow, prune by the configured rules, start the
 * drill Workflow on the newest complete backup. The Workflows run on in their own invocations (so
 * a drill that fails cannot take prune down, nor the other way round); today's backup is drilled
 * tomorrow.
 */
export const backupJob: MaintenanceJob = {
  name: BACKUP_JOB,
  run: async ({ ctx }) =>
    (await startJob({ ctx, input: { kind: "backup", trigger: "cron", params: { requestedAt: ctx.now().getTime() } } })).run,
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
  name: DRILL_JOB,
  run: async ({ ctx }) =>
    (await startJob({ ctx, input: { kind: "drill", trigger: "cron", params: { requestedAt: ctx.now().getTime() } } })).run,
};
