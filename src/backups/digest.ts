import { createHash } from "node:crypto";
import { quoteIdentifier } from "./introspect";
import { renderInserts } from "./sql-render";

/** Rows per page: the unit of reading, compressing (one zstd frame) and digesting. */
export const PAGE_ROWS = 5000;

/**
 * A page's digest is the sha256 of the SQL the backup writes for it: the rendering is deterministic
 * (the same values give the same text), so a restored table, rendered again, must hash the same —
 * and the backup hashes text it produces anyway instead of serializing every row a second time.
 */
export function pageDigest(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
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
    digests.push(
      pageDigest(
        renderInserts(
          table,
          columns,
          page.map((row) => row.slice(1)),
        ),
      ),
    );
    rows += page.length;
    after = Number(page[page.length - 1][0]);
    if (page.length < PAGE_ROWS) break;
  }
  return { rows, sha256: tableDigest(digests) };
}
