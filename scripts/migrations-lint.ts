import { lintMigrationFiles } from "../src/migrations/lint.ts";
import { readMigrationFiles } from "./migration-files.ts";

/** `npm run db:lint`: the migration safety lint over drizzle/ for CI. Exits 1 when there are errors. */
const report = lintMigrationFiles(readMigrationFiles(process.cwd()));
if (process.argv.includes("--json")) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  for (const finding of report.findings) {
    const where = `${finding.direction === "down" ? "drizzle/down/" : "drizzle/"}${finding.file}${finding.statement ? ` #${finding.statement}` : ""}`;
    console.log(`${finding.severity.padEnd(7)} ${finding.rule.padEnd(22)} ${where}\n        ${finding.message}`);
  }
  console.log(`${report.files} migration file(s): ${report.errors} error(s), ${report.warnings} warning(s)`);
}
process.exit(report.ok ? 0 : 1);
