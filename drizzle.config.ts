import { defineConfig } from "drizzle-kit";

// Generation only: migrations are applied by `wrangler d1 migrations apply` (or keeper itself),
// which keep the one ledger, `d1_migrations`. Never run `drizzle-kit migrate` or `push` here.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema/index.ts",
  out: "./drizzle",
});
