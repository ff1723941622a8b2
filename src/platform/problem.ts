import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { classifyD1Error } from "../db/d1-errors";
import type { AppContext } from "./context";
import { type ErrorCode, errorCodes, KeeperError } from "./errors";
import { configuredSecrets, createLogger } from "./logger";

export const problemContentType = "application/problem+json";

function fromHttpException(error: HTTPException): KeeperError {
  const byStatus: Partial<Record<number, ErrorCode>> = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
  };
  const code = byStatus[error.status] ?? "BAD_REQUEST";
  const detail =
    error.status === 400 && /json/i.test(error.message)
      ? "The request body is not valid JSON"
      : error.status === 415
        ? "Send the body as application/json"
        : error.message || errorCodes[code].title;
  return new KeeperError(code, detail, { cause: error });
}

/** Normalizes anything thrown into the KeeperError it should be reported as. */
export function toKeeperError(error: unknown): KeeperError {
  if (error instanceof KeeperError) return error;
  if (error instanceof HTTPException) return fromHttpException(error);
  return classifyD1Error(error) ?? new KeeperError("INTERNAL", "An unexpected error occurred", { cause: error });
}

/** RFC 9457 body; `type` is a stable URN per code so clients can switch on it. */
export function problemBody(error: KeeperError, instance: string, requestId?: string) {
  return {
    type: `urn:d1-keeper:problem:${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: errorCodes[error.code].title,
    status: error.status,
    detail: error.message,
    instance,
    ...(requestId ? { requestId } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
    ...(error.extra ?? {}),
  };
}

export function problemResponse(c: Context, thrown: unknown): Response {
  const error = toKeeperError(thrown);
  const requestId = c.get("requestId") as string | undefined;
  if (error.status >= 500) {
    const cause = error.cause instanceof Error ? error.cause : undefined;
    // The request's logger knows the configured tokens and scrubs them; before ctx exists (a bad
    // config) the raw env's secrets are scrubbed all the same.
    const logger =
      (c.get("ctx") as AppContext | undefined)?.logger ??
      createLogger({ requestId }, configuredSecrets((c.env ?? {}) as Record<string, unknown>));
    logger.error("request failed", {
      code: error.code,
      detail: error.message,
      cause: cause ? `${cause.name}: ${cause.message}` : undefined,
      path: new URL(c.req.url).pathname,
    });
  }
  const headers: Record<string, string> = { "Content-Type": problemContentType, ...(error.headers ?? {}) };
  return c.body(
    JSON.stringify(problemBody(error, new URL(c.req.url).pathname, requestId)),
    error.status as ContentfulStatusCode,
    headers,
  );
}
