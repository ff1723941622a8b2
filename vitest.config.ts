import { execFileSync } from "node:child_process";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";
import { readMigrationFiles } from "./scripts/migration-files.ts";

export const testTokens = {
  KEEPER_READ_TOKEN: "test-read-token-0123456789",
  KEEPER_WRITE_TOKEN: "test-write-token-0123456789",
  KEEPER_ADMIN_TOKEN: "test-admin-token-0123456789,test-admin-token-rotated-0123456789",
};

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "drizzle"));
  // What drizzle/ holds, so a test can tell when the Worker's bundled list is stale.
  const migrationFilesOnDisk = readMigrationFiles(import.meta.dirname).map((file) => ({ ...file }));
  // Computed here in Node (drizzle-kit cannot run inside workerd) and asserted empty by a test.
  const schemaDrift = JSON.parse(
    execFileSync(path.join(import.meta.dirname, "node_modules/.bin/tsx"), ["scripts/schema-drift.ts", "--json"], {
      cwd: import.meta.dirname,
      encoding: "utf8",
    }),
  ) as string[];
  const wranglerCrons = unstable_readConfig({ config: path.join(import.meta.dirname, "wrangler.toml") }).triggers.crons ?? [];
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ...testTokens,
            KEEPER_ENV: "test",
            // Every job step in the suite runs under production's per-invocation limits.
            KEEPER_PLATFORM_LIMITS: "paid",
            // Tests read the monitor's figures right after the requests that made them.
            QUERY_MONITOR_FLUSH_SECONDS: "0",
            TEST_MIGRATIONS: migrations,
            SCHEMA_DRIFT: schemaDrift,
            MIGRATION_FILES_ON_DISK: migrationFilesOnDisk,
            WRANGLER_CRONS: wranglerCrons,
          },
          // Databases of their own for the migration tests, which create and drop whole schemas.
          d1Databases: {
            MIGRATIONS_SERVICE_DB: "migrations-service-db",
            MIGRATIONS_HTTP_DB: "migrations-http-db",
            MIGRATIONS_ROUND_TRIP_DB: "migrations-round-trip-db",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      // test/cli runs under Node (node --test), test/e2e in a real browser: neither belongs in workerd.
      exclude: ["test/e2e/**", "test/cli/**"],
      setupFiles: ["./test/support/apply-migrations.ts"],
      testTimeout: 30_000,
    },
  };
});
