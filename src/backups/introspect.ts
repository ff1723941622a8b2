/**
 * What a backup contains, found by introspection rather than a hand list: every table except
 * SQLite's and D1's internals (sqlite_*, _cf_*), both migration ledgers included, so a restored
 * database knows its own version. Tables come parents first (by their foreign keys), so a restore
 * inserts in an order the constraints accept.
 */
export interface TableInfo {
  name: string;
  /** CREATE TABLE as SQLite stores it. */
  sql: string;
  /** Stored columns in order; generated columns are left out (SQLite computes them again). */
  columns: string[];
}

export interface SchemaInfo {
  tables: TableInfo[];
  /** CREATE INDEX / TRIGGER / VIEW statements, applied after the data. */
  extras: string[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
export const quoteIdentifier = quote;

export async function introspect(d1: D1Database): Promise<SchemaInfo> {
  const { results } = await d1
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND tbl_name NOT LIKE '_cf_%' ORDER BY rowid",
    )
    .all<{ type: string; name: string; tbl_name: string; sql: string }>();
  const tables = new Map<string, TableInfo>();
  const parents = new Map<string, Set<string>>();
  const extras: string[] = [];
  for (const entry of results) {
    if (entry.type !== "table") {
      extras.push(entry.sql);
      continue;
    }
    const { results: columns } = await d1
      .prepare(`PRAGMA table_xinfo(${quote(entry.name)})`)
      .all<{ name: string; hidden: number }>();
    const { results: keys } = await d1.prepare(`PRAGMA foreign_key_list(${quote(entry.name)})`).all<{ table: string }>();
    tables.set(entry.name, {
      name: entry.name,
      sql: entry.sql,
      columns: columns.filter((c) => c.hidden === 0).map((c) => c.name),
    });
    parents.set(entry.name, new Set(keys.map((key) => key.table).filter((table) => table !== entry.name)));
  }
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (placed.has(name) || path.has(name) || !tables.has(name)) return;
    path.add(name);
    for (const parent of parents.get(name) ?? []) visit(parent, path);
    placed.add(name);
    ordered.push(tables.get(name) as TableInfo);
  };
  for (const name of [...tables.keys()].sort()) visit(name, new Set());
  return { tables: ordered, extras };
}
