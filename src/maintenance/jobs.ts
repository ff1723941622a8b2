import { retentionJob } from "../archival/jobs";
import { backupJob, drillJob, pruneJob } from "../backups/jobs";
import { healthSnapshotJob } from "../health/jobs";
import type { MaintenanceJob } from "./scheduled";

/**
 * cron expression (exactly as written in wrangler.toml [triggers]) → the jobs it runs, in order.
 * A test checks that every cron in wrangler.toml has jobs here and every key here is in wrangler.toml.
 */
export const jobsByCron: Record<string, MaintenanceJob[]> = {
  "0 * * * *": [healthSnapshotJob],
  "30 3 * * *": [retentionJob],
  "0 4 * * *": [backupJob, pruneJob, drillJob],
};
