import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { MigrationFile } from "../src/migrations/catalog.ts";

/**
 * The migration files on disk, paired up: top-level drizzle/*.sql (what wrangler applies) with
 * drizzle/down/<same name>. A down file without an up file is listed too (with `up: null`), so the
 * lint can report it.
 */
export function readMigrationFiles(root: string): MigrationFile[] {
  const upDir = path.join(root, "drizzle");
  const downDir = path.join(upDir, "down");
  const sqlIn = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isFile() && entry.name.endsWith(".sql"))
          .map((entry) => entry.name)
      : [];
  const names = [...new Set([...sqlIn(upDir), ...sqlIn(downDir)])].sort();
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : null);
  return names.map((name) => ({ name, up: read(path.join(upDir, name)), down: read(path.join(downDir, name)) }));
}
