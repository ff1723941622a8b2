import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";

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
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  raw(method: string, path: string, body?: unknown): Promise<Response>;
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
  const token = resolveToken(baseUrl, options.token);
  const raw = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const reason =
        error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new CliError(`cannot reach ${baseUrl}: ${reason}`);
    }
  };
  return {
    baseUrl,
    raw,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const response = await raw(method, path, body);
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = { detail: text.slice(0, 500) };
      }
      if (!response.ok) {
        const problem = (parsed ?? {}) as Record<string, unknown>;
        throw new CliError(describeProblem(response.status, problem), 1, problem);
      }
      return parsed as T;
    },
  };
}
