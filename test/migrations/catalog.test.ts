import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bundledMigrationFiles } from "../../src/migrations/bundle.generated";
import { loadMigrations, sha256Hex, unfilledDownMarker } from "../../src/migrations/catalog";
import { lintMigrationFiles } from "../../src/migrations/lint";
import { splitMigrationSql } from "../../src/migrations/sql-split";

describe("bundled migration files", () => {
  it("are exactly the files in drizzle/ and drizzle/down/ (run `npm run db:bundle` when this fails)", () => {
    const onDisk = env.MIGRATION_FILES_ON_DISK;
    expect(bundledMigrationFiles.map((file) => file.name)).toEqual(onDisk.map((file) => file.name));
    expect([...bundledMigrationFiles]).toEqual(onDisk);
  });

  it("split into the statements drizzle-kit separated, and hash the exact file bytes", async () => {
    const migrations = await loadMigrations(bundledMigrationFiles);
    const tags = migrations.find((migration) => migration.name === "0001_add_video_tags.sql")!;
    expect(tags.number).toBe(1);
    expect(tags.upStatements).toEqual([
      "ALTER TABLE `videos` ADD `tags` text",
      "CREATE INDEX `idx_videos_tags` ON `videos` (`tags`)",
    ]);
    expect(tags.downStatements).toHaveLength(2);
    expect(tags.checksum).toBe(await sha256Hex(tags.up));
    expect(tags.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("pass the safety lint (every up has a down; nothing D1 refuses or that cascades)", () => {
    const report = lintMigrationFiles(env.MIGRATION_FILES_ON_DISK);
    expect(report.findings.filter((finding) => finding.severity === "error")).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe("splitMigrationSql", () => {
  it("keeps semicolons in strings, comments and trigger bodies, and drops comment-only chunks", () => {
    const sql = `-- header only
CREATE TABLE a (x text DEFAULT ';');
/* a; comment */ INSERT INTO a VALUES ('it''s; fine');--> statement-breakpoint
CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 'y'; DELETE FROM a WHERE x = 'z'; END;
--> statement-breakpoint
-- nothing here`;
    const statements = splitMigrationSql(sql);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toContain("DEFAULT ';'");
    expect(statements[1]).toContain("'it''s; fine'");
    expect(statements[2]).toMatch(/^CREATE TRIGGER t .* END$/s);
  });
});

describe("migration lint", () => {
  const up =
    "CREATE TABLE `parents` (`id` text PRIMARY KEY NOT NULL);\n--> statement-breakpoint\nCREATE TABLE `children` (`id` text PRIMARY KEY NOT NULL, `parent_id` text NOT NULL REFERENCES `parents`(`id`) ON DELETE cascade);";
  const down = "DROP TABLE `children`;--> statement-breakpoint\nDROP TABLE `parents`;";
  const rulesOf = (report: ReturnType<typeof lintMigrationFiles>) =>
    report.findings.filter((finding) => finding.severity === "error").map((finding) => `${finding.file}:${finding.rule}`);

  it("accepts a migration with a matching down file", () => {
    const report = lintMigrationFiles([{ name: "0000_base.sql", up, down }]);
    expect(rulesOf(report)).toEqual([]);
    expect(report.findings.map((finding) => finding.rule)).toEqual(["drop-table", "drop-table"]);
  });

  it("fails a migration with no down file, an unfilled scaffold, or a down file with no up file", () => {
    const report = lintMigrationFiles([
      { name: "0000_base.sql", up, down },
      { name: "0001_no_down.sql", up: "ALTER TABLE `parents` ADD `x` text;", down: null },
      {
        name: "0002_scaffold.sql",
        up: "ALTER TABLE `parents` ADD `y` text;",
        down: `-- ${unfilledDownMarker}: write the rollback\n`,
      },
      { name: "0003_orphan.sql", up: null, down: "SELECT 1;" },
    ]);
    expect(report.ok).toBe(false);
    expect(rulesOf(report)).toEqual([
      "0001_no_down.sql:missing-down",
      "0002_scaffold.sql:unfilled-down",
      "0003_orphan.sql:orphan-down",
    ]);
  });

  it("flags transaction control, PRAGMA foreign_keys, parent-table rebuilds and drops, explaining each", () => {
    const rebuild = [
      "PRAGMA foreign_keys=OFF;",
      "CREATE TABLE `__new_parents` (`id` text PRIMARY KEY NOT NULL, `name` text);",
      "INSERT INTO `__new_parents`(`id`) SELECT `id` FROM `parents`;",
      "DROP TABLE `parents`;",
      "ALTER TABLE `__new_parents` RENAME TO `parents`;",
      "PRAGMA foreign_keys=ON;",
    ].join("--> statement-breakpoint\n");
    const report = lintMigrationFiles([
      { name: "0000_base.sql", up, down },
      { name: "0001_rebuild.sql", up: rebuild, down: "ALTER TABLE `parents` DROP COLUMN `name`;" },
      { name: "0002_tx.sql", up: "BEGIN TRANSACTION;\nALTER TABLE `parents` ADD `z` text;\nCOMMIT;", down: "SAVEPOINT s;" },
      { name: "0003_drop.sql", up: "DROP TABLE `parents`;", down: "CREATE TABLE `parents` (`id` text PRIMARY KEY NOT NULL);" },
      {
        name: "0004_drop_col.sql",
        up: "ALTER TABLE `children` DROP COLUMN `parent_id`;",
        down: "ALTER TABLE `children` ADD `parent_id` text;",
      },
    ]);
    expect(rulesOf(report)).toEqual([
      "0001_rebuild.sql:pragma-foreign-keys",
      "0001_rebuild.sql:parent-table-rebuild",
      "0001_rebuild.sql:pragma-foreign-keys",
      "0002_tx.sql:transaction-control",
      "0002_tx.sql:transaction-control",
      "0002_tx.sql:transaction-control",
      "0003_drop.sql:drop-parent-table",
    ]);
    const rebuildFinding = report.findings.find((finding) => finding.rule === "parent-table-rebuild")!;
    expect(rebuildFinding.statement).toBe(4);
    expect(rebuildFinding.message).toContain("children");
    expect(report.findings.find((finding) => finding.file === "0004_drop_col.sql" && finding.direction === "up")).toMatchObject({
      rule: "drop-column",
      severity: "warning",
    });
  });

  it("turns an acknowledged error into a warning, still reported", () => {
    const report = lintMigrationFiles([
      { name: "0000_base.sql", up, down },
      {
        name: "0001_drop.sql",
        up: "-- keeper:allow drop-parent-table the children are archived first\nDROP TABLE `parents`;",
        down: "SELECT 1;",
      },
    ]);
    expect(report.ok).toBe(true);
    expect(report.findings.find((finding) => finding.rule === "drop-parent-table")).toMatchObject({ severity: "warning" });
  });
});
