import { quoteIdentifier } from "./introspect";

/**
 * SQL text that `wrangler d1 execute --file` (and sqlite3) replays unchanged: multi-row INSERTs,
 * each statement under D1's 100 KB limit, one row per line. Strings with line breaks or control
 * characters are written as CAST(X'…' AS TEXT), so a row never spans lines and `grep -c '^('`
 * counts rows — which is how verify checks counts without parsing SQL.
 */
export const MAX_STATEMENT_BYTES = 90_000;

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number") {
    if (Number.isFinite(value))
      return Number.isInteger(value) ? String(value) : value.toPrecision(17).replace(/\.?0+(e|$)/, "$1");
    return value > 0 ? "9e999" : value < 0 ? "-9e999" : "NULL";
  }
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "1" : "0";
  if (value instanceof ArrayBuffer) return `X'${hex(new Uint8Array(value))}'`;
  const text = String(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must not appear raw
  if (/[\u0000-\u001f\u007f]/.test(text)) return `CAST(X'${hex(encoder.encode(text))}' AS TEXT)`;
  return `'${text.replaceAll("'", "''")}'`;
}

/** INSERT statements for a page of rows, split so each stays under MAX_STATEMENT_BYTES. */
export function renderInserts(table: string, columns: string[], rows: unknown[][]): string {
  const head = `INSERT INTO ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(", ")}) VALUES\n`;
  const out: string[] = [];
  let current: string[] = [];
  let size = head.length;
  for (const row of rows) {
    const line = `(${row.map(sqlLiteral).join(", ")})`;
    if (current.length > 0 && size + line.length + 2 > MAX_STATEMENT_BYTES) {
      out.push(`${head}${current.join(",\n")};\n`);
      current = [];
      size = head.length;
    }
    current.push(line);
    size += line.length + 2;
  }
  if (current.length > 0) out.push(`${head}${current.join(",\n")};\n`);
  return out.join("");
}
