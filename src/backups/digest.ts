import { createHash } from "node:crypto";
import { dumpColumns, quoteIdentifier, type TableInfo } from "./introspect";
import { utf8Bytes } from "./utf8-bytes";

/** Rows per page: the unit of reading, digesting and (as SQL) compressing. */
export const PAGE_ROWS = 5000;

/**
 * How SQLite writes one stored value as an exact SQL literal. `quote()` is SQLite's own rendering:
 * integers in full (no double ever carries an int64), REALs with as many digits as round-trip
 * (±Infinity as ±9.0e+999), BLOBs as X'…', NULL. quote() stops at a NUL, so TEXT holding one
 * becomes CAST(X'…' AS TEXT) over its exact bytes (`instr` on the bytes is a plain scan). A value
 * over LONG_VALUE_BYTES comes out as `~<type> <bytes>` instead (no literal starts with `~`), and
 * readPage fetches it in pieces.
 */
function literalOf(column: string): string {
  const c = quoteIdentifier(column);
  return `CASE WHEN length(CAST(${c} AS BLOB)) > ${LONG_VALUE_BYTES} THEN '~' || typeof(${c}) || ' ' || length(CAST(${c} AS BLOB)) WHEN typeof(${c}) = 'text' AND instr(CAST(${c} AS BLOB), X'00') > 0 THEN 'CAST(X''' || hex(${c}) || ''' AS TEXT)' ELSE quote(${c}) END`;
}

/**
 * The largest value a page query writes as a literal: D1 refuses to build any string or BLOB over
 * 2,000,000 bytes (production does; local D1 does not), and a literal takes up to twice its value
 * and 13 bytes more (hex in CAST(X'…' AS TEXT), or quote() doubling every quote).
 */
export const LONG_VALUE_BYTES = 990_000;
/** The bytes of a long value read per query, as hex (twice as long): under D1's limit. */
const HEX_PIECE_BYTES = 990_000;
/**
 * Where a backup's page ends early: after the first row whose values take the page past this many
 * bytes (text and BLOBs by their bytes, any other value as 8). D1 allows rows of 2 MB, so 5,000
 * of them would be 10 GB, far past a Worker's 128 MB: a page of wide rows holds fewer rows.
 */
export const PAGE_VALUE_BYTES = 4_000_000;

/** SQL for the bytes a row's values take, as PAGE_VALUE_BYTES counts them. */
function rowSize(columns: string[]): string {
  return columns
    .map((column) => {
      const c = quoteIdentifier(column);
      return `CASE typeof(${c}) WHEN 'text' THEN length(CAST(${c} AS BLOB)) WHEN 'blob' THEN length(${c}) ELSE 8 END`;
    })
    .join(" + ");
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

/** How many rows a page holds. */
export interface PageShape {
  /** At most this many (PAGE_ROWS, or what a manifest recorded for the page). */
  limit?: number;
  /**
   * End the page early where its rows grow too wide (a backup choosing its pages); without it the
   * page holds exactly `limit` rows unless the table ends first (reading a page a manifest recorded).
   */
  shorten?: boolean;
}

/** Text a dump writes as hex: control characters (so a row stays on one line) and U+FFFD (see readPage). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: exactly the characters that must not appear raw
export const WRITTEN_AS_HEX = /[\u0000-\u001f\u007f\uFFFD]/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The UTF-8 bytes of the text a quote()d literal stands for, as upper-case hex. */
export function quotedTextHex(literal: string): string {
  let out = "";
  for (const byte of encoder.encode(literal.slice(1, -1).replaceAll("''", "'")))
    out += (byte < 16 ? "0" : "") + byte.toString(16);
  return out.toUpperCase();
}

const hexDigit = (code: number) => (code <= 57 ? code - 48 : code - 55);

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (hexDigit(hex.charCodeAt(2 * i)) << 4) | hexDigit(hex.charCodeAt(2 * i + 1));
  return bytes;
}

/** The literal readPage gives a TEXT value with these bytes (upper-case hex). */
export function textLiteral(hex: string): string {
  let text: string;
  try {
    text = decoder.decode(hexToBytes(hex));
  } catch {
    return `CAST(X'${hex}' AS TEXT)`;
  }
  return WRITTEN_AS_HEX.test(text) ? `CAST(X'${hex}' AS TEXT)` : `'${text.replaceAll("'", "''")}'`;
}

/** A page as readPage gives it; `cut` when it ended early (shorten) with rows left in the table. */
export interface Page {
  rows: PageRow[];
  cut: boolean;
}

/**
 * A page of a table in rowid order, each value as its exact literal. D1 hands TEXT to the Worker as
 * a JS string, decoding invalid UTF-8 to U+FFFD: a literal that shows U+FFFD is read again as hex
 * (a real U+FFFD costs the same detour, and stays exact). Valid text with a control character is
 * encoded as hex here, so every row of a dump is one line. Values re-read as hex and long values
 * (in hex pieces) are fetched in one batch after the page: one query more, whatever their number.
 */
