import { createApp } from "./app";
import { queryMonitor } from "./health/install";
import { jobsByCron } from "./maintenance/jobs";
import { dispatchScheduled } from "./maintenance/scheduled";
import { parseConfig } from "./platform/config";

const deps = { queryMonitor };
const app = createApp(deps);

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    const config = parseConfig(env as unknown as Record<string, unknown>);
    ctx.waitUntil(dispatchScheduled({ controller, env, config, jobs: jobsByCron, deps }));
  },
} satisfies ExportedHandler<Env>;

// Workflow classes are found by name among the main module's exports (wrangler.toml [[workflows]]).
export { BackupWorkflow, DrillWorkflow, RestoreWorkflow, RetentionWorkflow } from "./maintenance/workflows";
