import { KeeperError } from "../platform/errors";

/**
 * D1 reports constraint failures and overload only as message text (SQLite's wording behind a
 * `D1_ERROR:` prefix), and Drizzle wraps the original error in `DrizzleQueryError` with the D1 error
 * as `cause`. So we walk the cause chain and classify by the SQLite wording.
 */
function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    if (current instanceof Error) {
      messages.push(current.message);
      current = current.cause;
    } else {
      messages.push(String(current));
      break;
    }
  }
  return messages;
}

const overloadPatterns = [
  /overloaded/i,
  /too many requests/i,
  /Network connection lost/i,
  /storage caused object to be reset/i,
  /reset because its code was updated/i,
  /D1_ERROR:.*timeout/i,
];

/** Turns a D1/Drizzle failure into the KeeperError the API should answer with, or null if unknown. */
export function classifyD1Error(error: unknown): KeeperError | null {
  if (error instanceof KeeperError) return error;
  for (const message of messagesOf(error)) {
    // The data API's rules as D1's triggers raise them (src/videos/stored-rules.ts).
    const rule = /rule failed: ([a-z_]+\.[a-z_]+): (.+?)(?:: SQLITE_CONSTRAINT.*)?$/.exec(message);
    if (rule) {
      return new KeeperError("UNPROCESSABLE", `The database refused the row: ${rule[1]} ${rule[2]}`, {
        errors: [{ path: rule[1], message: rule[2] }],
        extra: { constraint: "RULE" },
        cause: error,
      });
    }
    const constraint = /(UNIQUE|PRIMARY KEY|CHECK|NOT NULL|FOREIGN KEY) constraint failed(?::\s*([^:]+))?/i.exec(message);
    if (constraint) {
      const kind = constraint[1].toUpperCase();
      const subject = constraint[2]?.trim();
      const detail = subject ? `${kind} constraint failed: ${subject}` : `${kind} constraint failed`;
      const field = subject ? [{ path: subject, message: `${kind} constraint failed` }] : undefined;
      return new KeeperError(kind === "UNIQUE" || kind === "PRIMARY KEY" ? "CONFLICT" : "UNPROCESSABLE", detail, {
        errors: field,
        extra: { constraint: kind },
        cause: error,
      });
    }
    if (overloadPatterns.some((pattern) => pattern.test(message))) {
      return new KeeperError("UNAVAILABLE", "D1 is overloaded or restarting; retry shortly", {
        headers: { "Retry-After": "2" },
        cause: error,
      });
    }
  }
  return null;
}
