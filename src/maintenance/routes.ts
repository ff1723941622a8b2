import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { jsonBody as body, jsonContent as json, keeperRoute, problems } from "../platform/route";
import { cancelJob, listJobs, showJob } from "./jobs.service";

const Progress = z
  .object({ steps: z.number(), done: z.number(), total: z.number().nullable(), unit: z.string(), phase: z.string() })
  .openapi("JobProgress");

export const JobRunSchema = z
  .object({
    id: z.number(),
    job: z.string(),
    trigger: z.enum(["cron", "manual"]),
    actor: z.string(),
    status: z.enum(["running", "succeeded", "partial", "failed", "skipped", "cancelled"]),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    counts: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).nullable(),
    error: z.string().nullable(),
    instance_id: z.string().nullable(),
    progress: Progress.nullable(),
  })
  .openapi("JobRun");

const idParams = z.object({ id: z.coerce.number().int().positive() });

export const listJobsRoute = keeperRoute({
  method: "get",
  path: "/admin/jobs",
  operationId: "jobs.list",
  scope: "read",
  tags: ["jobs"],
  summary: "Job runs (cron and manual), newest first, with their Workflow instance and progress",
  request: {
    query: z.object({
      job: z.string().min(1).max(100).optional(),
      status: JobRunSchema.shape.status.optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: { 200: json("Runs", z.object({ items: z.array(JobRunSchema) })) },
});

export const showJobRoute = keeperRoute({
  method: "get",
  path: "/admin/jobs/{id}",
  operationId: "jobs.show",
  scope: "read",
  tags: ["jobs"],
  summary: "One run, with its Workflow instance's status as the engine reports it",
  request: { params: idParams },
  responses: {
    200: json(
      "The run",
      JobRunSchema.extend({ workflow: z.object({ status: z.string(), error: z.string().nullable() }).nullable() }),
    ),
    404: problems[404],
  },
});

export const cancelJobRoute = keeperRoute({
  method: "post",
  path: "/admin/jobs/{id}/cancel",
  operationId: "jobs.cancel",
  scope: "admin",
  tags: ["jobs"],
  summary: "Stop a running job: terminate its Workflow instance, record it cancelled, release its lease",
  request: {
    params: idParams,
    ...body(
      z
        .object({ dryRun: z.boolean().default(false), confirm: z.boolean().default(false) })
        .strict()
        .openapi({ example: { confirm: true } }),
    ),
  },
  responses: {
    200: json("The run", z.object({ dryRun: z.boolean(), run: JobRunSchema })),
    404: problems[404],
    409: problems[409],
    428: problems[428],
  },
});

export function registerJobRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(listJobsRoute, async (c) =>
    c.json({ items: await listJobs({ ctx: c.get("ctx"), input: c.req.valid("query") }) }, 200),
  );
  app.openapi(showJobRoute, async (c) => c.json(await showJob({ ctx: c.get("ctx"), input: c.req.valid("param") }), 200));
  app.openapi(cancelJobRoute, async (c) =>
    c.json(await cancelJob({ ctx: c.get("ctx"), input: { ...c.req.valid("param"), ...c.req.valid("json") } }), 200),
  );
}
