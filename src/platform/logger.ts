/**
 * Structured one-line JSON logs (Workers Logs indexes JSON fields). Callers must never pass
 * secrets; `redact` strips the usual suspects anyway.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const secretKey = /token|secret|authorization|password|signature|jwt/i;

function redact(fields: LogFields): LogFields {
  const clean: LogFields = {};
  for (const [key, value] of Object.entries(fields)) clean[key] = secretKey.test(key) ? "[redacted]" : value;
  return clean;
}

/**
 * `secrets` are values (the configured tokens) scrubbed from the whole line wherever they appear,
 * e.g. inside an error message a library built from a request.
 */
export function createLogger(base: LogFields = {}, secrets: readonly string[] = []): Logger {
  const scrub = (line: string) => secrets.reduce((text, secret) => (secret ? text.replaceAll(secret, "[redacted]") : text), line);
  const write = (level: "info" | "warn" | "error", message: string, fields: LogFields = {}) => {
    const line = scrub(JSON.stringify({ level, message, ...redact(base), ...redact(fields) }));
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
  return {
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}
