import { splitMigrationSql, stripSqlComments } from "./sql-split";

/** One migration file pair as shipped: the up file from drizzle/ and its rollback from drizzle/down/. */
export interface MigrationFile {
  /** The up file's name, `.sql` included — exactly what wrangler writes into `d1_migrations.name`. */
  name: string;
  up: string | null;
  down: string | null;
}

export interface Migration {
  number: number;
  /** `0001_add_video_tags.sql`: the ledger name. */
  name: string;
  up: string;
  down: string | null;
  upStatements: string[];
  downStatements: string[];
  /** Why the down file cannot be run, when it cannot (missing, an unfilled scaffold, empty). */
  downProblem: string | null;
  /** sha256 of the up file's text (UTF-8) as `normalizeMigrationText` gives it, hex. */
  checksum: string;
}

/** `npm run db:generate` writes this marker into a scaffolded down file; the lint and rollback refuse it. */
export const unfilledDownMarker = "keeper:unfilled-down";

const migrationName = /^(\d+)_[A-Za-z0-9_.-]*\.sql$/;

export function migrationNumber(name: string): number | null {
  const match = migrationName.exec(name);
  return match ? Number.parseInt(match[1], 10) : null;
}

/**
 * The text a migration means, whatever checkout it came from: no byte-order mark, LF line endings
 * (a Windows checkout writes CRLF). Checksums and statements are taken from this, so a line-ending
 * change is not drift; an LF file without a BOM (what drizzle-kit writes) is unchanged, so checksums
 * recorded before normalization still match.
 */
export function normalizeMigrationText(text: string): string {
  return text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function downFileProblem(down: string | null): string | null {
  if (down === null) return "no down file in drizzle/down/";
  if (down.includes(unfilledDownMarker)) return "the down file is an unfilled scaffold";
  if (splitMigrationSql(down).length === 0) return "the down file has no statements";
  return null;
}

/**
 * The migrations in the order wrangler applies them (by file name), with statements split and
 * checksums computed. Files whose name wrangler would not treat as a migration are rejected, not skipped.
 */
export async function loadMigrations(files: readonly MigrationFile[]): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    if (file.up === null) continue;
    const number = migrationNumber(file.name);
    if (number === null) throw new Error(`${file.name} is not named NNNN_description.sql`);
    const up = normalizeMigrationText(file.up);
    const down = file.down === null ? null : normalizeMigrationText(file.down);
    migrations.push({
      number,
      name: file.name,
      up,
      down,
      upStatements: splitMigrationSql(up),
      downStatements: down ? splitMigrationSql(down) : [],
      downProblem: downFileProblem(down),
      checksum: await sha256Hex(up),
    });
  }
  const numbers = new Set<number>();
  for (const migration of migrations) {
    if (numbers.has(migration.number)) throw new Error(`two migrations share the number ${migration.number}`);
    numbers.add(migration.number);
  }
  return migrations;
}

/** True when a statement creates the table, so a batch can include an insert into it afterwards. */
export function createsTable(statements: readonly string[], table: string): boolean {
  const pattern = new RegExp(`^\\s*CREATE\\s+TABLE\\s+(IF\\s+NOT\\s+EXISTS\\s+)?[\`"\\[]?${table}[\`"\\]]?[\\s(]`, "i");
  return statements.some((statement) => pattern.test(stripSqlComments(statement)));
}
