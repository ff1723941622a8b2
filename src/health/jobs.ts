import { runExclusive } from "../maintenance/runs";
import type { MaintenanceJob } from "../maintenance/scheduled";
import { evaluateAlerts } from "./alerts";
import { takeSnapshot } from "./report.service";

/** Hourly (cron `0 * * * *`): snapshot, structured log line, alerts for a worse status or failed runs. */
export const healthSnapshotJob: MaintenanceJob = {
  name: "health.snapshot",
  run: async ({ ctx }) =>
    runExclusive({
      ctx,
      input: { job: "health.snapshot", trigger: "cron" },
      work: async () => {
        const report = await takeSnapshot(ctx);
        const alerts = await evaluateAlerts(ctx, report);
        return { counts: { score: report.score, status: report.status, size_bytes: report.size.bytes, alerts: alerts.length } };
      },
    }),
};
