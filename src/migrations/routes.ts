import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { jsonBody as body, jsonContent as json, keeperRoute, problems } from "../platform/route";
import { applyMigrations } from "./apply.service";
import { bundledMigrationFiles } from "./bundle.generated";
import { lintMigrationFiles } from "./lint";
import { rollbackMigrations } from "./rollback.service";
import { testMigrationRoundTrip } from "./round-trip.service";
import { withSchemaLock } from "./schema-lock";
import { getMigrationStatus } from "./status.service";

const migrationNumber = z
  .number()
  .int()
  .min(0, "migration numbers start at 0")
  .openapi({ description: "A migration's number: 1 means 0001_….sql", example: 1 });

const Drift = z.object({
  kind: z.enum(["checksum_mismatch", "missing_file", "out_of_order"]),
  name: z.string(),
  detail: z.string(),
});

const Status = z
  .object({
    ok: z.boolean().openapi({ description: "false when there is drift" }),
    current: z.object({ number: z.number().int().nullable(), name: z.string() }).nullable(),
    applied: z.array(
      z.object({
        number: z.number().int().nullable(),
        name: z.string(),
        applied_at: z.string(),
        checksum: z.object({
          recorded: z.string().nullable(),
          recorded_as: z.enum(["applied", "first_seen"]).nullable(),
          file: z.string().nullable(),
          matches: z.boolean().nullable(),
        }),
      }),
    ),
    pending: z.array(z.object({ number: z.number().int(), name: z.string(), down_ready: z.boolean() })),
    drift: z.array(Drift),
  })
  .openapi("MigrationStatus");

const Bookmark = z.union([
  z.object({ taken: z.literal(true), bookmark: z.string(), database_id: z.string() }),
  z.object({ taken: z.literal(false), reason: z.string() }),
]);

const Step = z.object({ number: z.number().int(), name: z.string(), statements: z.array(z.string()) });

const planFields = {
  dry_run: z.boolean(),
  from: z.string().nullable().openapi({ description: "The newest applied migration before this call" }),
  to: z.string().nullable().openapi({ description: "The newest applied migration after it (or that would be, for a dry run)" }),
  steps: z.array(Step).openapi({ description: "Each migration in order with the exact SQL statements it runs" }),
  bookmark: Bookmark,
  forced_past_drift: z.array(Drift),
};

const ApplyResult = z.object({ ...planFields, applied: z.array(z.string()) }).openapi("MigrationApplyResult");
const RollbackResult = z.object({ ...planFields, rolled_back: z.array(z.string()) }).openapi("MigrationRollbackResult");

const StepResult = z.object({ ok: z.boolean(), problems: z.array(z.string()) }).nullable();
const TestResult = z
  .object({
    ok: z.boolean(),
    database: z.string(),
    migrations: z.array(z.object({ name: z.string(), up: StepResult, down: StepResult, reup: StepResult })),
  })
  .openapi("MigrationTestResult");

const LintReport = z
  .object({
    ok: z.boolean(),
    files: z.number().int(),
    errors: z.number().int(),
    warnings: z.number().int(),
    findings: z.array(
      z.object({
        file: z.string(),
        direction: z.enum(["up", "down"]),
        rule: z.string(),
        severity: z.enum(["error", "warning", "info"]),
        statement: z.number().int().nullable(),
        message: z.string(),
      }),
    ),
  })
  .openapi("MigrationLintReport");

export const migrationStatusRoute = keeperRoute({
  method: "get",
  path: "/admin/migrations",
  operationId: "migrations.status",
  scope: "read",
  tags: ["migrations"],
  summary: "Schema version, applied (with checksums), pending, and drift between the ledger and the files",
  description:
    "Reads wrangler's d1_migrations ledger. Migrations applied by wrangler get their checksum recorded here the first time keeper sees them (recorded_as: first_seen).",
  responses: { 200: json("Migration status", Status) },
});

export const applyMigrationsRoute = keeperRoute({
  method: "post",
  path: "/admin/migrations/apply",
  operationId: "migrations.apply",
  scope: "admin",
  tags: ["migrations"],
  summary: "Apply pending migrations in order, each atomic with its ledger row",
  request: body(
    z
      .object({
        to: migrationNumber.optional().openapi({ description: "Apply up to and including this migration number; default: all" }),
        dryRun: z.boolean().default(false),
        force: z.boolean().default(false).openapi({ description: "Apply even though status reports drift" }),
      })
      .strict(),
  ),
  responses: {
    200: json("What was applied (or would be, for a dry run)", ApplyResult),
    409: problems[409],
    423: problems[423],
    502: problems[502],
    422: problems[422],
  },
});

export const rollbackMigrationsRoute = keeperRoute({
  method: "post",
  path: "/admin/migrations/rollback",
  operationId: "migrations.rollback",
  scope: "admin",
  tags: ["migrations"],
  summary: "Run down files newest first, each atomic with removing its ledger row",
  request: body(
    z
      .object({
        to: migrationNumber
          .optional()
          .openapi({ description: "Keep migrations up to and including this number applied; default: roll back the newest one" }),
        from: z.string().min(1).max(200).optional().openapi({
          description:
            "The version the caller confirmed (a dry run's `from`); refused with 409 when the database is no longer at it",
        }),
        dryRun: z.boolean().default(false),
        confirm: z.boolean().default(false),
        force: z.boolean().default(false).openapi({ description: "Roll back even though status reports drift" }),
      })
      .strict(),
  ),
  responses: {
    200: json("What was rolled back (or would be, for a dry run)", RollbackResult),
    409: problems[409],
    423: problems[423],
    502: problems[502],
    422: problems[422],
    428: problems[428],
  },
});

export const testMigrationsRoute = keeperRoute({
  method: "post",
  path: "/admin/migrations/test",
  operationId: "migrations.test",
  scope: "admin",
  tags: ["migrations"],
  summary: "Round trip (up all, down all, up all) on the SCRATCH_DB database with data loaded",
  description: "Wipes SCRATCH_DB first (holding the `scratch-db` lease). Never touches DB's schema.",
  responses: { 200: json("Per-migration report", TestResult), 423: problems[423] },
});

export const lintMigrationsRoute = keeperRoute({
  method: "get",
  path: "/admin/migrations/lint",
  operationId: "migrations.lint",
  scope: "read",
  tags: ["migrations"],
  summary: "Safety lint of the bundled migration files",
  responses: { 200: json("Findings", LintReport) },
});

export function registerMigrationRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(migrationStatusRoute, async (c) => c.json(await getMigrationStatus({ ctx: c.get("ctx") }), 200));
  app.openapi(applyMigrationsRoute, async (c) => {
    const ctx = c.get("ctx");
    const input = c.req.valid("json");
    const run = () => applyMigrations({ ctx, input });
    return c.json(input.dryRun ? await run() : await withSchemaLock(ctx, run), 200);
  });
  app.openapi(rollbackMigrationsRoute, async (c) => {
    const ctx = c.get("ctx");
    const input = c.req.valid("json");
    const run = () => rollbackMigrations({ ctx, input });
    return c.json(input.dryRun ? await run() : await withSchemaLock(ctx, run), 200);
  });
  app.openapi(testMigrationsRoute, async (c) => c.json(await testMigrationRoundTrip({ ctx: c.get("ctx") }), 200));
  app.openapi(lintMigrationsRoute, (c) => c.json(lintMigrationFiles(bundledMigrationFiles), 200));
}
