import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { components } from "../../client/keeper-api.ts";
import type { ApiClient } from "../client.ts";
import { CliError } from "../client.ts";
import { confirmOrExit } from "../confirm.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, progress, table } from "../output.ts";
import { followStartedJob, type JobRun, reportRun, waitForJob } from "./jobs.ts";
import { positiveInt } from "./videos.ts";

/**
 * `keeper backup …`: create · list · show ID · download ID · verify ID · restore ID · prune · drill.
 * The seed's health_check.py backup / cleanup-backups, plus verify, restore and drills.
 */

const whole = (max: number) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > max)
    throw new InvalidArgumentError(`must be a whole number from 0 to ${max}`);
  return parsed;
};

/** How to replay a downloaded dump without keeper, local or remote. */
export function restoreHint(file: string, dataOnly: boolean): string {
  const sql = file.replace(/\.zst$/, "");
  const into = dataOnly
    ? "into a database that `npx wrangler d1 migrations apply DB --local|--remote` created"
    : "into an empty database";
  return [
    `wrote ${file}; to restore it ${into}:`,
    `  zstd -d ${file}`,
    `  npx wrangler d1 execute DB --local --file ${sql}     # the local dev database`,
    `  npx wrangler d1 execute DB --remote --file ${sql}    # the deployed database`,
  ].join("\n");
}

