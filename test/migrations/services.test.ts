import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../../src/migrations/apply.service";
import { loadMigrations } from "../../src/migrations/catalog";
import { rollbackMigrations } from "../../src/migrations/rollback.service";
import { getMigrationStatus } from "../../src/migrations/status.service";
import { KeeperError } from "../../src/platform/errors";
import { tablesRuledBy } from "../../src/videos/stored-rules";
import {
  applyLikeWrangler,
  checksumRows,
  contextOn,
  latestShipped,
  latestShippedNumber,
  ledgerNames,
  schemaText,
  shipped,
  sourceOn,
  withExtra,
} from "./support";

// Every test here starts from an empty database of its own (MIGRATIONS_SERVICE_DB).
const db = () => env.MIGRATIONS_SERVICE_DB;
const ctx = () => contextOn(db());
const apply = { dryRun: false, force: false };
const rollback = { dryRun: false, force: false, confirm: true };

async function rejection(promise: Promise<unknown>): Promise<KeeperError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KeeperError) return error;
    throw error;
  }
  throw new Error("expected a KeeperError");
}

async function videoCount(): Promise<number> {
  return (await db().prepare("SELECT count(*) AS n FROM videos").first<{ n: number }>())!.n;
}

describe("one ledger, two doors", () => {
  it("shows migrations wrangler applied as applied, records their checksums as first seen, and rolls them back", async () => {
    const source = await sourceOn(db());
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    await db()
      .prepare(
        "INSERT INTO videos (id, filename, file_path, duration, tags, created_at, updated_at) VALUES ('v1', 'a.mp4', '/a.mp4', 3.5, '[\"x\"]', 1, 1)",
      )
      .run();

    const status = await getMigrationStatus({ ctx: ctx(), source });
    expect(status.current).toEqual({ number: latestShippedNumber, name: latestShipped });
    expect(status.pending).toEqual([]);
    expect(status.drift).toEqual([]);
    expect(status.applied.map((entry) => [entry.name, entry.checksum.recorded_as, entry.checksum.matches])).toEqual(
      shipped.map((name) => [name, "first_seen", true]),
    );

    const result = await rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: 0 }, source });
    expect(result.rolled_back).toEqual(shipped.slice(1).reverse());
    expect(await ledgerNames(db())).toEqual(["0000_initial_schema.sql"]);
    expect((await checksumRows(db())).map((row) => row.name)).toEqual(["0000_initial_schema.sql"]);
    const columns = await db().prepare("SELECT name FROM pragma_table_info('videos')").all<{ name: string }>();
    expect(columns.results.map((column) => column.name)).not.toContain("tags");
    expect(await videoCount()).toBe(1);

    // And wrangler sees them as pending again: its own apply picks them up.
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    expect(await ledgerNames(db())).toEqual(shipped);
  });

  it("writes the ledger rows wrangler writes, so wrangler sees keeper's migrations as applied", async () => {
    const source = await sourceOn(db());
    const result = await applyMigrations({ ctx: ctx(), input: apply, source });
    expect(result.applied).toEqual(shipped);
    const rows = await db().prepare("SELECT id, name, applied_at FROM d1_migrations ORDER BY id").all();
    expect(rows.results).toEqual(shipped.map((name, index) => ({ id: index + 1, name, applied_at: "2026-11-20 10:00:00" })));
    expect((await checksumRows(db())).map((row) => row.recorded_as)).toEqual(shipped.map(() => "applied"));

    // wrangler's apply would fail re-running 0000 (CREATE TABLE): finding nothing to do proves it reads keeper's rows.
    const before = await schemaText(db());
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    expect(await schemaText(db())).toBe(before);
    expect(await ledgerNames(db())).toEqual(shipped);

    // keeper rolls back what it applied; wrangler re-applies it; keeper reports it as first seen.
    await rollbackMigrations({ ctx: ctx(), input: rollback, source });
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    const status = await getMigrationStatus({ ctx: ctx(), source });
    expect(status.applied.map((entry) => entry.checksum.recorded_as)).toEqual([
      ...shipped.slice(0, -1).map(() => "applied"),
      "first_seen",
    ]);
    expect(status.drift).toEqual([]);
  });
});

