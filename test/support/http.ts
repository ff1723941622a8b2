import { exports } from "cloudflare:workers";

export const tokens = {
  read: "test-read-token-0123456789",
  write: "test-write-token-0123456789",
  admin: "test-admin-token-0123456789",
  adminRotated: "test-admin-token-rotated-0123456789",
} as const;

export type TokenName = keyof typeof tokens;

/** Calls the Worker's own fetch handler, as a client on the network would. */
export async function call(
  method: string,
  path: string,
  options: { token?: TokenName | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const token = options.token === undefined ? "admin" : options.token;
  if (token) headers.Authorization = `Bearer ${tokens[token]}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  }
  return exports.default.fetch(new Request(`https://keeper.test${path}`, { method, headers, body }));
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}
