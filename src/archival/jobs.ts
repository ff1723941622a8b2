import type { MaintenanceJob } from "../maintenance/scheduled";
import { applyPolicies } from "./policies.service";

/** The daily retention run (cron `30 3 * * *`): starts the retention Workflow with the configured defaults. */
export const retentionJob: MaintenanceJob = {
  name: "retention.apply-policies",
  run: async ({ ctx }) => {
    const result = await applyPolicies({ ctx, input: { trigger: "cron" } });
    if (result.dryRun) throw new Error("a cron run is never a dry run");
    return result.run;
  },
};