export async function readPage(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  bounds: PageBounds,
  { limit = PAGE_ROWS, shorten = false }: PageShape = {},
): Promise<Page> {
  const columns = dumpColumns(table);
  const name = quoteIdentifier(table.name);
  const range = [
    bounds.after === null ? null : "rowid > CAST(?1 AS INTEGER)",
    bounds.upTo === null ? null : "rowid <= CAST(?2 AS INTEGER)",
  ].filter((condition) => condition !== null);
  const where = (conditions: string[]) => (conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "");
  // Shortened, the page is sized first and ends at the last row that starts within
  // PAGE_VALUE_BYTES: no literal is built for a row past it. `rows_in_range` tells a cut page
  // from the table's end.
  const sql = shorten
    ? `WITH sized AS (SELECT rowid AS r, ${rowSize(columns)} AS size FROM ${name}${where(range)} ORDER BY rowid LIMIT ?3),
       bound AS (SELECT count(*) AS rows_in_range, max(CASE WHEN before < ${PAGE_VALUE_BYTES} THEN r END) AS last
                 FROM (SELECT r, sum(size) OVER (ORDER BY r ROWS UNBOUNDED PRECEDING) - size AS before FROM sized))
       SELECT (SELECT rows_in_range FROM bound), quote(rowid), ${columns.map(literalOf).join(", ")} FROM ${name}${where([...range, "rowid <= (SELECT last FROM bound)"])} ORDER BY rowid LIMIT ?3`
    : `SELECT NULL, quote(rowid), ${columns.map(literalOf).join(", ")} FROM ${name}${where(range)} ORDER BY rowid LIMIT ?3`;
  const raw = await d1.prepare(sql).bind(bounds.after, bounds.upTo, limit).raw<string[]>();
  const rows: PageRow[] = raw.map((record) => ({ rowid: record[1], literals: record.slice(2) }));
  const cut = shorten && raw.length > 0 && raw.length < Number(raw[0][0]);
  const fetches: D1PreparedStatement[] = [];
  const settle: ((results: D1Result<Record<string, string>>[]) => void)[] = [];
  const shownWithReplacement = new Map<number, PageRow[]>();
  for (const row of rows) {
    for (let k = 0; k < row.literals.length; k++) {
      const literal = row.literals[k];
      if (literal.charCodeAt(0) === 126 /* ~ */) {
        const [type, bytes] = literal.slice(1).split(" ");
        const first = fetches.length;
        for (let start = 1; start <= Number(bytes); start += HEX_PIECE_BYTES)
          fetches.push(
            d1
              .prepare(
                `SELECT hex(substr(CAST(${quoteIdentifier(columns[k])} AS BLOB), ?2, ?3)) AS hex FROM ${name} WHERE rowid = CAST(?1 AS INTEGER)`,
              )
              .bind(row.rowid, start, HEX_PIECE_BYTES),
          );
        const pieces = fetches.length - first;
        settle.push((results) => {
          const hex = results
            .slice(first, first + pieces)
            .map((result) => result.results[0].hex)
            .join("");
          row.literals[k] = type === "blob" ? `X'${hex}'` : textLiteral(hex);
        });
      } else if (literal.charCodeAt(0) === 39 && WRITTEN_AS_HEX.test(literal)) {
        if (literal.includes("\uFFFD")) {
          const list = shownWithReplacement.get(k) ?? [];
          list.push(row);
          shownWithReplacement.set(k, list);
        } else {
          row.literals[k] = `CAST(X'${quotedTextHex(literal)}' AS TEXT)`;
        }
      }
    }
  }
  for (const [k, list] of shownWithReplacement) {
    const at = fetches.length;
    fetches.push(
      d1
        .prepare(
          `SELECT quote(rowid) AS rowid, hex(${quoteIdentifier(columns[k])}) AS hex FROM ${name} WHERE rowid IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))`,
        )
        .bind(JSON.stringify(list.map((row) => row.rowid))),
    );
    settle.push((results) => {
      const hexOf = new Map(results[at].results.map((result) => [result.rowid, result.hex]));
      for (const row of list) row.literals[k] = `CAST(X'${hexOf.get(row.rowid)}' AS TEXT)`;
    });
  }
  if (fetches.length > 0) {
    const results = await d1.batch<Record<string, string>>(fetches);
    for (const apply of settle) apply(results);
  }
  return { rows, cut };
}

/** Rows per query of readPageLines: at ~350 bytes a row, a result under D1's 2 MB per value. */
export const LINES_PER_QUERY = 2500;
/**
 * The most bytes of lines one query may join: D1 refuses to build any value over 2,000,000 bytes,
 * the joined lines included (local D1 does not), so a page whose lines pass this is read value by
 * value instead. Checked after the fact, not by sizing each line first: that costs the common page
 * ~15% (measured), and production refuses the rare too-long join by itself (SQLITE_TOOBIG, caught).
 */
