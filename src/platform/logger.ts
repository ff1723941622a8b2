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

const secretName = /TOKEN|SECRET|PASSWORD|(^|_)KEY$/i;
// user:password@ in any URL, e.g. inside an error message a fetch library built.
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"]+@/gi;
const SHORTEST_SCRUBBED = 8;

/**
 * Every configured value a log line must never show: each value of a var or secret whose name says
 * it is one (`*_TOKEN`, `*SECRET*`, `*PASSWORD*`, `*_KEY`; comma-separated lists split), and each
 * alert webhook URL with its path on its own (Slack-style URLs carry their secret in the path).
 */
export function configuredSecrets(env: Record<string, unknown>): string[] {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== "string") continue;
    if (secretName.test(name)) for (const part of value.split(",")) secrets.add(part.trim());
  }
  for (const url of String(env.ALERT_WEBHOOK_URLS ?? "").split(",")) {
    const trimmed = url.trim();
    secrets.add(trimmed);
    try {
      const parsed = new URL(trimmed);
      secrets.add(`${parsed.pathname}${parsed.search}`);
    } catch {}
  }
  return [...secrets].filter((secret) => secret.length >= SHORTEST_SCRUBBED);
}

/** Scrub needles per secrets list: a caller that keeps its list (one per env) builds them once. */
const needlesBySecrets = new WeakMap<readonly string[], string[]>();

function needlesFor(secrets: readonly string[]): string[] {
  const known = needlesBySecrets.get(secrets);
  if (known) return known;
  // Longest first, so a webhook URL is redacted whole before its path alone is looked for; each also
  // in its JSON-escaped form, which is how it appears inside the serialized line.
  const needles = [...new Set(secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]))]
    .filter((secret) => secret.length >= SHORTEST_SCRUBBED)
    .sort((a, b) => b.length - a.length);
  needlesBySecrets.set(secrets, needles);
  return needles;
}

/**
 * `secrets` are values (see `configuredSecrets`) scrubbed from the whole line wherever they appear,
 * e.g. inside an error message a library built from a request; so are credentials in any URL.
 */
export function createLogger(base: LogFields = {}, secrets: readonly string[] = []): Logger {
  const needles = needlesFor(secrets);
  const scrub = (line: string) =>
    needles.reduce((text, secret) => text.replaceAll(secret, "[redacted]"), line).replace(urlCredentials, "$1[redacted]@");
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
