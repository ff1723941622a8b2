import { z } from "zod";
import { KeeperError } from "./errors";

/** Comma-separated token list: several values let a token be rotated without downtime. */
const tokenList = z
  .string()
  .optional()
  .transform((raw) =>
    (raw ?? "")
      .split(",")
      .map((token) => token.trim())
      .filter((token) => token.length > 0),
  )
  .pipe(z.array(z.string().min(16, "tokens must be at least 16 characters")));

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value && value.trim() !== "" ? value.trim() : undefined));

const configSchema = z
  .object({
    KEEPER_ENV: z.enum(["production", "development", "test"]).default("production"),
    SLOW_QUERY_MS: z.coerce.number().int().positive().max(60_000).default(100),
    QUERY_MONITOR_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(1),
    QUERY_MONITOR_FLUSH_SECONDS: z.coerce.number().min(0).max(3600).default(10),
    KEEPER_READ_TOKEN: tokenList,
    KEEPER_WRITE_TOKEN: tokenList,
    KEEPER_ADMIN_TOKEN: tokenList,
    ACCESS_TEAM_DOMAIN: optionalText.pipe(
      z
        .string()
        .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, "a host name such as myteam.cloudflareaccess.com")
        .optional(),
    ),
    ACCESS_AUD: optionalText,
    ACCESS_SCOPE: z.enum(["read", "write", "admin"]).default("read"),
  })
  .refine((c) => Boolean(c.ACCESS_TEAM_DOMAIN) === Boolean(c.ACCESS_AUD), {
    message: "ACCESS_TEAM_DOMAIN and ACCESS_AUD must be set together",
    path: ["ACCESS_AUD"],
  });

export type KeeperConfig = z.output<typeof configSchema>;

/**
 * workerd hands every request of an isolate the same `env` object (equal by identity) for as long
 * as the bindings stay the same, so a configuration that parsed once is kept per env object; a new
 * deployment or a changed secret arrives as a new object and is parsed again.
 */
const parsedByEnv = new WeakMap<object, KeeperConfig>();

/** Validated for every request (once per env object): a bad deployment answers a clear 500 problem, never a crash. */
export function parseConfig(env: Record<string, unknown>): KeeperConfig {
  const known = parsedByEnv.get(env);
  if (known) return known;
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new KeeperError("INTERNAL", "The Worker's configuration is invalid; fix its vars or secrets", {
      errors: parsed.error.issues.map((issue) => ({
        path: `env.${issue.path.join(".")}`,
        message: issue.message,
      })),
    });
  }
  parsedByEnv.set(env, parsed.data);
  return parsed.data;
}
