import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { retentionJobDefinition } from "../archival/retention-job";
import { backupJobDefinition } from "../backups/backup-job";
import { drillJobDefinition } from "../backups/drill-job";
import { restoreJobDefinition } from "../backups/restore-job";
import { queryMonitor } from "../health/install";
import type { AppDependencies } from "../platform/context";
import { type JobDefinition, type JobKind, type JobParams, runJob } from "./job-runtime";

const deps: AppDependencies = { queryMonitor };

/** Every long job's definition, by kind: the runtime and the routes look jobs up here. */
export const jobDefinitions = {
  retention: retentionJobDefinition,
  backup: backupJobDefinition,
  restore: restoreJobDefinition,
  drill: drillJobDefinition,
} satisfies Record<JobKind, JobDefinition<never, unknown>>;

export type StartableKind = keyof typeof jobDefinitions;

/** The Workflow binding of each kind (wrangler.toml [[workflows]]). */
export function workflowBinding(env: Env, kind: StartableKind): Workflow<JobParams> {
  switch (kind) {
    case "retention":
      return env.RETENTION_WORKFLOW;
    case "backup":
      return env.BACKUP_WORKFLOW;
    case "restore":
      return env.RESTORE_WORKFLOW;
    case "drill":
      return env.DRILL_WORKFLOW;
  }
}

/** Runs one kind's definition; each kind is its own Workflow class so each has its own binding. */
function runKind(
  definition: JobDefinition<never, unknown>,
  env: Env,
  event: Readonly<WorkflowEvent<JobParams>>,
  step: WorkflowStep,
) {
  return runJob({ definition: definition as JobDefinition<unknown, unknown>, params: event.payload, step, env, deps });
}

/** Retention (purge, conversation archive, orphan cleanup, optimize) as a Workflow. */
export class RetentionWorkflow extends WorkflowEntrypoint<Env, JobParams> {
  async run(event: Readonly<WorkflowEvent<JobParams>>, step: WorkflowStep) {
    return runKind(retentionJobDefinition, this.env, event, step);
  }
}

/** A backup of every table to R2 as a Workflow. */
export class BackupWorkflow extends WorkflowEntrypoint<Env, JobParams> {
  async run(event: Readonly<WorkflowEvent<JobParams>>, step: WorkflowStep) {
    return runKind(backupJobDefinition, this.env, event, step);
  }
}

/** A restore (check, safety backup, apply, verify) as a Workflow. */
export class RestoreWorkflow extends WorkflowEntrypoint<Env, JobParams> {
  async run(event: Readonly<WorkflowEvent<JobParams>>, step: WorkflowStep) {
    return runKind(restoreJobDefinition, this.env, event, step);
  }
}

/** The daily restore drill (the newest backup into SCRATCH_DB) as a Workflow. */
export class DrillWorkflow extends WorkflowEntrypoint<Env, JobParams> {
  async run(event: Readonly<WorkflowEvent<JobParams>>, step: WorkflowStep) {
    return runKind(drillJobDefinition, this.env, event, step);
  }
}
