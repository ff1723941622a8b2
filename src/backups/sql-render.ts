import { type PageRow, quotedTextHex, rowLine } from "./digest";
import { quoteIdentifier } from "./introspect";
import { isAscii, utf8Bytes } from "./utf8-bytes";

/**
 * SQL text that `wrangler d1 execute --file` (and sqlite3) replays unchanged: multi-row INSERTs
 * with one row per line, every statement at most D1's 100,000 bytes (UTF-8 bytes, not characters).
 * The literals are SQLite's own (see digest.ts); this module only arranges them into statements.
 *
 * A row too long for one statement (D1 allows 2 MB per value) has each long value staged in
 * chunks into a parts table, then inserted in one `INSERT … SELECT` that reassembles the values.
 * Appending with `UPDATE … SET col = col || X'…'` would be shorter, but a prefix of a JSON value
 * breaks a `CHECK (json_valid(…))` and an update would fire the table's triggers; staging inserts
 * every row exactly once, whole.
 */
export const MAX_STATEMENT_BYTES = 100_000;
/** Where long values wait while their row is assembled; created and dropped around that row. */
export const PARTS_TABLE = "keeper_restore_parts";
/**
 * Where a restore records, in the database it writes and in the same transaction as each batch of
 * rows, the position after that batch: a step that runs again resumes from what was committed.
 */
export const RESTORE_POSITION_TABLE = "keeper_restore_position";
/** Bytes of a value per staged chunk: its hex and the statement around it stay under the limit. */
export const PART_BYTES = 49_000;
/** In a row that needs staging, values longer than this (in bytes of SQL) are staged. */
const STAGE_ABOVE_BYTES = 2_000;

/** The exact bytes a TEXT or BLOB literal stands for, as upper-case hex, and its storage class. */
export function literalBytes(literal: string): { hex: string; type: "TEXT" | "BLOB" } {
  if (literal.startsWith("X'")) return { hex: literal.slice(2, -1), type: "BLOB" };
  if (literal.startsWith("CAST(X'")) return { hex: literal.slice(7, -10), type: "TEXT" };
  return { hex: quotedTextHex(literal), type: "TEXT" };
}

/** The expression that reassembles staged value number `value` of a row. */
export const stagedValue = (value: number, type: "TEXT" | "BLOB") =>
  `(SELECT CAST(group_concat(part, '') AS ${type}) FROM (SELECT part FROM ${quoteIdentifier(PARTS_TABLE)} WHERE value = ${value} ORDER BY rowid))`;

export const insertHead = (table: string, columns: string[]) =>
  `INSERT INTO ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(", ")})`;

/** A row whose values do not fit one statement: staged chunks, one INSERT … SELECT, cleanup. */
function stagedRow(head: string, literals: string[]): string {
  // Emptied first: a replay that stopped half way may have left parts behind.
  const out = [
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(PARTS_TABLE)} ("value" INTEGER NOT NULL, "part" BLOB NOT NULL);\n`,
    `DELETE FROM ${quoteIdentifier(PARTS_TABLE)};\n`,
  ];
  const values = literals.map((literal, index) => {
    if (utf8Bytes(literal) <= STAGE_ABOVE_BYTES || !/^(X'|CAST\(X'|')/.test(literal)) return literal;
    const { hex, type } = literalBytes(literal);
    for (let start = 0; start < hex.length; start += PART_BYTES * 2) {
      out.push(
        `INSERT INTO ${quoteIdentifier(PARTS_TABLE)} ("value", "part") VALUES (${index}, X'${hex.slice(start, start + PART_BYTES * 2)}');\n`,
      );
    }
    return stagedValue(index, type);
  });
  out.push(`${head} SELECT ${values.join(", ")};\n`, `DROP TABLE ${quoteIdentifier(PARTS_TABLE)};\n`);
  return out.join("");
}

/**
 * The statements for a page of rows and the rows' lines (for the page digest). Rows keep their
 * order; each INSERT takes as many rows as fit in MAX_STATEMENT_BYTES.
 */
export function renderPage(table: string, columns: string[], rows: PageRow[]): { sql: string; lines: string[] } {
  const head = insertHead(table, columns);
  const headBytes = utf8Bytes(head) + " VALUES\n".length + ";\n".length;
  const lines: string[] = new Array(rows.length);
  const out: string[] = [];
  let current: string[] = [];
  let size = headBytes;
  const flush = () => {
    if (current.length > 0) out.push(`${head} VALUES\n${current.join(",\n")};\n`);
    current = [];
    size = headBytes;
  };
  for (let i = 0; i < rows.length; i++) {
    const line = rowLine(rows[i].literals);
    lines[i] = line;
    const bytes = utf8Bytes(line) + 2;
    if (headBytes + bytes > MAX_STATEMENT_BYTES) {
      flush();
      out.push(stagedRow(head, rows[i].literals));
      continue;
    }
    if (size + bytes > MAX_STATEMENT_BYTES) flush();
    current.push(line);
    size += bytes;
  }
  flush();
  return { sql: out.join(""), lines };
}

/**
 * renderPage for a page read as its lines (digest.ts readPageLines): the same statements, cut at
 * the same rows. Null when a row would need staging, which only renderPage does (from the row's
 * literals).
 */
export function renderLines(table: string, columns: string[], text: string): string | null {
  const head = `${insertHead(table, columns)} VALUES\n`;
  const headBytes = utf8Bytes(head) + ";\n".length;
  const ascii = isAscii(text);
  const out: string[] = [];
  // Rows text[from, end) go into the statement being built; size counts its bytes so far.
  let from = 0;
  let size = headBytes;
  let start = 0;
  const flush = (end: number) => {
    if (end > from) out.push(head, text.slice(from, end).replaceAll("\n", ",\n"), ";\n");
    from = end + 1;
    size = headBytes;
  };
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    const bytes = (ascii ? end - start : utf8Bytes(text.slice(start, end))) + 2;
    if (headBytes + bytes > MAX_STATEMENT_BYTES) return null;
    if (size + bytes > MAX_STATEMENT_BYTES) flush(start - 1);
    size += bytes;
    start = end + 1;
  }
  flush(text.length);
  return out.join("");
}
