import { z } from "@hono/zod-openapi";
import type { Bookmark } from "../migrations/time-travel";

export const BACKUP_PREFIX = "backups/";
export const MANIFEST_NAME = "manifest.json";
export const manifestKey = (id: string) => `${BACKUP_PREFIX}${id}/${MANIFEST_NAME}`;
/**
 * @2: values are SQLite's own literals, digests cover the values (not the statements), rowids are
 * kept, tables are bounded by their high-water marks, sqlite_sequence is included.
 */
export const MANIFEST_FORMAT = "d1-keeper/sql-zstd@2";

export const ManifestObjectSchema = z
  .object({
    key: z.string(),
    kind: z.enum(["schema", "data", "sequence", "extras"]),
    table: z.string().nullable(),
    rows: z.number(),
    bytes: z.number().openapi({ description: "Compressed bytes, as stored" }),
    sql_bytes: z.number().openapi({ description: "Uncompressed SQL bytes" }),
    sha256: z.string(),
    frames: z
      .array(z.number())
      .openapi({ description: "Compressed length of each zstd frame (≤ 32 KB of SQL each), for frame-by-frame reading" }),
    pages_sha256: z.string().optional().openapi({
      description:
        "Data objects: sha256 over the digests of the pages it holds (whole pages, in rowid order), so verify and restore check a table object by object",
    }),
  })
  .openapi("BackupObject");
export type ManifestObject = z.output<typeof ManifestObjectSchema>;

export const ManifestTableSchema = z
  .object({
    name: z.string(),
    rows: z.number(),
    // Recomputed by verify from the dump and by restore from the target (see digest.ts).
    sha256: z.string().openapi({
      description:
        "sha256 over the sha256 of each page (5,000 rows, or as page_rows says), in rowid order; a page's is the sha256 of its rows' exact literals",
    }),
    page_rows: z.array(z.number()).optional().openapi({
      description:
        "Rows of each page, present when a page ended early because its rows are wide (see docs/backups.md); absent: 5,000 each",
    }),
    columns: z.array(z.string()),
    rowid_alias: z
      .string()
      .nullable()
      .openapi({ description: "The column that is the rowid, or null when the dump writes `rowid` itself" }),
    parents: z.array(z.string()).openapi({ description: "Tables its foreign keys reference" }),
    high_water: z
      .string()
      .nullable()
      .openapi({ description: "Largest rowid when the backup started (null: empty); rows above it were not read" }),
    sequence: z.string().nullable().openapi({ description: "Its sqlite_sequence value when the backup started, or null" }),
  })
  .openapi("BackupTable");
export type ManifestTable = z.output<typeof ManifestTableSchema>;

const BookmarkSchema = z.union([
  z.object({ taken: z.literal(true), bookmark: z.string(), database_id: z.string() }),
  z.object({ taken: z.literal(false), reason: z.string() }),
]) satisfies z.ZodType<Bookmark>;

export const ManifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    id: z.string(),
    created_at: z.string(),
    finished_at: z.string(),
    duration_ms: z.number(),
    invocations: z.number(),
    schema_version: z.string().nullable(),
    bookmark: BookmarkSchema.openapi({ description: "D1 Time Travel bookmark taken when the backup started, or why none was" }),
    compression: z.literal("zstd"),
    tables: z.array(ManifestTableSchema),
    objects: z.array(ManifestObjectSchema),
    totals: z.object({ rows: z.number(), bytes: z.number(), sql_bytes: z.number() }),
    excluded_tables: z.array(z.string()),
    restore_hint: z.string(),
  })
  .openapi("BackupManifest");
export type Manifest = z.output<typeof ManifestSchema>;

/** Each table's share of a backup: its data objects' uncompressed SQL and stored (compressed) bytes. */
export function dumpSizeByTable(manifest: Manifest): Map<string, { sql_bytes: number; bytes: number }> {
  const sizes = new Map<string, { sql_bytes: number; bytes: number }>();
  for (const object of manifest.objects) {
    if (object.kind !== "data" || object.table === null) continue;
    const size = sizes.get(object.table) ?? { sql_bytes: 0, bytes: 0 };
    size.sql_bytes += object.sql_bytes;
    size.bytes += object.bytes;
    sizes.set(object.table, size);
  }
  return sizes;
}

const sqlText = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Statements that set sqlite_sequence to the backed-up values, one pair per AUTOINCREMENT table, so
 * ids are not handed out again after a restore (an insert with explicit ids only raises the value
 * to the largest id, not to what the deleted rows had used).
 */
export function sequenceSql(tables: Pick<ManifestTable, "name" | "sequence">[]): string {
  return tables
    .filter((table) => table.sequence !== null)
    .map(
      (table) =>
        `DELETE FROM sqlite_sequence WHERE name = ${sqlText(table.name)};\nINSERT INTO sqlite_sequence (name, seq) VALUES (${sqlText(table.name)}, ${table.sequence});\n`,
    )
    .join("");
}
