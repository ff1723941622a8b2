import { z } from "@hono/zod-openapi";
import { KeeperError } from "../platform/errors";

/**
 * Retention policy: the original design's defaults (archive conversations idle for 30 days, purge
 * videos soft-deleted 7 days ago, clean orphans, optimize), from wrangler vars, overridable per
 * request and — for purging — per video category (the "per video type" wish).
 */
/** The retention job's name: its run records and its lease. */
export const RETENTION_JOB = "retention.apply-policies";

export const DAY_MS = 86_400_000;
/** Below this a cutoff is almost certainly a mistake (a unit slip, a negative number). */
export const MIN_DAYS = 1;
export const MAX_DAYS = 3650;

const days = z.number().int().min(MIN_DAYS).max(MAX_DAYS);

export const CategoryOverrides = z
  .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/), z.object({ deleteDays: days }).strict())
  .openapi({ description: 'Per video category purge windows, e.g. {"surveillance":{"deleteDays":2}}' });

export const PolicyOverrides = z
  .object({
    archiveDays: days.optional().openapi({ description: "Archive conversations idle longer than this (default 30)" }),
    deleteDays: days.optional().openapi({ description: "Purge videos soft-deleted longer ago than this (default 7)" }),
    categories: CategoryOverrides.optional(),
    archive: z.boolean().optional().openapi({ description: "Run the conversation archive policy (default true)" }),
    purge: z.boolean().optional().openapi({ description: "Run the purge policy (default true)" }),
    cleanup: z.boolean().optional().openapi({ description: "Run orphan cleanup (default true)" }),
    optimize: z.boolean().optional().openapi({ description: "Run PRAGMA optimize (default true)" }),
  })
  .strict();

export type PolicyOverrides = z.output<typeof PolicyOverrides>;

export interface RetentionPolicy {
  archiveDays: number;
  deleteDays: number;
  categories: Record<string, { deleteDays: number }>;
  archive: boolean;
  purge: boolean;
  cleanup: boolean;
  optimize: boolean;
}

const fromVars = z.object({
  RETENTION_ARCHIVE_DAYS: z.coerce.number().pipe(days).default(30),
  RETENTION_DELETE_DAYS: z.coerce.number().pipe(days).default(7),
  RETENTION_CATEGORY_OVERRIDES: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (!raw || raw.trim() === "") return {};
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(CategoryOverrides),
});

/** The configured policy (vars) with the request's overrides on top. */
export function resolvePolicy(env: Record<string, unknown>, overrides: PolicyOverrides = {}): RetentionPolicy {
  const parsed = fromVars.safeParse(env);
  if (!parsed.success) {
    throw new KeeperError("INTERNAL", "The retention vars are invalid", {
      errors: parsed.error.issues.map((issue) => ({ path: `env.${issue.path.join(".")}`, message: issue.message })),
    });
  }
  return {
    archiveDays: overrides.archiveDays ?? parsed.data.RETENTION_ARCHIVE_DAYS,
    deleteDays: overrides.deleteDays ?? parsed.data.RETENTION_DELETE_DAYS,
    categories: { ...parsed.data.RETENTION_CATEGORY_OVERRIDES, ...(overrides.categories ?? {}) },
    archive: overrides.archive ?? true,
    purge: overrides.purge ?? true,
    cleanup: overrides.cleanup ?? true,
    optimize: overrides.optimize ?? true,
  };
}
