import type { Bookmark } from "../migrations/time-travel";

export const BACKUP_PREFIX = "backups/";
export const MANIFEST_NAME = "manifest.json";
export const manifestKey = (id: string) => `${BACKUP_PREFIX}${id}/${MANIFEST_NAME}`;

export interface ManifestObject {
  key: string;
  kind: "schema" | "data" | "extras";
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
  /** sha256 over the sha256 of each 5,000-row page's SQL (rows in rowid order, rendered deterministically). */
  sha256: string;
  columns: string[];
}

export interface Manifest {
  format: "d1-keeper/sql-zstd@1";
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
