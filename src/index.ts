import { createApp } from "./app";
import { jobsByCron } from "./maintenance/jobs";
import { dispatchScheduled } from "./maintenance/scheduled";
import { parseConfig } from "./platform/config";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    const config = parseConfig(env as unknown as Record<string, unknown>);
    ctx.waitUntil(dispatchScheduled({ controller, env, config, jobs: jobsByCron }));
  },
} satisfies ExportedHandler<Env>;
