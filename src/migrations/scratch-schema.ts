/**
 * Reading and resetting a database's shape, for the round-trip test on the scratch database.
 * The ledger tables and SQLite's/D1's internal tables are not part of "the schema at a version".
 */
const internal =
  "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT IN ('d1_migrations', 'keeper_migration_checksums')";

export interface SchemaObject {
  type: string;
  name: string;
  table: string;
  sql: string;
}

/**
 * sqlite_schema keeps each object's SQL as written, and ALTER TABLE edits that text in place, so
 * the same shape can be spelled differently: compare with quotes, case of keywords and spacing evened out.
 */
export function normalizeSql(sql: string): string {
  return sql
    .replace(/[`"[\]]/g, "")
    .replace(/\s+/g, " ")
    .replace(/\s*([(),])\s*/g, "$1")
    .trim()
    .toLowerCase();
}

export async function readSchema(d1: D1Database): Promise<SchemaObject[]> {
  const { results } = await d1
    .prepare(
      `SELECT type, name, tbl_name AS "table", sql FROM sqlite_schema WHERE sql IS NOT NULL AND ${internal} ORDER BY type, name`,
    )
    .all<SchemaObject>();
  return results.map((row) => ({ ...row, sql: normalizeSql(row.sql) }));
}

export function diffSchemas(expected: SchemaObject[], actual: SchemaObject[]): string[] {
  const key = (object: SchemaObject) => `${object.type} ${object.name}`;
  const want = new Map(expected.map((object) => [key(object), object.sql]));
  const have = new Map(actual.map((object) => [key(object), object.sql]));
  const problems: string[] = [];
  for (const [name, sql] of want) {
    if (!have.has(name)) problems.push(`missing ${name}`);
    else if (have.get(name) !== sql) problems.push(`${name} differs: expected \`${sql}\`, found \`${have.get(name)}\``);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`unexpected ${name}`);
  return problems;
}

/** Drops every object, children before parents, so no cascade has anything to do. */
export async function resetDatabase(d1: D1Database): Promise<void> {
  const { results: others } = await d1
    .prepare(`SELECT type, name FROM sqlite_schema WHERE type IN ('trigger', 'view') AND ${internal}`)
    .all<{ type: string; name: string }>();
  for (const object of others) await d1.prepare(`DROP ${object.type.toUpperCase()} IF EXISTS "${object.name}"`).run();
  const { results: tables } = await d1
    .prepare(
      `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'`,
    )
    .all<{ name: string }>();
  const remaining = new Set(tables.map((table) => table.name));
  const parentsOf = new Map<string, Set<string>>();
  for (const table of remaining) {
    const { results } = await d1
      .prepare('SELECT DISTINCT "table" AS parent FROM pragma_foreign_key_list(?)')
      .bind(table)
      .all<{ parent: string }>();
    parentsOf.set(table, new Set(results.map((row) => row.parent).filter((parent) => parent !== table)));
  }
  while (remaining.size > 0) {
    const leaves = [...remaining].filter((table) => ![...remaining].some((other) => parentsOf.get(other)?.has(table)));
    // A foreign-key cycle: drop the rest anyway (their rows are test data).
    const batch = leaves.length > 0 ? leaves : [...remaining];
    for (const table of batch) {
      await d1.prepare(`DROP TABLE IF EXISTS "${table}"`).run();
      remaining.delete(table);
    }
  }
}