describe("status", () => {
  it("reports an unmigrated database as version none with everything pending, and writes nothing", async () => {
    const source = await sourceOn(db());
    const before = await schemaText(db());
    const status = await getMigrationStatus({ ctx: ctx(), source });
    expect(status).toMatchObject({ ok: true, current: null, applied: [], drift: [] });
    expect(status.pending.map((entry) => entry.name)).toEqual(shipped);
    expect(await schemaText(db())).toBe(before);
  });
});

describe("apply", () => {
  it("applies up to and including --to, and is safe to repeat", async () => {
    const source = await sourceOn(db());
    const first = await applyMigrations({ ctx: ctx(), input: { ...apply, to: 0 }, source });
    expect(first.applied).toEqual(["0000_initial_schema.sql"]);
    expect(first.bookmark).toEqual({ taken: false, reason: "not the primary database: no Time Travel bookmark taken" });
    const second = await applyMigrations({ ctx: ctx(), input: apply, source });
    expect(second.applied).toEqual(shipped.slice(1));
    const third = await applyMigrations({ ctx: ctx(), input: apply, source });
    expect(third.applied).toEqual([]);
    expect(third.steps).toEqual([]);
    const audit = await db().prepare("SELECT action, target, actor FROM keeper_audit_log ORDER BY id").all();
    expect(audit.results).toEqual(shipped.map((target) => ({ action: "migrations.apply", target, actor: "test-admin" })));
  });

  it("--dry-run returns the exact SQL and changes nothing", async () => {
    const source = await sourceOn(db());
    const before = await schemaText(db());
    const result = await applyMigrations({ ctx: ctx(), input: { ...apply, dryRun: true }, source });
    expect(result.steps.map((step) => step.name)).toEqual(shipped);
    expect(result.steps.map((step) => step.statements)).toEqual(source.migrations.map((migration) => migration.upStatements));
    expect(result.applied).toEqual([]);
    expect(await schemaText(db())).toBe(before);
  });

  it("refuses an unknown --to, and a --to below the current version, changing nothing", async () => {
    const source = await sourceOn(db());
    await applyMigrations({ ctx: ctx(), input: apply, source });
    const before = await schemaText(db());
    const unknown = await rejection(applyMigrations({ ctx: ctx(), input: { ...apply, to: 8999 }, source }));
    expect(unknown.code).toBe("UNPROCESSABLE");
    expect(unknown.message).toContain("no migration number 8999");
    const behind = await rejection(applyMigrations({ ctx: ctx(), input: { ...apply, to: 0 }, source }));
    expect(behind.code).toBe("CONFLICT");
    expect(await schemaText(db())).toBe(before);
  });

  it("pre-flight: refuses the migration that makes D1 enforce the API's rules while stored rows break them, with a report", async () => {
    const source = await sourceOn(db());
    const rules = source.migrations.find((migration) => tablesRuledBy(migration.upStatements).length > 0)!;
    await applyMigrations({ ctx: ctx(), input: { ...apply, to: rules.number - 1 }, source });
    await db()
      .prepare(
        "INSERT INTO videos (id, filename, file_path, duration, tags, created_at, updated_at) VALUES ('bad-tags', 'f.mp4', '/bad', 1, 'not json', 1, 1)",
      )
      .run();
    const before = await schemaText(db());
    for (const dryRun of [true, false]) {
      const refused = await rejection(applyMigrations({ ctx: ctx(), input: { ...apply, dryRun }, source }));
      expect(refused.code).toBe("CONFLICT");
      expect(refused.extra?.preflight).toMatchObject({
        migration: rules.name,
        violations: [{ table: "videos", column: "tags", count: 1, examples: ["bad-tags"] }],
      });
    }
    expect(await schemaText(db())).toBe(before);
    expect(await ledgerNames(db())).not.toContain(rules.name);
    // Fixed with a plain UPDATE (nothing enforces the rule yet), the migration applies.
    await db().prepare("UPDATE videos SET tags = NULL WHERE id = 'bad-tags'").run();
    const applied = await applyMigrations({ ctx: ctx(), input: apply, source });
    expect(applied.applied).toContain(rules.name);
  });

  // Every statement position of a synthetic migration, plus the ledger insert right after it.
  const failing = [
    "ALTER TABLE `videos` ADD `a` text",
    "CREATE INDEX `idx_videos_a` ON `videos` (`a`)",
    "CREATE TABLE `extra` (`id` integer PRIMARY KEY)",
    "INSERT INTO `extra` (`id`) VALUES (1)",
  ];
  for (let k = 0; k < failing.length; k++) {
    it(`leaves schema, ledger, checksums and audit unchanged when statement ${k + 1} of ${failing.length} fails`, async () => {
      const statements = [...failing];
      statements[k] = "INSERT INTO `no_such_table` VALUES (1)";
      const source = await sourceOn(
        db(),
        withExtra({ name: "9002_synthetic.sql", up: statements.join(";\n--> statement-breakpoint\n"), down: "SELECT 1;" }),
      );
      await applyMigrations({ ctx: ctx(), input: { ...apply, to: latestShippedNumber }, source });
      const before = { schema: await schemaText(db()), ledger: await ledgerNames(db()), sums: await checksumRows(db()) };
      const auditBefore = await db().prepare("SELECT count(*) AS n FROM keeper_audit_log").first();

      const error = await rejection(applyMigrations({ ctx: ctx(), input: apply, source }));
      expect(error.code).toBe("UNPROCESSABLE");
      expect(error.message).toContain("9002_synthetic.sql failed and was not applied");
      expect({ schema: await schemaText(db()), ledger: await ledgerNames(db()), sums: await checksumRows(db()) }).toEqual(before);
      expect(await db().prepare("SELECT count(*) AS n FROM keeper_audit_log").first()).toEqual(auditBefore);
    });
  }
});

