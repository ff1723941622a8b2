import { z } from "@hono/zod-openapi";
import { JobRunSchema } from "../maintenance/routes";

/** Answers of the retention routes; policies.service.ts returns these types, so the two cannot drift. */

export const RetentionPolicySchema = z
  .object({
    archiveDays: z.number(),
    deleteDays: z.number(),
    categories: z.record(z.string(), z.object({ deleteDays: z.number() })),
    archive: z.boolean(),
    purge: z.boolean(),
    cleanup: z.boolean(),
    optimize: z.boolean(),
  })
  .openapi("RetentionPolicy");

export const OrphanRows = z.object({
  messages: z.number(),
  conversations: z.number(),
  memory: z.number(),
  video_context: z.number(),
});

export const PolicyStatus = z
  .object({
    policy: RetentionPolicySchema,
    now: z.string(),
    purge: z.object({
      enabled: z.boolean(),
      videos: z.number(),
      video_ids: z.array(z.string()),
      default_cutoff: z.string(),
    }),
    archive: z.object({ enabled: z.boolean(), conversations: z.number(), cutoff: z.string() }),
    cleanup: z.object({
      enabled: z.boolean(),
      orphan_rows: OrphanRows,
      orphan_media_videos: z.array(z.string()),
      orphan_media_keys: z.number(),
    }),
    optimize: z.object({ enabled: z.boolean() }),
    last_run: z.union([JobRunSchema, z.null()]).openapi({ description: "The last retention run, or null" }),
  })
  .openapi("PolicyStatus");
export type PolicyStatus = z.output<typeof PolicyStatus>;

export const PolicyRunResult = z
  .discriminatedUnion("dryRun", [
    z.object({ dryRun: z.literal(true), plan: PolicyStatus }),
    z.object({
      dryRun: z.literal(false),
      run: JobRunSchema,
      started: z.boolean().openapi({ description: "false: the job was already running; `run` is that run" }),
    }),
  ])
  .openapi("PolicyRunResult");
export type PolicyRunResult = z.output<typeof PolicyRunResult>;
