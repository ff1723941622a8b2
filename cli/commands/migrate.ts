import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { components } from "../../client/index.ts";
import { CliError } from "../client.ts";
import { confirmOrExit } from "../confirm.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, progress, table } from "../output.ts";

/**
 * `keeper migrate …`: the seed's migrate_db.py over the admin API.
 *   status                 ≈ migrate_db.py status
 *   apply [--to N]         ≈ migrate_db.py migrate [--to N]   (N included)
 *   rollback [--to N]      ≈ migrate_db.py rollback [--to N]  (N stays applied)
 *   test                   ≈ migrate_db.py test               (on SCRATCH_DB)
 *   lint                   safety lint of the bundled migration files
 */

type Schemas = components["schemas"];
type Status = Schemas["MigrationStatus"];
type Plan = Schemas["MigrationApplyResult"] | Schemas["MigrationRollbackResult"];
type Bookmark = Plan["bookmark"];
type StepResult = Schemas["MigrationTestResult"]["migrations"][number]["up"];

export function migrationNumberArgument(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
    throw new InvalidArgumentError("must be a migration number, 0 or more (1 means 0001_….sql)");
  }
  return parsed;
}

function checksumState(entry: Status["applied"][number]): string {
  const { checksum } = entry;
  if (checksum.file === null) return "FILE MISSING";
  if (checksum.recorded === null) return "not recorded";
  const origin = checksum.recorded_as === "applied" ? "verified at apply" : "first seen";
  return checksum.matches ? `ok (${origin}) ${checksum.file.slice(0, 12)}` : `CHANGED since ${origin}`;
}

function renderSql(steps: Plan["steps"]): string {
  return steps.map((step) => [`-- ${step.name}`, ...step.statements.map((sql) => `${sql};`)].join("\n")).join("\n\n");
}

function renderBookmark(bookmark: Bookmark): string {
  return bookmark.taken
    ? `Time Travel bookmark ${bookmark.bookmark} (restore: wrangler d1 time-travel restore <database> --bookmark=${bookmark.bookmark})`
    : bookmark.reason;
}

