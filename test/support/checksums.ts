import { env } from "cloudflare:workers";

/**
 * A digest per table of every row in rowid order: "the database did not change" is then an
 * equality of two of these maps. `skip` names tables that legitimately change on every request.
 */
export async function tableChecksums(db: D1Database = env.DB, skip: (table: string) => boolean = () => false) {
  const { results } = await db
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
    )
    .all<{ name: string }>();
  const sums: Record<string, string> = {};
  for (const { name } of results) {
    if (skip(name)) continue;
    const rows = await db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).raw();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(rows)));
    sums[name] = `${rows.length}:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }
  return sums;
}