describe("drift", () => {
  it("reports an edited applied migration, blocks apply, and lets force through", async () => {
    const original = {
      name: "9002_notes.sql",
      up: "ALTER TABLE `videos` ADD `notes` text;",
      down: "ALTER TABLE `videos` DROP COLUMN `notes`;",
    };
    const extra = {
      name: "9003_more.sql",
      up: "ALTER TABLE `videos` ADD `more` text;",
      down: "ALTER TABLE `videos` DROP COLUMN `more`;",
    };
    const applied = await sourceOn(db(), withExtra(original));
    await applyMigrations({ ctx: ctx(), input: apply, source: applied });

    // Same database, but the shipped 9002 was edited after it ran.
    const edited = {
      ...applied,
      migrations: await loadMigrations(withExtra({ ...original, up: `${original.up}\n-- edited` }, extra)),
    };
    const status = await getMigrationStatus({ ctx: ctx(), source: edited });
    expect(status.ok).toBe(false);
    expect(status.drift).toEqual([expect.objectContaining({ kind: "checksum_mismatch", name: "9002_notes.sql" })]);

    const before = await schemaText(db());
    const refused = await rejection(applyMigrations({ ctx: ctx(), input: apply, source: edited }));
    expect(refused.code).toBe("CONFLICT");
    expect(refused.extra?.drift).toEqual(status.drift);
    expect(await schemaText(db())).toBe(before);
    const rollbackRefused = await rejection(rollbackMigrations({ ctx: ctx(), input: rollback, source: edited }));
    expect(rollbackRefused.code).toBe("CONFLICT");

    const forced = await applyMigrations({ ctx: ctx(), input: { ...apply, force: true }, source: edited });
    expect(forced.applied).toEqual(["9003_more.sql"]);
    expect(forced.forced_past_drift.map((entry) => entry.kind)).toEqual(["checksum_mismatch"]);
    const audit = await db()
      .prepare("SELECT detail FROM keeper_audit_log WHERE target = '9003_more.sql'")
      .first<{ detail: string }>();
    expect(JSON.parse(audit!.detail).forced_past_drift).toEqual(["checksum_mismatch 9002_notes.sql"]);
  });

  it("reports a ledger row with no file and a never-applied file older than the newest applied one", async () => {
    const source = await sourceOn(db(), withExtra({ name: "9003_late.sql", up: "SELECT 1;", down: "SELECT 1;" }));
    await applyMigrations({ ctx: ctx(), input: apply, source });
    await db().prepare("INSERT INTO d1_migrations (name) VALUES ('9005_gone.sql')").run();
    const withMissingOlder = {
      ...source,
      migrations: await loadMigrations(
        withExtra(
          { name: "9002_forgotten.sql", up: "SELECT 2;", down: "SELECT 2;" },
          { name: "9003_late.sql", up: "SELECT 1;", down: "SELECT 1;" },
        ),
      ),
    };
    const status = await getMigrationStatus({ ctx: ctx(), source: withMissingOlder });
    expect(status.drift.map((entry) => `${entry.kind} ${entry.name}`)).toEqual([
      "missing_file 9005_gone.sql",
      "out_of_order 9002_forgotten.sql",
    ]);
  });
});

