import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { retentionJobDefinition } from "../archival/retention-job";
import { queryMonitor } from "../health/install";
import type { AppDependencies } from "../platform/context";
import { type JobDefinition, type JobKind, type JobParams, runJob } from "./job-runtime";

const deps: AppDependencies = { queryMonitor };

/** Every long job's definition, by kind: the runtime and the routes look jobs up here. */
export const jobDefinitions = {
  retention: retentionJobDefinition,
} satisfies Partial<Record<JobKind, JobDefinition<never, unknown>>>;

export type StartableKind = keyof typeof jobDefinitions;

/** The Workflow binding of each kind (wrangler.toml [[workflows]]). */
export function workflowBinding(env: Env, kind: StartableKind): Workflow<JobParams> {
  switch (kind) {
    case "retention":
      return env.RETENTION_WORKFLOW;
  }
}

/** Retention (purge, conversation archive, orphan cleanup, optimize) as a Workflow. */
export class RetentionWorkflow extends WorkflowEntrypoint<Env, JobParams> {
  async run(event: Readonly<WorkflowEvent<JobParams>>, step: WorkflowStep) {
    return runJob({
      definition: retentionJobDefinition as JobDefinition<unknown, unknown>,
      params: event.payload,
      step,
      env: this.env,
      deps,
    });
  }
}
