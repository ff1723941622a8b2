import { env } from "cloudflare:workers";
import { bundledMigrationFiles } from "../../src/migrations/bundle.generated";
import { loadMigrations, type Migration, type MigrationFile } from "../../src/migrations/catalog";
import { resetDatabase } from "../../src/migrations/scratch-schema";
import type { MigrationSource } from "../../src/migrations/source";
import { parseConfig } from "../../src/platform/config";
import { type AppContext, createContext } from "../../src/platform/context";

export const fixedNow = new Date("2026-11-20T10:00:00.000Z");

/** A service context whose DB (and so its audit log) is the given database. */
export function contextOn(d1: D1Database, deps: { fetch?: typeof fetch; env?: Record<string, unknown> } = {}): AppContext {
  const testEnv = { ...env, ...(deps.env ?? {}), DB: d1 } as Env;
  return createContext(
    testEnv,
    parseConfig(testEnv as unknown as Record<string, unknown>),
    { now: () => fixedNow, fetch: deps.fetch },
    {
      requestId: "test",
      principal: { actor: "test-admin", scopes: ["read", "write", "admin"] },
    },
  );
}

export const bundled = () => loadMigrations(bundledMigrationFiles);

/**
 * The shipped migrations' names, oldest first. Tests say "every shipped migration" through these
 * rather than naming files, so migrations other branches add do not break them; synthetic
 * migrations are numbered 9000 and up for the same reason.
 */
export const shipped = bundledMigrationFiles.filter((file) => file.up !== null).map((file) => file.name);
export const latestShipped = shipped.at(-1)!;
export const latestShippedNumber = Number.parseInt(latestShipped, 10);

export async function sourceOn(d1: D1Database, files?: MigrationFile[]): Promise<MigrationSource> {
  await resetDatabase(d1);
  const migrations: Migration[] = files ? await loadMigrations(files) : await bundled();
  return { d1, migrations, primary: false };
}

/** Bundled files plus extra ones (synthetic migrations for failure cases). */
export function withExtra(...extra: MigrationFile[]): MigrationFile[] {
  return [...bundledMigrationFiles, ...extra];
}

export async function ledgerNames(d1: D1Database): Promise<string[]> {
  const { results } = await d1.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
  return results.map((row) => row.name);
}

export async function schemaText(d1: D1Database): Promise<string> {
  const { results } = await d1
    .prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY type, name")
    .all();
  return JSON.stringify(results);
}

export async function checksumRows(d1: D1Database) {
  const { results } = await d1
    .prepare("SELECT name, sha256, recorded_as FROM keeper_migration_checksums ORDER BY name")
    .all<{ name: string; sha256: string; recorded_as: string }>();
  return results;
}

/** wrangler's way of applying (the vitest plugin's applyD1Migrations runs the same ledger logic). */
export { applyD1Migrations as applyLikeWrangler } from "cloudflare:test";
