import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Runs before each test file; idempotent, and writes wrangler's own ledger (d1_migrations).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
