import { createHash } from "node:crypto";
import { dumpColumns, quoteIdentifier, type TableInfo } from "./introspect";

/** Rows per page: the unit of reading, digesting and (as SQL) compressing. */
export const PAGE_ROWS = 5000;

/**
 * How SQLite writes one stored value as an exact SQL literal. `quote()` is SQLite's own rendering:
 * integers in full (no double ever carries an int64), REALs with as many digits as round-trip
 * (±Infinity as ±9.0e+999), BLOBs as X'…', NULL. quote() stops at a NUL, so TEXT holding one
 * becomes CAST(X'…' AS TEXT) over its exact bytes (`instr` on the bytes is a plain scan).
 */
function literalOf(column: string): string {
  const c = quoteIdentifier(column);
  return `CASE WHEN typeof(${c}) = 'text' AND instr(CAST(${c} AS BLOB), X'00') > 0 THEN 'CAST(X''' || hex(${c}) || ''' AS TEXT)' ELSE quote(${c}) END`;
}

/** One row of a page: its rowid (exact, as text) and the literal of every dumped column. */
export interface PageRow {
  rowid: string;
  literals: string[];
}

/** Where a table's reading stands: after which rowid (null: from the start), up to which (null: no bound). */
export interface PageBounds {
  after: string | null;
  upTo: string | null;
}

/** Text a dump writes as hex: control characters (so a row stays on one line) and U+FFFD (see readPage). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: exactly the characters that must not appear raw
export const WRITTEN_AS_HEX = /[\u0000-\u001f\u007f\uFFFD]/;
const encoder = new TextEncoder();

/** The UTF-8 bytes of the text a quote()d literal stands for, as upper-case hex. */
export function quotedTextHex(literal: string): string {
  let out = "";
  for (const byte of encoder.encode(literal.slice(1, -1).replaceAll("''", "'")))
    out += (byte < 16 ? "0" : "") + byte.toString(16);
  return out.toUpperCase();
}

/**
 * A page of a table in rowid order, each value as its exact literal. D1 hands TEXT to the Worker as
 * a JS string, decoding invalid UTF-8 to U+FFFD: a literal that shows U+FFFD is read again as hex
 * (a real U+FFFD costs the same detour, and stays exact). Valid text with a control character is
 * encoded as hex here, so every row of a dump is one line.
 */
export async function readPage(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  bounds: PageBounds,
  limit = PAGE_ROWS,
): Promise<PageRow[]> {
  const columns = dumpColumns(table);
  const where = [
    bounds.after === null ? null : "rowid > CAST(?1 AS INTEGER)",
    bounds.upTo === null ? null : "rowid <= CAST(?2 AS INTEGER)",
  ].filter(Boolean);
  const raw = await d1
    .prepare(
      `SELECT quote(rowid), ${columns.map(literalOf).join(", ")} FROM ${quoteIdentifier(table.name)}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY rowid LIMIT ?3`,
    )
    .bind(bounds.after, bounds.upTo, limit)
    .raw<string[]>();
  const rows: PageRow[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const record = raw[i];
    const literals = record.slice(1);
    for (let k = 0; k < literals.length; k++) {
      const literal = literals[k];
      if (literal.charCodeAt(0) !== 39 || !WRITTEN_AS_HEX.test(literal)) continue;
      if (literal.includes("\uFFFD")) {
        const exact = await d1
          .prepare(
            `SELECT hex(${quoteIdentifier(columns[k])}) FROM ${quoteIdentifier(table.name)} WHERE rowid = CAST(? AS INTEGER)`,
          )
          .bind(record[0])
          .raw<string[]>();
        literals[k] = `CAST(X'${exact[0][0]}' AS TEXT)`;
      } else {
        literals[k] = `CAST(X'${quotedTextHex(literal)}' AS TEXT)`;
      }
    }
    rows[i] = { rowid: record[0], literals };
  }
  return rows;
}

/** Rows per query of readPageLines: at ~350 bytes a row, a result under D1's 2 MB per value. */
export const LINES_PER_QUERY = 2500;
/**
 * The most bytes of lines one query joins: D1 refuses any value over 2,000,000 bytes, the joined
 * lines included (local D1 does not), so rows that would go past this are read value by value.
 */
export const LINES_MAX_BYTES = 1_900_000;
/** D1 queries one page takes at most: its queries as lines (each maybe twice; see exactLiteralOf), and one value by value (readPage). */
export const PAGE_QUERIES = 2 * Math.ceil(PAGE_ROWS / LINES_PER_QUERY) + 1;
/** Characters that never appear in a page's lines when SQLite wrote every literal (see exactLiteralOf). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: exactly the characters exactLiteralOf writes as hex
const NOT_IN_LINES = /[\u0000-\u0009\u000b-\u001f\u007f\uFFFD]/;
/**
 * What GLOB finds in TEXT that readPage writes as hex (WRITTEN_AS_HEX but NUL, which instr finds):
 * bound as a parameter, so no control character is ever part of the SQL text.
 */
const HEX_TEXT_GLOB = "*[\u0001-\u001f\u007f\uFFFD]*";

/**
 * readPage's literal of one column, written by SQLite alone. With `glob`, text with a control
 * character or U+FFFD is written as hex too (exact for every value); without it such text comes
 * out raw, which the caller sees in the lines and then asks again with it: the GLOB nearly
 * doubles the query's time, and most pages hold no such text.
 */
