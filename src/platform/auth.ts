import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { KeeperConfig } from "./config";
import { KeeperError } from "./errors";

export const scopes = ["read", "write", "admin"] as const;
export type Scope = (typeof scopes)[number];
/** `public` routes need no credential: the OpenAPI document, the reference UI, the liveness probe. */
export type RouteScope = Scope | "public";

/** What each credential kind grants: admin implies write implies read. */
const grants: Record<Scope, readonly Scope[]> = {
  read: ["read"],
  write: ["read", "write"],
  admin: ["read", "write", "admin"],
};

export interface Principal {
  /** Recorded in audit rows; never the token itself. */
  actor: string;
  scopes: readonly Scope[];
}

export const anonymous: Principal = { actor: "anonymous", scopes: [] };

const encoder = new TextEncoder();

async function digest(value: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(value));
}

function hex(buffer: ArrayBuffer, length: number): string {
  return [...new Uint8Array(buffer)]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, length);
}

const tokenKeys = { admin: "KEEPER_ADMIN_TOKEN", write: "KEEPER_WRITE_TOKEN", read: "KEEPER_READ_TOKEN" } as const;

/** The configured tokens' digests, computed once per parsed configuration (one per env object). */
const configuredDigests = new WeakMap<KeeperConfig, Promise<{ scope: Scope; digest: ArrayBuffer }[]>>();

function digestsOf(config: KeeperConfig): Promise<{ scope: Scope; digest: ArrayBuffer }[]> {
  let digests = configuredDigests.get(config);
  if (!digests) {
    digests = Promise.all(
      (["admin", "write", "read"] as const).flatMap((scope) =>
        config[tokenKeys[scope]].map(async (candidate) => ({ scope, digest: await digest(candidate) })),
      ),
    );
    configuredDigests.set(config, digests);
  }
  return digests;
}

/**
 * Tokens this isolate has already found to be configured ones, per parsed configuration (a rotated
 * secret arrives as a new configuration, with nothing known). Only a token equal to a configured
 * one is ever added, so a map holds at most as many entries as the configuration has tokens,
 * whatever callers send. A known token skips the digest, which every request paid before.
 */
const knownTokens = new WeakMap<KeeperConfig, Map<string, Principal>>();

/**
 * Compares the presented token with every configured one, always all of them, on fixed-length
 * SHA-256 digests: neither the position of a mismatch nor which list matched leaks through timing.
 * A token found valid before is looked up instead: only configured tokens are ever found there,
 * and whether a token is valid is what the answer's status says anyway.
 */
export async function principalFromBearer(token: string, config: KeeperConfig): Promise<Principal | null> {
  const known = knownTokens.get(config) ?? new Map<string, Principal>();
  const principal = known.get(token);
  if (principal) return principal;
  const presented = await digest(token);
  let matched: Scope | null = null;
  for (const candidate of await digestsOf(config)) {
    const equal = crypto.subtle.timingSafeEqual(presented, candidate.digest);
    if (equal && matched === null) matched = candidate.scope;
  }
  if (!matched) return null;
  const found = { actor: `token:${matched}:${hex(presented, 8)}`, scopes: grants[matched] };
  known.set(token, found);
  knownTokens.set(config, known);
  return found;
}

const remoteKeySets = new Map<string, JWTVerifyGetKey>();

/** The team's JWKS, cached per isolate (jose refreshes it on an unknown `kid`). */
export function accessKeySetFor(teamDomain: string): JWTVerifyGetKey {
  let keySet = remoteKeySets.get(teamDomain);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(`https://${teamDomain}/cdn-cgi/access/certs`));
    remoteKeySets.set(teamDomain, keySet);
  }
  return keySet;
}

export async function principalFromAccessJwt(
  assertion: string,
  config: KeeperConfig,
  keySet: JWTVerifyGetKey,
): Promise<Principal | null> {
  if (!config.ACCESS_TEAM_DOMAIN || !config.ACCESS_AUD) return null;
  try {
    const { payload } = await jwtVerify(assertion, keySet, {
      issuer: `https://${config.ACCESS_TEAM_DOMAIN}`,
      audience: config.ACCESS_AUD,
    });
    const who = typeof payload.email === "string" ? payload.email : (payload.sub ?? "unknown");
    return { actor: `access:${who}`, scopes: grants[config.ACCESS_SCOPE] };
  } catch {
    return null;
  }
}

export function requireScope(principal: Principal, scope: RouteScope): void {
  if (scope === "public") return;
  if (principal.scopes.length === 0) {
    throw new KeeperError("UNAUTHORIZED", "Send a bearer token (Authorization: Bearer …) or a Cloudflare Access JWT", {
      headers: { "WWW-Authenticate": 'Bearer realm="d1-keeper"' },
    });
  }
  if (!principal.scopes.includes(scope)) {
    throw new KeeperError("FORBIDDEN", `This route needs the '${scope}' scope`, {
      extra: { requiredScope: scope },
    });
  }
}