export function registerMigrate(program: Command, context: CommandContext) {
  const migrate = program.command("migrate").description("Schema migrations: status, apply, rollback, round-trip test, lint");

  migrate
    .command("status")
    .description("Current version, applied migrations with checksums, pending ones, and drift (exit 1 on drift)")
    .action(async () => {
      const client = context.client();
      const status = await client.call(client.api.GET("/admin/migrations"));
      if (!context.output().json || status.ok) {
        emit(context.output(), status, () =>
          [
            keyValues([
              ["current version", status.current ? status.current.name : "none (nothing applied)"],
              ["applied", status.applied.length],
              ["pending", status.pending.length],
            ]),
            table(
              ["applied", "at", "checksum"],
              status.applied.map((entry) => [entry.name, entry.applied_at, checksumState(entry)]),
            ),
            status.pending.length > 0
              ? table(
                  ["pending", "down file"],
                  status.pending.map((entry) => [entry.name, entry.down_ready ? "ready" : "MISSING"]),
                )
              : "",
            status.drift.length > 0
              ? `DRIFT:\n${status.drift.map((entry) => `  ${entry.kind}: ${entry.detail}`).join("\n")}`
              : "",
          ]
            .filter((part) => part !== "")
            .join("\n\n"),
        );
      }
      if (!status.ok)
        throw new CliError(`${status.drift.length} drift finding(s)`, 1, context.output().json ? { ...status } : undefined);
    });

  migrate
    .command("apply")
    .description("Apply pending migrations in order, each atomic with its ledger row")
    .option("--to <n>", "apply up to and including migration number N (default: all pending)", migrationNumberArgument)
    .option("--dry-run", "print the SQL that would run and change nothing", false)
    .option("--force", "apply even though status reports drift", false)
    .action(async (options: { to?: number; dryRun: boolean; force: boolean }) => {
      const client = context.client();
      const plan = await client.call(
        client.api.POST("/admin/migrations/apply", { body: { to: options.to, dryRun: options.dryRun, force: options.force } }),
      );
      emit(context.output(), plan, () => {
        if (plan.steps.length === 0) return `nothing to apply (at ${plan.from ?? "no version"})`;
        if (plan.dry_run)
          return `-- would apply ${plan.steps.length} migration(s) after ${plan.from ?? "nothing"}\n${renderSql(plan.steps)}`;
        return [`applied ${plan.applied?.join(", ")}`, `now at ${plan.to}`, renderBookmark(plan.bookmark)].join("\n");
      });
    });

  migrate
    .command("rollback")
    .description("Run down files newest first; --to N keeps N applied (default: undo the newest only; 0000 is never undone)")
    .option("--to <n>", "roll back every migration numbered above N; N stays applied", migrationNumberArgument)
    .option("--dry-run", "print the SQL that would run and change nothing", false)
    .option("--yes", "do not ask for confirmation (required without a terminal)", false)
    .option("--force", "roll back even though status reports drift", false)
    .action(async (options: { to?: number; dryRun: boolean; yes: boolean; force: boolean }) => {
      const client = context.client();
      const request = { to: options.to, force: options.force };
      const plan = await client.call(client.api.POST("/admin/migrations/rollback", { body: { ...request, dryRun: true } }));
      if (options.dryRun || plan.steps.length === 0) {
        emit(context.output(), plan, () =>
          plan.steps.length === 0
            ? `nothing to roll back (at ${plan.from ?? "no version"})`
            : `-- would roll back ${plan.steps.map((step) => step.name).join(", ")}, leaving ${plan.to}\n${renderSql(plan.steps)}`,
        );
        return;
      }
      if (!context.output().json) progress(renderSql(plan.steps));
      await confirmOrExit(`Roll back ${plan.steps.map((step) => step.name).join(", ")} (leaving ${plan.to})?`, options);
      // Exactly what was confirmed: the plan's target, and only from the version the plan started at.
      const confirmed = {
        to: plan.to === null ? options.to : Number.parseInt(plan.to, 10),
        from: plan.from ?? undefined,
        force: options.force,
      };
      const done = await client.call(
        client.api.POST("/admin/migrations/rollback", { body: { ...confirmed, dryRun: false, confirm: true } }),
      );
      emit(context.output(), done, () =>
        [`rolled back ${done.rolled_back?.join(", ")}`, `now at ${done.to}`, renderBookmark(done.bookmark)].join("\n"),
      );
    });

  migrate
    .command("test")
    .description("Round trip on SCRATCH_DB with data loaded: up all, down all, up all (exit 1 on any failure)")
    .action(async () => {
      progress("running the round trip on SCRATCH_DB …");
      const client = context.client();
      const report = await client.call(client.api.POST("/admin/migrations/test"));
      const cell = (result: StepResult) => (result === null ? "not run" : result.ok ? "pass" : "FAIL");
      if (!context.output().json || report.ok) {
        emit(context.output(), report, () => {
          const problems = report.migrations.flatMap((entry) =>
            (["up", "down", "reup"] as const).flatMap((phase) =>
              (entry[phase]?.problems ?? []).map((problem) => `  ${entry.name} ${phase}: ${problem}`),
            ),
          );
          return [
            table(
              ["migration", "up", "down", "up again"],
              report.migrations.map((entry) => [entry.name, cell(entry.up), cell(entry.down), cell(entry.reup)]),
            ),
            ...problems,
          ].join("\n");
        });
      }
      if (!report.ok) throw new CliError("the migration round trip failed", 1, context.output().json ? { ...report } : undefined);
    });

  migrate
    .command("lint")
    .description("Safety lint of the migration files the Worker bundles (exit 1 on errors)")
    .action(async () => {
      const client = context.client();
      const report = await client.call(client.api.GET("/admin/migrations/lint"));
      if (!context.output().json || report.ok) {
        emit(context.output(), report, () =>
          [
            ...report.findings.map(
              (finding) =>
                `${finding.severity.padEnd(7)} ${finding.rule} ${finding.direction === "down" ? "drizzle/down/" : "drizzle/"}${finding.file}${finding.statement ? ` #${finding.statement}` : ""}\n        ${finding.message}`,
            ),
            `${report.files} file(s): ${report.errors} error(s), ${report.warnings} warning(s)`,
          ].join("\n"),
        );
      }
      if (!report.ok) throw new CliError(`${report.errors} lint error(s)`, 1, context.output().json ? { ...report } : undefined);
    });
}