function exactLiteralOf(column: string, glob: boolean): string {
  const c = quoteIdentifier(column);
  const hexed = glob ? `(instr(CAST(${c} AS BLOB), X'00') > 0 OR ${c} GLOB ?4)` : `instr(CAST(${c} AS BLOB), X'00') > 0`;
  return `CASE WHEN typeof(${c}) = 'text' AND ${hexed} THEN 'CAST(X''' || hex(${c}) || ''' AS TEXT)' ELSE quote(${c}) END`;
}

/** True when `text` is exactly `rows` lines of literals: no raw control character, no U+FFFD. */
function plainLines(text: string, rows: number): boolean {
  if (NOT_IN_LINES.test(text)) return false;
  let newlines = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) newlines++;
  return newlines === rows - 1;
}

/** A page as its lines: how many rows, the last rowid, and every row's line joined by "\n". */
export interface PageLines {
  rows: number;
  lastRowid: string | null;
  text: string;
}

/**
 * The same page as readPage, as the rows' lines joined by "\n" (what pageDigest hashes), each
 * whole line written by SQLite: one string per LINES_PER_QUERY rows crosses into the Worker
 * instead of one per value. Null when a result shows U+FFFD or a control character besides the
 * separators: a value that is not valid UTF-8 (D1 decoded it to U+FFFD) is in it, so the caller
 * reads the page with readPage instead.
 */
export async function readPageLines(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  bounds: PageBounds,
  limit = PAGE_ROWS,
): Promise<PageLines | null> {
  const line = (glob: boolean) =>
    `'(' || ${dumpColumns(table)
      .map((column) => exactLiteralOf(column, glob))
      .join(" || ', ' || ")} || ')'`;
  const texts: string[] = [];
  let rows = 0;
  let after = bounds.after;
  while (rows < limit) {
    const where = [
      after === null ? null : "rowid > CAST(?1 AS INTEGER)",
      bounds.upTo === null ? null : "rowid <= CAST(?2 AS INTEGER)",
    ].filter(Boolean);
    const take = Math.min(LINES_PER_QUERY, limit - rows);
    // `fit` counts the rows whose lines, joined, stay within LINES_MAX_BYTES; `all` the rows asked for.
    const query = async (glob: boolean) => {
      const [[all, fit, last, text]] = await d1
        .prepare(
          `WITH page AS (SELECT rowid AS r, ${line(glob)} AS l FROM ${quoteIdentifier(table.name)}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY rowid LIMIT ?3),
           sized AS (SELECT r, l, sum(length(CAST(l AS BLOB)) + 1) OVER (ORDER BY r ROWS UNBOUNDED PRECEDING) AS bytes FROM page)
           SELECT (SELECT count(*) FROM page), count(*), quote(max(r)), group_concat(l, char(10)) FROM (SELECT r, l FROM sized WHERE bytes <= ${LINES_MAX_BYTES} ORDER BY r)`,
        )
        .bind(...[after, bounds.upTo, take, ...(glob ? [HEX_TEXT_GLOB] : [])])
        .raw<[number, number, string, string | null]>();
      return { all, count: fit, last, text };
    };
    let { all, count, last, text } = await query(false);
    if (all === 0) break;
    // Rows too long to join within D1's value limit: the page is read value by value.
    if (count < all || text === null) return null;
    if (!plainLines(text, count)) ({ all, count, last, text } = await query(true));
    if (count < all || text === null || !plainLines(text, count)) return null;
    texts.push(text);
    rows += count;
    after = last;
    if (count < take) break;
  }
  return { rows, lastRowid: rows === 0 ? null : after, text: texts.join("\n") };
}

/** pageDigest of a page read as its lines (the same bytes: its lines joined by "\n"). */
export const pageTextDigest = (text: string) => createHash("sha256").update(text).digest("hex");

/** A row as one line of literals: what a page digest covers, and a VALUES line of the dump. */
export const rowLine = (literals: string[]) => `(${literals.join(", ")})`;

/**
 * A page's digest: the sha256 of its rows' exact literals (type and bytes of every stored value,
 * as SQLite writes them), one row per line. It is computed from the values read, not from the
 * statements a dump splits them into, and verify recomputes it from the values it parses back
 * out of the dump — so a dump that would restore something else fails verify.
 */
export function pageDigest(lines: string[]): string {
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

export function tableDigest(pageDigests: string[]): string {
  return createHash("sha256").update(pageDigests.join("\n")).digest("hex");
}

/** One page's digest and rows, as a backup records them: read as lines where it can be (readPageLines), else value by value. */
export async function digestPage(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  bounds: PageBounds,
): Promise<{ rows: number; digest: string; lastRowid: string | null }> {
  const lines = await readPageLines(d1, table, bounds);
  if (lines !== null) return { rows: lines.rows, digest: pageTextDigest(lines.text), lastRowid: lines.lastRowid };
  const page = await readPage(d1, table, bounds);
  return {
    rows: page.length,
    digest: pageDigest(page.map((row) => rowLine(row.literals))),
    lastRowid: page.length === 0 ? null : page[page.length - 1].rowid,
  };
}

/** The same digest a backup records, computed from a live database (for verify-after-restore and drills). */
export async function digestTable(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
): Promise<{ rows: number; sha256: string }> {
  const digests: string[] = [];
  const bounds: PageBounds = { after: null, upTo: null };
  let rows = 0;
  for (;;) {
    const page = await readPage(d1, table, bounds);
    if (page.length === 0) break;
    digests.push(pageDigest(page.map((row) => rowLine(row.literals))));
    rows += page.length;
    bounds.after = page[page.length - 1].rowid;
    if (page.length < PAGE_ROWS) break;
  }
  return { rows, sha256: tableDigest(digests) };
}
