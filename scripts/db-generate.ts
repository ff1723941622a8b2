import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { unfilledDownMarker } from "../src/migrations/catalog.ts";
import { splitMigrationSql } from "../src/migrations/sql-split.ts";
import { readMigrationFiles } from "./migration-files.ts";
import { bundlePath, renderBundle } from "./migrations-bundle.ts";

/**
 * `npm run db:generate -- --name <what>`: drizzle-kit generate (arguments passed through), then a
 * down file scaffolded beside every up file that has none, then the Worker's bundle list rewritten.
 * The scaffold is marked unfilled: `npm run db:lint` and rollback refuse it until someone writes it.
 */
export function scaffoldDown(name: string, up: string): string {
  const upLines = splitMigrationSql(up).flatMap((statement) => statement.split("\n").map((line) => `--   ${line}`));
  return [
    `-- ${unfilledDownMarker}: write the statements that undo drizzle/${name}, newest first, then delete this line.`,
    "-- Separate statements with `--> statement-breakpoint`. No BEGIN/COMMIT/SAVEPOINT (D1 refuses them) and no",
    "-- PRAGMA foreign_keys (ignored on D1). Drop child tables before their parents. `npm run db:test` proves it.",
    "-- The up file runs:",
    ...upLines,
    "",
  ].join("\n");
}

const root = process.cwd();
execFileSync(path.join(root, "node_modules/.bin/drizzle-kit"), ["generate", ...process.argv.slice(2)], { stdio: "inherit" });
mkdirSync(path.join(root, "drizzle/down"), { recursive: true });
for (const file of readMigrationFiles(root)) {
  const downFile = path.join(root, "drizzle/down", file.name);
  if (file.up === null || existsSync(downFile)) continue;
  writeFileSync(downFile, scaffoldDown(file.name, file.up));
  console.log(`scaffolded drizzle/down/${file.name}: write the rollback, then run npm run db:lint and npm run db:test`);
}
writeFileSync(path.join(root, bundlePath), renderBundle(root));
console.log(`wrote ${bundlePath}`);
