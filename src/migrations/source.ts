import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { bundledMigrationFiles } from "./bundle.generated";
import { loadMigrations, type Migration } from "./catalog";
import { readChecksums, readLedger } from "./ledger";
import { type Drift, describeState, type MigrationState } from "./state";

/**
 * What the services work on: a database and the migration list for it. The HTTP routes use the
 * bundled files and the app's database; tests pass synthetic lists and the scratch database.
 */
export interface MigrationSource {
  d1: D1Database;
  migrations: Migration[];
  /** The app's own database: changes to it take a Time Travel bookmark first. */
  primary: boolean;
}

export async function bundledSource(ctx: AppContext): Promise<MigrationSource> {
  return { d1: ctx.d1, migrations: await loadMigrations(bundledMigrationFiles), primary: true };
}

export async function readState(source: MigrationSource): Promise<MigrationState> {
  const [ledger, checksums] = await Promise.all([readLedger(source.d1), readChecksums(source.d1)]);
  return describeState(source.migrations, ledger, checksums);
}

/** `--to N` names a migration by its number; anything else is refused before anything runs. */
export function requireKnownVersion(migrations: readonly Migration[], to: number): Migration {
  const migration = migrations.find((candidate) => candidate.number === to);
  if (!migration) {
    const known = migrations.map((candidate) => candidate.number).join(", ") || "none";
    throw new KeeperError("UNPROCESSABLE", `There is no migration number ${to} (known: ${known})`, {
      errors: [{ path: "body.to", message: `unknown migration number ${to}` }],
    });
  }
  return migration;
}

export function refuseOnDrift(drift: Drift[], force: boolean, action: string): void {
  if (drift.length === 0 || force) return;
  throw new KeeperError(
    "CONFLICT",
    `Refusing to ${action}: the ledger and the migration files disagree (${drift.map((entry) => `${entry.kind} ${entry.name}`).join(", ")}). Fix the drift, or pass force to ${action} anyway.`,
    { extra: { drift } },
  );
}

/** The context with its D1 pointed at the source database, for statements (audit) that must join its batch. */
export function onDatabase(ctx: AppContext, d1: D1Database): AppContext {
  return { ...ctx, d1 };
}