export const LINES_MAX_BYTES = 1_900_000;
/**
 * D1 queries one page takes at most: its queries as lines (each maybe twice; see exactLiteralOf),
 * and value by value (readPage: the page, then one batch for long and re-read values).
 */
export const PAGE_QUERIES = 2 * Math.ceil(PAGE_ROWS / LINES_PER_QUERY) + 2;
/**
 * Characters that never appear in a page's lines when SQLite wrote every literal (see
 * exactLiteralOf): every control character but the separator "\n", DEL and U+FFFD. Looked for one
 * by one with `includes` (a native scan each) rather than one regular expression over the class,
 * which V8 runs several times slower over a page (see docs/benchmarks.md).
 */
const NOT_IN_LINES = [...Array.from({ length: 0x20 }, (_, code) => code).filter((code) => code !== 0x0a), 0x7f, 0xfffd].map(
  (code) => String.fromCharCode(code),
);
/**
 * What GLOB finds in TEXT that readPage writes as hex (WRITTEN_AS_HEX but NUL, which instr finds):
 * bound as a parameter, so no control character is ever part of the SQL text.
 */
const HEX_TEXT_GLOB = "*[\u0001-\u001f\u007f\uFFFD]*";
/** D1's error for a value it would not build (over 2,000,000 bytes). */
const TOO_BIG = /SQLITE_TOOBIG|string or blob too big/;

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
  if (NOT_IN_LINES.some((character) => text.includes(character))) return false;
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
 * separators (a value that is not valid UTF-8, which D1 decoded to U+FFFD, is in it), or when its
 * lines join past LINES_MAX_BYTES (or D1 refused to join them): the caller then reads the page
 * with readPage instead.
 */
export async function readPageLines(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  bounds: PageBounds,
  { limit = PAGE_ROWS }: { limit?: number } = {},
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
    const query = async (glob: boolean) => {
      try {
        const [[count, last, text]] = await d1
          .prepare(
            `SELECT count(*), quote(max(r)), group_concat(l, char(10)) FROM (SELECT rowid AS r, ${line(glob)} AS l FROM ${quoteIdentifier(table.name)}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY rowid LIMIT ?3)`,
          )
          .bind(...[after, bounds.upTo, take, ...(glob ? [HEX_TEXT_GLOB] : [])])
          .raw<[number, string, string | null]>();
        return { count, last, text };
      } catch (error) {
        if (error instanceof Error && TOO_BIG.test(error.message)) return null;
        throw error;
      }
    };
    let answer = await query(false);
    if (answer !== null && answer.count === 0) break;
    // Too long is too long whatever it holds: not scanned, and not joined again by a second query.
    if (answer?.text && utf8Bytes(answer.text) > LINES_MAX_BYTES) return null;
    if (answer !== null && answer.text !== null && !plainLines(answer.text, answer.count)) answer = await query(true);
    if (answer === null || answer.text === null || !plainLines(answer.text, answer.count)) return null;
    if (utf8Bytes(answer.text) > LINES_MAX_BYTES) return null;
    texts.push(answer.text);
    rows += answer.count;
    after = answer.last;
    if (answer.count < take) break;
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

/**
 * The rows of a manifest table's page `index`: PAGE_ROWS, unless the backup recorded its pages
 * (some ended early; see PAGE_VALUE_BYTES).
 */
export const pageLimit = (pageRows: number[] | undefined, index: number) => pageRows?.[index] ?? PAGE_ROWS;

/** One page's digest and rows, as a backup records them: read as lines where it can be (readPageLines), else value by value. */
export async function digestPage(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  bounds: PageBounds,
  shape: { limit?: number } = {},
): Promise<{ rows: number; digest: string; lastRowid: string | null }> {
  const lines = await readPageLines(d1, table, bounds, shape);
  if (lines !== null) return { rows: lines.rows, digest: pageTextDigest(lines.text), lastRowid: lines.lastRowid };
  const page = await readPage(d1, table, bounds, shape);
  return {
    rows: page.rows.length,
    digest: pageDigest(page.rows.map((row) => rowLine(row.literals))),
    lastRowid: page.rows.length === 0 ? null : page.rows[page.rows.length - 1].rowid,
  };
}

/** The same digest a backup records, computed from a live database, pages as `pageRows` recorded them. */
export async function digestTable(
  d1: D1Database,
  table: Pick<TableInfo, "name" | "columns" | "rowidAlias">,
  pageRows?: number[],
): Promise<{ rows: number; sha256: string }> {
  const digests: string[] = [];
  const bounds: PageBounds = { after: null, upTo: null };
  let rows = 0;
  for (;;) {
    const limit = pageLimit(pageRows, digests.length);
    const page = await digestPage(d1, table, bounds, { limit });
    if (page.rows === 0) break;
    digests.push(page.digest);
    rows += page.rows;
    bounds.after = page.lastRowid;
    if (page.rows < limit) break;
  }
  return { rows, sha256: tableDigest(digests) };
}
