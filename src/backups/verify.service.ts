import type { AppContext } from "../platform/context";
import { readObjectLines, requireManifest } from "./catalog.service";

/**
 * Re-reads every object of a backup: sha256 against the manifest, every frame decompresses, and
 * the rows in it (one per line starting with "(") add up to the manifest's counts per object and
 * per table. Problems are reported, not thrown, so one bad object does not hide the others.
 */
export async function verifyBackup({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const manifest = await requireManifest(ctx, input.id);
  const problems: string[] = [];
  const rowsByTable = new Map<string, number>();
  for (const object of manifest.objects) {
    let rows = 0;
    try {
      for await (const lines of readObjectLines(ctx, object)) {
        for (const line of lines) if (line.startsWith("(")) rows++;
      }
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    if (rows !== object.rows) problems.push(`${object.key}: ${rows} rows, the manifest says ${object.rows}`);
    if (object.table) rowsByTable.set(object.table, (rowsByTable.get(object.table) ?? 0) + rows);
  }
  for (const table of manifest.tables) {
    const found = rowsByTable.get(table.name) ?? 0;
    if (found !== table.rows) problems.push(`table ${table.name}: ${found} rows in its objects, the manifest says ${table.rows}`);
  }
  return { id: manifest.id, ok: problems.length === 0, objects: manifest.objects.length, rows: manifest.totals.rows, problems };
}
