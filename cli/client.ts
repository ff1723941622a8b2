import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { createKeeperClient, type KeeperClient } from "../client/index.ts";

/** A failure the CLI reports and exits 1 on (2 for usage errors). */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  readonly problem?: Record<string, unknown>;

  constructor(message: string, exitCode: 1 | 2 = 1, problem?: Record<string, unknown>) {
    super(message);
    this.exitCode = exitCode;
    this.problem = problem;
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
}

const localHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Against a local `wrangler dev`, fall back to the admin token in .dev.vars so nothing needs to be
 * set by hand; against anything else a token must be given explicitly.
 */
export function resolveToken(url: string, explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (process.env.KEEPER_TOKEN) return process.env.KEEPER_TOKEN;
  const host = new URL(url).hostname;
  if (!localHosts.has(host) || !existsSync(".dev.vars")) return undefined;
  // Node's own dotenv parser: quotes, comments and CRLF line endings.
  const vars = parseEnv(readFileSync(".dev.vars", "utf8"));
  return vars.KEEPER_ADMIN_TOKEN?.split(",")[0]?.trim() || undefined;
}

export interface ApiClient {
  /** The typed client of the API (openapi-fetch over client/keeper-api.ts). */
  api: KeeperClient;
  /** The data of a call that answered 2xx; otherwise a CliError carrying the problem+json body. */
  call<D>(pending: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D>;
  baseUrl: string;
}

function describeProblem(status: number, body: Record<string, unknown>): string {
  const lines = [`${status} ${String(body.title ?? "error")}: ${String(body.detail ?? "")}`];
  if (Array.isArray(body.errors)) {
    for (const error of body.errors as { path: string; message: string }[]) lines.push(`  ${error.path}: ${error.message}`);
  }
  return lines.join("\n");
}

/** The admin/data API over HTTP: the CLI's only way to the database. */
export function createClient(options: ClientOptions): ApiClient {
  const baseUrl = options.url.replace(/\/+$/, "");
  const api = createKeeperClient({ baseUrl, token: resolveToken(baseUrl, options.token) });
  return {
    baseUrl,
    api,
    async call(pending) {
      let result: Awaited<typeof pending>;
      try {
        result = await pending;
      } catch (error) {
        const reason =
          error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        throw new CliError(`cannot reach ${baseUrl}: ${reason}`);
      }
      if (!result.response.ok) {
        // openapi-fetch hands over the parsed JSON, or the text when the body was not JSON.
        const problem =
          typeof result.error === "object" && result.error !== null
            ? (result.error as Record<string, unknown>)
            : { detail: String(result.error ?? "").slice(0, 500) };
        throw new CliError(describeProblem(result.response.status, problem), 1, problem);
      }
      return result.data as Awaited<typeof pending>["data"] & {};
    },
  };
}
