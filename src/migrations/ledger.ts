/**
 * The one ledger is wrangler's `d1_migrations(id, name, applied_at)`: keeper reads and writes it
 * exactly as `wrangler d1 migrations apply` does, so either tool sees what the other applied.
 * Beside it, `keeper_migration_checksums` holds the sha256 of each applied up file (what wrangler
 * lacks). Both tables are created by the tools, not by a migration: they must outlive a rollback of
 * every migration, and the first migration cannot record itself in a table it has not created yet.
 */
export const ledgerTable = "d1_migrations";
export const checksumTable = "keeper_migration_checksums";

/** Verbatim what wrangler runs before applying (so sqlite_schema looks the same whoever came first). */
const createLedgerSql = `CREATE TABLE IF NOT EXISTS "d1_migrations"(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);`;

const createChecksumsSql = `CREATE TABLE IF NOT EXISTS keeper_migration_checksums (
  name TEXT PRIMARY KEY NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  recorded_as TEXT NOT NULL CHECK (recorded_as IN ('applied', 'first_seen')),
  recorded_at INTEGER NOT NULL
)`;

export interface LedgerRow {
  id: number;
  name: string;
  applied_at: string;
}

/** `applied`: keeper hashed the file it ran. `first_seen`: wrangler applied it; hashed when keeper first saw it. */
export type ChecksumOrigin = "applied" | "first_seen";

export interface ChecksumRow {
  name: string;
  sha256: string;
  recorded_as: ChecksumOrigin;
  recorded_at: number;
}

async function tableExists(d1: D1Database, table: string): Promise<boolean> {
  const row = await d1.prepare("SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = ?").bind(table).first();
  return row !== null;
}

export async function readLedger(d1: D1Database): Promise<LedgerRow[]> {
  if (!(await tableExists(d1, ledgerTable))) return [];
  const { results } = await d1.prepare("SELECT id, name, applied_at FROM d1_migrations ORDER BY id").all<LedgerRow>();
  return results;
}

export async function readChecksums(d1: D1Database): Promise<Map<string, ChecksumRow>> {
  if (!(await tableExists(d1, checksumTable))) return new Map();
  const { results } = await d1
    .prepare("SELECT name, sha256, recorded_as, recorded_at FROM keeper_migration_checksums")
    .all<ChecksumRow>();
  return new Map(results.map((row) => [row.name, row]));
}

export async function ensureLedgerTables(d1: D1Database): Promise<void> {
  await d1.batch([d1.prepare(createLedgerSql), d1.prepare(createChecksumsSql)]);
}

/** wrangler's own format for applied_at (SQLite CURRENT_TIMESTAMP: UTC, `YYYY-MM-DD HH:MM:SS`). */
export function ledgerTimestamp(at: Date): string {
  return at.toISOString().slice(0, 19).replace("T", " ");
}

export function insertLedgerRow(d1: D1Database, name: string, at: Date): D1PreparedStatement {
  return d1.prepare("INSERT INTO d1_migrations (name, applied_at) VALUES (?, ?)").bind(name, ledgerTimestamp(at));
}

export function deleteLedgerRow(d1: D1Database, name: string): D1PreparedStatement {
  return d1.prepare("DELETE FROM d1_migrations WHERE name = ?").bind(name);
}

export function recordChecksum(
  d1: D1Database,
  row: { name: string; sha256: string; recordedAs: ChecksumOrigin; at: Date },
): D1PreparedStatement {
  // `applied` overwrites whatever was there; `first_seen` never overwrites an existing record.
  const verb = row.recordedAs === "applied" ? "INSERT OR REPLACE" : "INSERT OR IGNORE";
  return d1
    .prepare(`${verb} INTO keeper_migration_checksums (name, sha256, recorded_as, recorded_at) VALUES (?, ?, ?, ?)`)
    .bind(row.name, row.sha256, row.recordedAs, row.at.getTime());
}

export function deleteChecksum(d1: D1Database, name: string): D1PreparedStatement {
  return d1.prepare("DELETE FROM keeper_migration_checksums WHERE name = ?").bind(name);
}

export async function auditLogExists(d1: D1Database): Promise<boolean> {
  return tableExists(d1, "keeper_audit_log");
}
