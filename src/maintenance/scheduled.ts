import type { KeeperConfig } from "../platform/config";
import { createLogger } from "../platform/logger";

/** A maintenance job run by a Cron Trigger; areas register theirs in `jobsByCron` below. */
export interface MaintenanceJob {
  name: string;
  run(input: { env: Env; config: KeeperConfig; scheduledTime: Date; signal: AbortSignal }): Promise<void>;
}

/** cron expression (exactly as in wrangler.toml) → the jobs it runs, in order. */
export const jobsByCron: Record<string, MaintenanceJob[]> = {};

export async function dispatchScheduled(
  controller: ScheduledController,
  env: Env,
  config: KeeperConfig,
  jobs: Record<string, MaintenanceJob[]> = jobsByCron,
): Promise<{ ran: string[]; failed: string[] }> {
  const logger = createLogger({ cron: controller.cron });
  const selected = jobs[controller.cron];
  if (!selected) {
    logger.warn("no maintenance job is registered for this cron", {});
    return { ran: [], failed: [] };
  }
  const ran: string[] = [];
  const failed: string[] = [];
  const abort = new AbortController();
  for (const job of selected) {
    try {
      await job.run({ env, config, scheduledTime: new Date(controller.scheduledTime), signal: abort.signal });
      ran.push(job.name);
    } catch (error) {
      failed.push(job.name);
      logger.error("maintenance job failed", { job: job.name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { ran, failed };
}
