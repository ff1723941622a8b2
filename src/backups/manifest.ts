import type { Bookmark } from "../migrations/time-travel";

export const BACKUP_PREFIX = "backups/";
export const MANIFEST_NAME = "manifest.json";
export const manifestKey = (id: string) => `${BACKUP_PREFIX}${id}/${MANIFEST_NAME}`;
/**
 * @2: values are SQLite's own literals, digests cover the values (not the statements), rowids are
 * kept, tables are bounded by their high-water marks, sqlite_sequence is included.
 */
export const MANIFEST_FORMAT = "d1-keeper/sql-zstd@2";

export interface ManifestObject {
  key: string;
  kind: "schema" | "data" | "sequence" | "extras";
  table: string | null;
  rows: number;
  /** Compressed bytes, as stored. */
  bytes: number;
  /** Uncompressed SQL bytes. */
  sql_bytes: number;
  sha256: string;
  /** Compressed length of each zstd frame (≤ 32 KB of SQL each), for frame-by-frame reading. */
  frames: number[];
}

export interface ManifestTable {
  name: string;
  rows: number;
  /**
   * sha256 over the sha256 of each 5,000-row page, in rowid order; a page's is the sha256 of its
   * rows' exact literals (see digest.ts), recomputed by verify from the dump and by restore from the target.
   */
  sha256: string;
  columns: string[];
  /** The column that is the rowid, or null when the dump writes `rowid` itself. */
  rowid_alias: string | null;
  /** Tables its foreign keys reference. */
  parents: string[];
  /** Largest rowid when the backup started (null: empty); rows above it were not read. */
  high_water: string | null;
  /** Its sqlite_sequence value when the backup started, or null. */
  sequence: string | null;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  created_at: string;
  finished_at: string;
  duration_ms: number;
  invocations: number;
  schema_version: string | null;
  bookmark: Bookmark;
  compression: "zstd";
  tables: ManifestTable[];
  objects: ManifestObject[];
  totals: { rows: number; bytes: number; sql_bytes: number };
  excluded_tables: string[];
  restore_hint: string;
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
