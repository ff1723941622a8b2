import { createHash } from "node:crypto";
import { canonicalRow, quoteIdentifier } from "./introspect";

/** Rows per page: the unit of reading, compressing (one zstd frame) and digesting. */
export const PAGE_ROWS = 5000;

export function pageDigest(rows: unknown[][]): string {
  const hash = createHash("sha256");
  for (const row of rows) hash.update(`${canonicalRow(row)}\n`);
  return hash.digest("hex");
}

export function tableDigest(pageDigests: string[]): string {
  return createHash("sha256").update(pageDigests.join("\n")).digest("hex");
}

/** A page of a table in rowid order after `afterRowid`: [rowid, ...stored columns] per row. */
export async function readPage(d1: D1Database, table: string, columns: string[], afterRowid: number, limit = PAGE_ROWS) {
  const list = columns.map(quoteIdentifier).join(", ");
  return d1
    .prepare(`SELECT rowid, ${list} FROM ${quoteIdentifier(table)} WHERE rowid > ? ORDER BY rowid LIMIT ?`)
    .bind(afterRowid, limit)
    .raw<unknown[]>();
}

/** The same digest a backup records, computed from a live database (for verify-after-restore and drills). */
export async function digestTable(d1: D1Database, table: string, columns: string[]): Promise<{ rows: number; sha256: string }> {
  const digests: string[] = [];
  let after = 0;
  let rows = 0;
  for (;;) {
    const page = await readPage(d1, table, columns, after);
    if (page.length === 0) break;
    digests.push(pageDigest(page.map((row) => row.slice(1))));
    rows += page.length;
    after = Number(page[page.length - 1][0]);
    if (page.length < PAGE_ROWS) break;
  }
  return { rows, sha256: tableDigest(digests) };
}