/** A backup's latest verify or drill, as the list prints it. */
export function describeCheck(check: components["schemas"]["BackupCheck"] | null): string {
  if (!check) return "never checked";
  const outcome = check.ok ? "ok" : `FAILED (${check.problems} problem${check.problems === 1 ? "" : "s"})`;
  return `${check.kind} ${outcome} at ${check.at}`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

export function registerBackup(program: Command, context: CommandContext) {
  const backup = program.command("backup").description("Backups of the whole database to R2");
  const call = <D>(pending: (api: ApiClient["api"]) => Promise<{ data?: D; error?: unknown; response: Response }>) => {
    const client = context.client();
    return client.call(pending(client.api));
  };

  backup
    .command("create")
    .description("Back up every table (the backup Workflow); waits for its end with progress on stderr")
    .option("--no-wait", "print the job id and return instead of waiting for the backup's end")
    .action(async (options: { wait: boolean }) => {
      const result: { run: JobRun; started: boolean } = await call((api) => api.POST("/admin/backups", { body: {} }));
      progress(result.started ? `backup: job ${result.run.id} started` : `backup: job ${result.run.id} was already running`);
      if (!options.wait) return followStartedJob(context, result.run, options);
      const run = await waitForJob(context.client(), result.run.id);
      if (run.status !== "succeeded") return reportRun(context.output(), run);
      const counts = run.counts ?? {};
      emit(context.output(), run, () =>
        keyValues([
          ["backup", counts.backup],
          ["rows", counts.rows],
          ["size", `${mb(Number(counts.bytes))} (SQL ${mb(Number(counts.sql_bytes))})`],
          ["took", `${counts.duration_ms} ms in ${counts.steps} steps`],
        ]),
      );
    });

  backup
    .command("list")
    .description("Complete backups, newest first")
    .option("--limit <n>", "only the newest N (each backup listed is one R2 read in the Worker)", positiveInt)
    .action(async (options: { limit?: number }) => {
      const result = await call((api) =>
        api.GET("/admin/backups", { params: { query: options.limit === undefined ? {} : { limit: options.limit } } }),
      );
      emit(context.output(), result, () =>
        table(
          ["id", "created", "schema", "tables", "rows", "size", "took ms", "last check"],
          result.items.map((b) => [
            b.id,
            b.created_at,
            b.schema_version,
            b.tables,
            b.rows,
            mb(b.bytes),
            b.duration_ms,
            describeCheck(b.last_check),
          ]),
        ),
      );
    });

  backup
    .command("show")
    .argument("<id>", "backup id")
    .description("A backup's manifest")
    .action(async (id: string) => {
      const manifest = await call((api) => api.GET("/admin/backups/{id}", { params: { path: { id } } }));
      emit(context.output(), manifest, () =>
        [
          keyValues([
            ["backup", manifest.id],
            ["created", manifest.created_at],
            ["schema", manifest.schema_version],
            ["bookmark", manifest.bookmark.taken ? manifest.bookmark.bookmark : `none (${manifest.bookmark.reason})`],
            ["objects", manifest.objects.length],
          ]),
          table(
            ["table", "rows", "sha256"],
            manifest.tables.map((t) => [t.name, t.rows, t.sha256.slice(0, 16)]),
          ),
        ].join("\n"),
      );
    });

  backup
    .command("download")
    .argument("<id>", "backup id")
    .option("--out <file>", "where to write the zstd-compressed SQL (default <id>.sql.zst, <id>-data.sql.zst with --data-only)")
    .option("--data-only", "rows and sqlite_sequence only, for a database `wrangler d1 migrations apply` created", false)
    .description("Download a backup as one .sql.zst file: `zstd -d` it, then `wrangler d1 execute DB --local|--remote --file`")
    .action(async (id: string, options: { out?: string; dataOnly: boolean }) => {
      const out = options.out ?? `${id}${options.dataOnly ? "-data" : ""}.sql.zst`;
      const body = await call((api) =>
        api.GET("/admin/backups/{id}/download", {
          params: { path: { id }, query: options.dataOnly ? { dataOnly: "true" } : {} },
          parseAs: "stream",
        }),
      );
      if (!body) throw new CliError(`the download of ${id} had no body`);
      progress(`downloading ${id} to ${out}…`);
      await pipeline(Readable.fromWeb(body as never), createWriteStream(out));
      emit(context.output(), { id, file: out, data_only: options.dataOnly }, () => restoreHint(out, options.dataOnly));
    });

  backup
    .command("verify")
    .argument("<id>", "backup id")
    .description("Re-read every object: sha256, decompression, and every value parsed back against the digests")
    .action(async (id: string) => {
      const result = await call((api) => api.POST("/admin/backups/{id}/verify", { params: { path: { id } } }));
      emit(context.output(), result, () =>
        result.ok
          ? `${id}: ok (${result.objects} objects, ${result.rows} rows)`
          : `${id}: FAILED\n  ${result.problems.join("\n  ")}`,
      );
      if (!result.ok) process.exitCode = 1;
    });

  backup
    .command("restore")
    .argument("<id>", "backup id")
    .option("--target <db>", "scratch (SCRATCH_DB) or main", "scratch")
    .option("--tables <names>", "only these tables (comma-separated)")
    .option("--force", "replace tables that already hold rows", false)
    .option("--dry-run", "only print the plan", false)
    .option("--yes", "do not ask for confirmation (main database)", false)
    .option("--no-wait", "print the job id and return instead of waiting for the restore's end")
    .description("Restore a backup (the restore Workflow) and check every table against the manifest; waits for its end")
    .action(
      async (
        id: string,
        options: { target: string; tables?: string; force: boolean; dryRun: boolean; yes: boolean; wait: boolean },
      ) => {
        if (options.target !== "scratch" && options.target !== "main") throw new CliError("--target must be scratch or main", 2);
        const body = {
          target: options.target as "scratch" | "main",
          force: options.force,
          tables: options.tables ? options.tables.split(",").map((t) => t.trim()) : undefined,
        };
        const planned = await call((api) =>
          api.POST("/admin/backups/{id}/restore", { params: { path: { id } }, body: { ...body, dryRun: true } }),
        );
        if (!planned.dryRun) throw new CliError("asked for a plan, the Worker started a restore instead");
        const plan = planned.plan;
        const describe = () =>
          `${plan.rows} rows in ${plan.tables.length} tables into ${options.target}${plan.drops.length ? `, replacing ${plan.drops.join(", ")}` : ""}`;
        if (options.dryRun) return emit(context.output(), planned, () => `would restore ${describe()}`);
        if (options.target === "main") await confirmOrExit(`Restore ${describe()}?`, options);
        const started = await call((api) =>
          api.POST("/admin/backups/{id}/restore", { params: { path: { id } }, body: { ...body, confirm: true } }),
        );
        if (started.dryRun) throw new CliError("asked to restore, the Worker answered with a plan");
        progress(`restoring ${describe()}: job ${started.run.id}`);
        if (!options.wait) return followStartedJob(context, started.run, options);
        const run = await waitForJob(context.client(), started.run.id);
        if (run.status !== "succeeded") return reportRun(context.output(), run);
        const safety = run.counts?.safety_backup;
        emit(context.output(), run, () =>
          [
            "restored; every table matches the manifest",
            typeof safety === "string" ? `safety backup of the replaced database: ${safety}` : "",
          ]
            .filter(Boolean)
            .join("\n"),
        );
      },
    );

  backup
    .command("prune")
    .option("--keep-days <n>", "keep backups younger than this (the seed's --keep-days)", whole(3650))
    .option("--keep-last <n>", "keep the newest N", whole(3650))
    .option("--daily <n>", "keep the newest of each of the last N days", whole(3650))
    .option("--weekly <n>", "… of the last N weeks", whole(3650))
    .option("--monthly <n>", "… of the last N months", whole(3650))
    .option("--dry-run", "only show what would be deleted", false)
    .option("--yes", "do not ask for confirmation", false)
    .description("Delete backups no rule keeps (never the newest)")
    .action(
      async (
        options: Partial<Record<"keepDays" | "keepLast" | "daily" | "weekly" | "monthly", number>> & {
          dryRun: boolean;
          yes: boolean;
        },
      ) => {
        const rules = {
          keepDays: options.keepDays,
          keepLast: options.keepLast,
          daily: options.daily,
          weekly: options.weekly,
          monthly: options.monthly,
        };
        const plan = await call((api) => api.POST("/admin/backups/prune", { body: { ...rules, dryRun: true } }));
        const describe = (p: typeof plan) =>
          `keep ${p.keep.length}, delete ${p.delete.length} (+${p.incomplete.length} incomplete)`;
        if (options.dryRun)
          return emit(
            context.output(),
            plan,
            () => `${describe(plan)}\ndelete: ${[...plan.delete, ...plan.incomplete].join(", ") || "(none)"}`,
          );
        if (plan.delete.length + plan.incomplete.length === 0) return emit(context.output(), plan, () => "nothing to prune");
        await confirmOrExit(`Prune: ${describe(plan)}?`, options);
        const result = await call((api) => api.POST("/admin/backups/prune", { body: { ...rules, confirm: true } }));
        emit(context.output(), result, () => `deleted ${result.deleted.join(", ")}`);
      },
    );

  backup
    .command("drill")
    .description("Restore the newest backup into SCRATCH_DB and compare with its manifest (the drill Workflow)")
    .option("--no-wait", "print the job id and return instead of waiting for the drill's end")
    .action(async (options: { wait: boolean }) => {
      const result: { run: JobRun; started: boolean } = await call((api) => api.POST("/admin/backups/drill"));
      progress(result.started ? `drill: job ${result.run.id} started` : `drill: job ${result.run.id} was already running`);
      await followStartedJob(context, result.run, options);
    });
}
