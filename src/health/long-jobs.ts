import { desc, eq, isNotNull, or, sql } from "drizzle-orm";
import { jobRuns } from "../db/schema";
import { type JobRun, presentRun } from "../maintenance/runs";
import type { AppContext } from "../platform/context";

/**
 * What the dashboard's jobs panel lists: every run still running, then the latest runs of long jobs
 * (those run as Workflow instances, which report progress), newest first.
 */
export async function runningAndLongJobs({ ctx, input }: { ctx: AppContext; input: { limit: number } }): Promise<JobRun[]> {
  const rows = await ctx.db
    .select()
    .from(jobRuns)
    .where(or(isNotNull(jobRuns.instanceId), eq(jobRuns.status, "running")))
    .orderBy(sql`${jobRuns.status} = 'running' DESC`, desc(jobRuns.startedAt), desc(jobRuns.id))
    .limit(input.limit);
  return rows.map(presentRun);
}
