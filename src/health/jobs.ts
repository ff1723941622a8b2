import { runExclusive } from "../maintenance/runs";
import type { MaintenanceJob } from "../maintenance/scheduled";
import { evaluateAlerts } from "./alerts";
import { healthReport, takeSnapshot } from "./report.service";

/**
 * Hourly (cron `0 * * * *`): snapshot, structured log line, then alerts for a worse status or failed
 * runs. Alerts are evaluated whether or not the snapshot succeeded: a failing snapshot is itself
 * something to alert on (its failed run), and the status comes from the live report then.
 */
export const healthSnapshotJob: MaintenanceJob = {
  name: "health.snapshot",
  run: async ({ ctx }) => {
    let report: Awaited<ReturnType<typeof takeSnapshot>> | null = null;
    const run = await runExclusive({
      ctx,
      input: { job: "health.snapshot", trigger: "cron" },
      work: async () => {
        report = await takeSnapshot(ctx);
        return { counts: { score: report.score, status: report.status, size_bytes: report.size.bytes } };
      },
    });
    if (run.status === "skipped") return run;
    const current = report ?? (await healthReport({ ctx }));
    const alerts = await evaluateAlerts({ ctx, input: current });
    ctx.logger.info("alerts evaluated", { status: current.status, sent: alerts.map((alert) => alert.kind) });
    return run;
  },
};
