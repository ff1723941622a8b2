import type { JWTVerifyGetKey } from "jose";
import { type Database, openDatabase } from "../db/client";
import { anonymous, type Principal } from "./auth";
import type { KeeperConfig } from "./config";
import { createLogger, type Logger } from "./logger";

/**
 * Everything a service may use, handed in explicitly: no module-level singletons, and `now` and
 * `fetch` injectable so retention can be tested at fixed dates and outbound calls with stand-ins.
 */
export interface AppContext {
  env: Env;
  config: KeeperConfig;
  /** The raw binding (already wrapped by the query monitor when one is installed). */
  d1: D1Database;
  db: Database;
  backups: R2Bucket;
  media: R2Bucket;
  now: () => Date;
  principal: Principal;
  logger: Logger;
  fetch: typeof fetch;
}

/** Dependencies a test (or a different runtime) may replace. */
export interface AppDependencies {
  now?: () => Date;
  fetch?: typeof fetch;
  /** Key set for Cloudflare Access JWTs; defaults to the team's remote JWKS. */
  accessKeySet?: JWTVerifyGetKey;
  /** Wraps the D1 binding (the health area installs its query monitor here). */
  wrapD1?: (d1: D1Database, ctx: { env: Env; config: KeeperConfig; now: () => Date }) => D1Database;
}

export function createContext(
  env: Env,
  config: KeeperConfig,
  deps: AppDependencies,
  fields: { requestId: string; principal?: Principal },
): AppContext {
  const now = deps.now ?? (() => new Date());
  const d1 = deps.wrapD1 ? deps.wrapD1(env.DB, { env, config, now }) : env.DB;
  return {
    env,
    config,
    d1,
    db: openDatabase(d1),
    backups: env.BACKUPS,
    media: env.MEDIA,
    now,
    principal: fields.principal ?? anonymous,
    logger: createLogger({ requestId: fields.requestId }, [
      ...config.KEEPER_READ_TOKEN,
      ...config.KEEPER_WRITE_TOKEN,
      ...config.KEEPER_ADMIN_TOKEN,
    ]),
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
  };
}

export type KeeperEnv = {
  Bindings: Env;
  Variables: { ctx: AppContext; requestId: string };
};
