import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      SCHEMA_DRIFT: string[];
      MIGRATION_FILES_ON_DISK: { name: string; up: string | null; down: string | null }[];
      MIGRATIONS_SERVICE_DB: D1Database;
      MIGRATIONS_HTTP_DB: D1Database;
      MIGRATIONS_ROUND_TRIP_DB: D1Database;
      WRANGLER_CRONS: string[];
    }
  }
}
