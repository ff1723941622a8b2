import type { Principal } from "../platform/auth";
import type { KeeperConfig } from "../platform/config";
import { type AppContext, type AppDependencies, createContext } from "../platform/context";
import type { JobRun } from "./runs";

/**
 * A maintenance job run by a Cron Trigger. Each area exports its jobs and lists them in
 * `jobsByCron` (src/maintenance/jobs.ts); a job normally wraps its work in `runExclusive`.
 */
export interface MaintenanceJob {
  name: string;
  run(input: { ctx: AppContext; scheduledTime: Date }): Promise<JobRun>;
}

const cronPrincipal: Principal = { actor: "cron", scopes: ["read", "write", "admin"] };

/** Runs every job registered for the cron that fired, in order; one failing does not stop the rest. */
export async function dispatchScheduled({
  controller,
  env,
  config,
  jobs,
  deps = {},
}: {
  controller: Pick<ScheduledController, "cron" | "scheduledTime">;
  env: Env;
  config: KeeperConfig;
  jobs: Record<string, MaintenanceJob[]>;
  deps?: AppDependencies;
}): Promise<JobRun[]> {
  const ctx = createContext(env, config, deps, {
    requestId: `cron:${controller.cron}:${controller.scheduledTime}`,
    principal: cronPrincipal,
  });
  const selected = jobs[controller.cron];
  if (!selected) {
    ctx.logger.warn("no maintenance job is registered for this cron", { cron: controller.cron });
    return [];
  }
  const runs: JobRun[] = [];
  for (const job of selected) {
    try {
      runs.push(await job.run({ ctx, scheduledTime: new Date(controller.scheduledTime) }));
    } catch (error) {
      ctx.logger.error("maintenance job threw", { job: job.name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  await ctx.flushMonitoring().catch((error) => ctx.logger.warn("query monitor flush failed", { error: String(error) }));
  return runs;
}
