import { z } from "zod";
import { KeeperError } from "../platform/errors";

/**
 * Retention defaults from the original design (§45.3), overridable by wrangler vars, then per call.
 * RETENTION_DELETE_DAYS_BY_CATEGORY tunes the purge window per video category, e.g. {"surveillance":2}.
 */
const daysVar = (fallback: number) => z.coerce.number().int().min(0).max(36_500).default(fallback);

const policyVars = z.object({
  RETENTION_ARCHIVE_DAYS: daysVar(30),
  RETENTION_DELETE_DAYS: daysVar(7),
  RETENTION_DELETE_DAYS_BY_CATEGORY: z
    .string()
    .optional()
    .transform((raw, issue) => {
      if (!raw || raw.trim() === "") return {};
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        issue.addIssue({ code: "custom", message: "must be a JSON object of category → days" });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/), z.number().int().min(0).max(36_500))),
  RETENTION_OPTIMIZE: z.enum(["true", "false"]).default("true"),
});

export interface RetentionPolicy {
  archiveDays: number;
  deleteDays: number;
  deleteDaysByCategory: Record<string, number>;
  optimize: boolean;
}

export function retentionPolicyFrom(env: Record<string, unknown>): RetentionPolicy {
  const parsed = policyVars.safeParse(env);
  if (!parsed.success) {
    throw new KeeperError("INTERNAL", "The retention vars are invalid; fix RETENTION_* in wrangler.toml", {
      errors: parsed.error.issues.map((issue) => ({ path: `env.${issue.path.join(".")}`, message: issue.message })),
    });
  }
  const vars = parsed.data;
  return {
    archiveDays: vars.RETENTION_ARCHIVE_DAYS,
    deleteDays: vars.RETENTION_DELETE_DAYS,
    deleteDaysByCategory: vars.RETENTION_DELETE_DAYS_BY_CATEGORY,
    optimize: vars.RETENTION_OPTIMIZE === "true",
  };
}

export const DAY_MS = 86_400_000;
