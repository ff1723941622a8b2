import type { JWTVerifyGetKey } from "jose";
import { type Database, openDatabase } from "../db/client";
import { anonymous, type Principal } from "./auth";
import type { KeeperConfig } from "./config";
import { configuredSecrets, createLogger, type Logger } from "./logger";

/**
 * Everything a service may use, handed in explicitly: no module-level singletons, and `now` and
 * `fetch` injectable so retention can be tested at fixed dates and outbound calls with stand-ins.
 */
export interface AppContext {
  env: Env;
  config: KeeperConfig;
  /** The raw binding (already wrapped by the query monitor when one is installed). */
  d1: D1Database;
  /** Drizzle over `d1`, opened on first use: the hottest routes run prepared SQL and never need it. */
  db: Database;
  backups: R2Bucket;
  media: R2Bucket;
  now: () => Date;
  principal: Principal;
  logger: Logger;
  fetch: typeof fetch;
  /** Writes what the query monitor collected during this request (a no-op without one). */
  flushMonitoring: () => Promise<void>;
}

/** Dependencies a test (or a different runtime) may replace. */
export interface AppDependencies {
  now?: () => Date;
  fetch?: typeof fetch;
  /** Key set for Cloudflare Access JWTs; defaults to the team's remote JWKS. */
  accessKeySet?: JWTVerifyGetKey;
  /** Wraps the D1 binding (the health area installs its query monitor here). */
  wrapD1?: (d1: D1Database, ctx: { env: Env; config: KeeperConfig; now: () => Date }) => D1Database;
  /**
   * Watches every query of a request (the health area's monitor): returns the binding to use and a
   * flush that runs after the response. Applied after `wrapD1`.
   */
  queryMonitor?: (
    d1: D1Database,
    ctx: { env: Env; config: KeeperConfig; now: () => Date },
  ) => { d1: D1Database; flush: () => Promise<void> };
  /** Opens the Drizzle client over a request's binding; defaults to src/db/client.ts's. */
  openDatabase?: (d1: D1Database) => Database;
}

/**
 * The values every log line scrubs, kept per env object as the parsed config is (src/platform/config.ts):
 * they change only when the bindings do, which arrives as a new env object.
 */
const logSecretsByEnv = new WeakMap<object, { config: KeeperConfig; secrets: readonly string[] }>();

function logSecrets(env: Env, config: KeeperConfig): readonly string[] {
  const known = logSecretsByEnv.get(env);
  if (known?.config === config) return known.secrets;
  const secrets = [
    ...config.KEEPER_READ_TOKEN,
    ...config.KEEPER_WRITE_TOKEN,
    ...config.KEEPER_ADMIN_TOKEN,
    ...configuredSecrets(env as unknown as Record<string, unknown>),
  ];
  logSecretsByEnv.set(env, { config, secrets });
  return secrets;
}

export function createContext(
  env: Env,
  config: KeeperConfig,
  deps: AppDependencies,
  fields: { requestId: string; principal?: Principal },
): AppContext {
  const now = deps.now ?? (() => new Date());
  const wrapped = deps.wrapD1 ? deps.wrapD1(env.DB, { env, config, now }) : env.DB;
  const monitor = deps.queryMonitor?.(wrapped, { env, config, now });
  const d1 = monitor?.d1 ?? wrapped;
  const open = deps.openDatabase ?? openDatabase;
  let db: Database | undefined;
  return {
    env,
    config,
    d1,
    get db() {
      db ??= open(d1);
      return db;
    },
    backups: env.BACKUPS,
    media: env.MEDIA,
    now,
    principal: fields.principal ?? anonymous,
    logger: createLogger({ requestId: fields.requestId }, logSecrets(env, config)),
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    flushMonitoring: monitor?.flush ?? (async () => {}),
  };
}

export type KeeperEnv = {
  Bindings: Env;
  Variables: { ctx: AppContext; requestId: string };
};