describe("rollback", () => {
  it("rolls back down to and including --to remaining applied, newest first, keeping rows", async () => {
    const files = withExtra(
      { name: "9002_notes.sql", up: "ALTER TABLE `videos` ADD `notes` text;", down: "ALTER TABLE `videos` DROP COLUMN `notes`;" },
      {
        name: "9003_labels.sql",
        up: "CREATE TABLE `labels` (`id` integer PRIMARY KEY, `video_id` text REFERENCES `videos`(`id`) ON DELETE cascade);",
        down: "DROP TABLE `labels`;",
      },
    );
    const source = await sourceOn(db(), files);
    await applyMigrations({ ctx: ctx(), input: apply, source });
    await db()
      .prepare(
        "INSERT INTO videos (id, filename, file_path, duration, created_at, updated_at) VALUES ('v1', 'a.mp4', '/a.mp4', 3.5, 1, 1)",
      )
      .run();

    const plan = await rollbackMigrations({
      ctx: ctx(),
      input: { ...rollback, to: latestShippedNumber, dryRun: true, confirm: false },
      source,
    });
    expect(plan.steps.map((step) => step.name)).toEqual(["9003_labels.sql", "9002_notes.sql"]);
    expect(plan.steps[0].statements).toEqual(["DROP TABLE `labels`"]);
    expect(plan.to).toBe(latestShipped);
    expect(await ledgerNames(db())).toHaveLength(shipped.length + 2);

    const unconfirmed = await rejection(
      rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: latestShippedNumber, confirm: false }, source }),
    );
    expect(unconfirmed.code).toBe("CONFIRMATION_REQUIRED");
    expect(await ledgerNames(db())).toHaveLength(shipped.length + 2);

    const done = await rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: latestShippedNumber }, source });
    expect(done.rolled_back).toEqual(["9003_labels.sql", "9002_notes.sql"]);
    expect(await ledgerNames(db())).toEqual(shipped);
    expect(await videoCount()).toBe(1);
    const audit = await db()
      .prepare("SELECT target FROM keeper_audit_log WHERE action = 'migrations.rollback' ORDER BY id")
      .all();
    expect(audit.results).toEqual([{ target: "9003_labels.sql" }, { target: "9002_notes.sql" }]);

    // Safe to repeat: already there.
    const again = await rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: latestShippedNumber }, source });
    expect(again.rolled_back).toEqual([]);
  });

  it("refuses a confirmed rollback when the database moved since the plan, changing nothing", async () => {
    const files = withExtra(
      { name: "9002_notes.sql", up: "ALTER TABLE `videos` ADD `notes` text;", down: "ALTER TABLE `videos` DROP COLUMN `notes`;" },
      { name: "9003_more.sql", up: "ALTER TABLE `videos` ADD `more` text;", down: "ALTER TABLE `videos` DROP COLUMN `more`;" },
    );
    const source = await sourceOn(db(), files);
    await applyMigrations({ ctx: ctx(), input: { ...apply, to: 9002 }, source });
    const plan = await rollbackMigrations({ ctx: ctx(), input: { ...rollback, dryRun: true, confirm: false }, source });
    expect([plan.from, plan.to]).toEqual(["9002_notes.sql", latestShipped]);
    // Someone applies 9003 between the operator's plan and their confirmation.
    await applyMigrations({ ctx: ctx(), input: apply, source });
    const moved = await rejection(
      rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: latestShippedNumber, from: plan.from ?? undefined }, source }),
    );
    expect(moved.code).toBe("CONFLICT");
    expect(moved.message).toContain("not at 9002_notes.sql as confirmed");
    expect(await ledgerNames(db())).toEqual([...shipped, "9002_notes.sql", "9003_more.sql"]);
  });

  it("never rolls back the first migration, and refuses unknown versions", async () => {
    const source = await sourceOn(db());
    await applyMigrations({ ctx: ctx(), input: { ...apply, to: 0 }, source });
    const first = await rejection(rollbackMigrations({ ctx: ctx(), input: rollback, source }));
    expect(first.code).toBe("CONFLICT");
    expect(first.message).toContain("first migration is never rolled back");
    const unknown = await rejection(rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: 8999 }, source }));
    expect(unknown.code).toBe("UNPROCESSABLE");
    expect(await ledgerNames(db())).toEqual(["0000_initial_schema.sql"]);
  });

  it("refuses when a down file is missing or an unfilled scaffold, changing nothing", async () => {
    for (const down of [null, "-- keeper:unfilled-down: write the statements that undo 9002\n"]) {
      const source = await sourceOn(
        db(),
        withExtra({ name: "9002_notes.sql", up: "ALTER TABLE `videos` ADD `notes` text;", down }),
      );
      await applyMigrations({ ctx: ctx(), input: apply, source });
      const before = { schema: await schemaText(db()), ledger: await ledgerNames(db()) };
      const refused = await rejection(rollbackMigrations({ ctx: ctx(), input: { ...rollback, to: 0 }, source }));
      expect(refused.code).toBe("UNPROCESSABLE");
      expect(refused.message).toContain("9002_notes.sql");
      expect({ schema: await schemaText(db()), ledger: await ledgerNames(db()) }).toEqual(before);
    }
  });

  it("leaves the migration applied when a down statement fails", async () => {
    const source = await sourceOn(
      db(),
      withExtra({
        name: "9002_notes.sql",
        up: "ALTER TABLE `videos` ADD `notes` text;",
        down: "ALTER TABLE `videos` DROP COLUMN `notes`;--> statement-breakpoint\nDROP TABLE `no_such_table`;",
      }),
    );
    await applyMigrations({ ctx: ctx(), input: apply, source });
    const before = { schema: await schemaText(db()), ledger: await ledgerNames(db()), sums: await checksumRows(db()) };
    const failed = await rejection(rollbackMigrations({ ctx: ctx(), input: rollback, source }));
    expect(failed.code).toBe("UNPROCESSABLE");
    expect({ schema: await schemaText(db()), ledger: await ledgerNames(db()), sums: await checksumRows(db()) }).toEqual(before);
  });
});
