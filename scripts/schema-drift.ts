import { readFileSync } from "node:fs";
import path from "node:path";
import { generateSQLiteDrizzleJson, generateSQLiteMigration } from "drizzle-kit/api";

/**
 * The SQL drizzle-kit would generate right now: schema.ts compared with the latest migration
 * snapshot. Anything here is a schema change someone forgot to generate a migration for.
 */
export async function findSchemaDrift(root: string): Promise<string[]> {
  const journal = JSON.parse(readFileSync(path.join(root, "drizzle/meta/_journal.json"), "utf8")) as {
    entries: { idx: number; tag: string }[];
  };
  const latest = journal.entries.at(-1);
  if (!latest) throw new Error("drizzle/meta/_journal.json lists no migrations");
  const snapshotFile = path.join(root, `drizzle/meta/${String(latest.idx).padStart(4, "0")}_snapshot.json`);
  const previous = JSON.parse(readFileSync(snapshotFile, "utf8"));
  const schema = (await import(path.join(root, "src/db/schema/index.ts"))) as Record<string, unknown>;
  const current = await generateSQLiteDrizzleJson(schema, previous.id);
  return generateSQLiteMigration(previous, current);
}

if (import.meta.main) {
  const drift = await findSchemaDrift(process.cwd());
  if (process.argv.includes("--json")) {
    process.stdout.write(JSON.stringify(drift));
    process.exit(0);
  }
  if (drift.length > 0) {
    console.error("schema.ts differs from the migrations; run `npm run db:generate`. Pending SQL:");
    for (const statement of drift) console.error(`  ${statement}`);
    process.exit(1);
  }
  console.log("schema.ts matches the migrations");
}
