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
  /**
   * The column that is the table's rowid (a lone INTEGER PRIMARY KEY), or null when the rowid is
   * hidden: then a dump writes `rowid` itself, so a restored row keeps its rowid (and its place in
   * digest order).
   */
  rowidAlias: string | null;
  /** Tables this one's foreign keys reference (itself left out). */
  parents: string[];
}

export interface SchemaInfo {
  tables: TableInfo[];
  /** CREATE INDEX / TRIGGER / VIEW statements, applied after the data. */
  extras: string[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
export const quoteIdentifier = quote;

/**
 * Both PRAGMAs of every table in one D1 batch: reading a schema costs two queries, not two per
 * table (a backup's first step and a restore's plan run under a step budget of 45 on the free plan).
 */
export async function introspect(d1: D1Database): Promise<SchemaInfo> {
  const { results } = await d1
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND tbl_name NOT LIKE '_cf_%' ORDER BY rowid",
    )
    .all<{ type: string; name: string; tbl_name: string; sql: string }>();
  const tables = new Map<string, TableInfo>();
  const extras = results.filter((entry) => entry.type !== "table").map((entry) => entry.sql);
  const tableEntries = results.filter((entry) => entry.type === "table");
  const statements = tableEntries.flatMap((entry) => [
    d1.prepare(`PRAGMA table_xinfo(${quote(entry.name)})`),
    d1.prepare(`PRAGMA foreign_key_list(${quote(entry.name)})`),
  ]);
  const pragmas = statements.length > 0 ? await d1.batch(statements) : [];
  tableEntries.forEach((entry, index) => {
    const columns = pragmas[index * 2].results as { name: string; hidden: number; type: string; pk: number }[];
    const references = pragmas[index * 2 + 1].results as { table: string }[];
    const keys = columns.filter((c) => c.pk > 0);
    const parentNames = [...new Set(references.map((key) => key.table).filter((table) => table !== entry.name))];
    tables.set(entry.name, {
      name: entry.name,
      sql: entry.sql,
      columns: columns.filter((c) => c.hidden === 0).map((c) => c.name),
      rowidAlias: keys.length === 1 && keys[0].type.toUpperCase() === "INTEGER" ? keys[0].name : null,
      parents: parentNames,
    });
  });
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (placed.has(name) || path.has(name) || !tables.has(name)) return;
    path.add(name);
    for (const parent of tables.get(name)?.parents ?? []) visit(parent, path);
    placed.add(name);
    ordered.push(tables.get(name) as TableInfo);
  };
  for (const name of [...tables.keys()].sort()) visit(name, new Set());
  return { tables: ordered, extras };
}

/** The columns a dump writes for `table`: its stored columns, preceded by `rowid` when no column is the rowid. */
export const dumpColumns = (table: Pick<TableInfo, "columns" | "rowidAlias">) =>
  table.rowidAlias ? table.columns : ["rowid", ...table.columns];
