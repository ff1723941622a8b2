import type { MaintenanceJob } from "../maintenance/scheduled";
import { applyPolicies, RETENTION_JOB } from "./policies.service";

/** The daily retention run (cron `30 3 * * *`): the same code and lease as the manual endpoint. */
export const retentionJob: MaintenanceJob = {
  name: RETENTION_JOB,
  run: ({ ctx }) => applyPolicies({ ctx, input: { trigger: "cron", confirm: true } }),
};
