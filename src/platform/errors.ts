/**
 * One error type for everything below the routes. Services throw `KeeperError` with a code; the
 * single `onError` handler turns it into RFC 9457 problem+json. Nothing below the routes knows HTTP
 * status codes except through this table.
 */
export const errorCodes = {
  BAD_REQUEST: { status: 400, title: "Bad request" },
  UNAUTHORIZED: { status: 401, title: "Missing or invalid credential" },
  FORBIDDEN: { status: 403, title: "Credential lacks the required scope" },
  NOT_FOUND: { status: 404, title: "Not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  CONFLICT: { status: 409, title: "Conflict" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  UNPROCESSABLE: { status: 422, title: "Unprocessable content" },
  CONFIRMATION_REQUIRED: { status: 428, title: "Confirmation required" },
  LOCKED: { status: 423, title: "Another run holds the lease" },
  INTERNAL: { status: 500, title: "Internal error" },
  BAD_GATEWAY: { status: 502, title: "Upstream failure" },
  UNAVAILABLE: { status: 503, title: "Database temporarily unavailable" },
  SCHEMA_NOT_READY: { status: 503, title: "Schema not ready" },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface FieldError {
  /** JSON-pointer-like path of the offending field, e.g. `body.duration` or `query.limit`. */
  path: string;
  message: string;
}

export class KeeperError extends Error {
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;
  readonly extra?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    detail: string,
    options: {
      errors?: FieldError[];
      headers?: Record<string, string>;
      extra?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = "KeeperError";
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers;
    this.extra = options.extra;
  }

  get status(): number {
    return errorCodes[this.code].status;
  }
}

export const notFound = (what: string) => new KeeperError("NOT_FOUND", `${what} does not exist`);
