import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadMigrations } from "../../src/migrations/catalog";
import { testMigrationRoundTrip } from "../../src/migrations/round-trip.service";
import { bundled, contextOn, withExtra } from "./support";

const scratch = () => env.MIGRATIONS_ROUND_TRIP_DB;
// The audit summary and the scratch lease live in the app database (this file's own copy of DB).
const ctx = () => contextOn(env.DB);

describe("migration round trip (up all, down all, up all) with data present", () => {
  it("passes for every shipped migration", async () => {
    const report = await testMigrationRoundTrip({ ctx: ctx(), d1: scratch(), migrations: await bundled() });
    const failures = report.migrations.flatMap((entry) =>
      (["up", "down", "reup"] as const).flatMap((phase) =>
        entry[phase]?.ok ? [] : [`${entry.name} ${phase}: ${entry[phase]?.problems.join("; ") ?? "not run"}`],
      ),
    );
    expect(failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.migrations.map((entry) => entry.name)).toEqual((await bundled()).map((migration) => migration.name));
    // Representative rows were really there: parents and children of every app table.
    for (const table of ["videos", "video_context", "memory", "conversations", "messages"]) {
      const row = await scratch().prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>();
      expect(row!.n, table).toBeGreaterThan(0);
    }
  });

  it("fails a migration that rebuilds a parent table, because the rebuild cascades into the children", async () => {
    const rebuild = [
      "CREATE TABLE `__new_videos` (`id` text PRIMARY KEY NOT NULL, `filename` text NOT NULL, `file_path` text NOT NULL, `duration` real NOT NULL, `category` text, `metadata` text, `created_at` integer NOT NULL, `updated_at` integer NOT NULL, `deleted_at` integer, `tags` text, CONSTRAINT `videos_duration_positive` CHECK(`duration` > 0))",
      "INSERT INTO `__new_videos` SELECT `id`, `filename`, `file_path`, `duration`, `category`, `metadata`, `created_at`, `updated_at`, `deleted_at`, `tags` FROM `videos`",
      "DROP TABLE `videos`",
      "ALTER TABLE `__new_videos` RENAME TO `videos`",
    ].join(";\n--> statement-breakpoint\n");
    const migrations = await loadMigrations(withExtra({ name: "9002_rebuild_videos.sql", up: rebuild, down: "SELECT 1;" }));
    const report = await testMigrationRoundTrip({ ctx: ctx(), d1: scratch(), migrations });
    expect(report.ok).toBe(false);
    const entry = report.migrations.find((candidate) => candidate.name === "9002_rebuild_videos.sql")!;
    expect(entry.up?.ok).toBe(false);
    expect(entry.up?.problems.join("\n")).toMatch(/rows: video_context: \d+ of \d+ row\(s\) lost/);
    expect(entry.up?.problems.join("\n")).toMatch(/rows: messages: \d+ of \d+ row\(s\) lost/);
    // Steps after a failure are not run, and say so by being null.
    expect(entry.down).toBeNull();
  });

  it("fails a down file that does not restore the previous schema", async () => {
    const migrations = await loadMigrations(
      withExtra({
        name: "9002_video_notes.sql",
        up: "ALTER TABLE `videos` ADD `notes` text;--> statement-breakpoint\nCREATE INDEX `idx_videos_notes` ON `videos` (`notes`);",
        down: "DROP INDEX `idx_videos_notes`;",
      }),
    );
    const report = await testMigrationRoundTrip({ ctx: ctx(), d1: scratch(), migrations });
    const entry = report.migrations.find((candidate) => candidate.name === "9002_video_notes.sql")!;
    expect(entry.up?.ok).toBe(true);
    expect(entry.down?.ok).toBe(false);
    expect(entry.down?.problems.join("\n")).toContain("schema: table videos differs");
  });

  it("fails a down file that loses rows of a table it should leave alone", async () => {
    const migrations = await loadMigrations(
      withExtra({
        name: "9002_video_notes.sql",
        up: "ALTER TABLE `videos` ADD `notes` text;",
        down: "DELETE FROM `messages`;--> statement-breakpoint\nALTER TABLE `videos` DROP COLUMN `notes`;",
      }),
    );
    const report = await testMigrationRoundTrip({ ctx: ctx(), d1: scratch(), migrations });
    const entry = report.migrations.find((candidate) => candidate.name === "9002_video_notes.sql")!;
    expect(entry.down?.problems).toEqual([expect.stringMatching(/^rows: messages: \d+ of \d+ row\(s\) lost$/)]);
  });
});
