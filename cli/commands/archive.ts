import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { components } from "../../client/keeper-api.ts";
import type { ApiClient } from "../client.ts";
import { CliError } from "../client.ts";
import { confirmOrExit } from "../confirm.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, progress, table } from "../output.ts";
import { followStartedJob } from "./jobs.ts";

type PolicyRunResult = components["schemas"]["PolicyRunResult"];

/**
 * `keeper archive …`: the seed's archival_cli.py over the admin API.
 *   status · soft-delete ID · restore ID · list-deleted · purge ID · archive-conversations ·
 *   archived [--video ID] · restore-conversation ID · reindex · cleanup · optimize · apply-policies
 * Destructive commands show their dry run first and ask (or need --yes in scripts).
 */

function days(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 3650)
    throw new InvalidArgumentError("must be a whole number of days from 1 to 3650");
  return parsed;
}

function limit(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 200)
    throw new InvalidArgumentError("must be a whole number from 1 to 200");
  return parsed;
}

export function registerArchive(program: Command, context: CommandContext) {
  const archive = program.command("archive").description("Soft delete, purge, archival and retention policies");
  const call = <D>(pending: (api: ApiClient["api"]) => Promise<{ data?: D; error?: unknown; response: Response }>) => {
    const client = context.client();
    return client.call(pending(client.api));
  };

  archive
    .command("status")
    .description("What each retention policy would do now, and when it last ran")
    .option("--archive-days <n>", "archive window to evaluate", days)
    .option("--delete-days <n>", "purge window to evaluate", days)
    .action(async (options: { archiveDays?: number; deleteDays?: number }) => {
      const query = { archive_days: options.archiveDays, delete_days: options.deleteDays };
      const status = await call((api) => api.GET("/admin/archival/status", { params: { query } }));
      emit(context.output(), status, () =>
        keyValues([
          [
            "purge",
            `${status.purge.videos} video(s) soft-deleted before ${status.purge.default_cutoff}${status.purge.enabled ? "" : " (disabled)"}`,
          ],
          ["archive", `${status.archive.conversations} conversation(s) idle since before ${status.archive.cutoff}`],
          [
            "orphans",
            `${Object.values(status.cleanup.orphan_rows).reduce((a, b) => a + b, 0)} row(s), ${status.cleanup.orphan_media_keys} file(s) of ${status.cleanup.orphan_media_videos.length} missing video(s)`,
          ],
          ["optimize", status.optimize.enabled ? "PRAGMA optimize" : "disabled"],
          [
            "last run",
            status.last_run
              ? `${status.last_run.status} at ${status.last_run.started_at} ${JSON.stringify(status.last_run.counts ?? {})}`
              : "never",
          ],
        ]),
      );
    });

  archive
    .command("soft-delete")
    .argument("<id>", "video id")
    .description("Hide a video from the data API; it is purged after the retention window")
    .action(async (id: string) => {
      const result = await call((api) => api.POST("/admin/archival/videos/{id}/soft-delete", { params: { path: { id } } }));
      emit(context.output(), result, () =>
        result.changed ? `soft-deleted ${id} at ${result.video.deleted_at}` : `${id} was already soft-deleted`,
      );
    });

  archive
    .command("restore")
    .argument("<id>", "video id")
    .description("Undo a soft delete")
    .action(async (id: string) => {
      const result = await call((api) => api.POST("/admin/archival/videos/{id}/restore", { params: { path: { id } } }));
      emit(context.output(), result, () => (result.changed ? `restored ${id}` : `${id} was not soft-deleted`));
    });

  archive
    .command("list-deleted")
    .description("Soft-deleted videos, most recent first, with their age")
    .option("--limit <n>", "how many", limit, 50)
    .option("--cursor <cursor>", "continue after a previous page")
    .action(async (options: { limit: number; cursor?: string }) => {
      const query = { limit: options.limit, cursor: options.cursor };
      const page = await call((api) => api.GET("/admin/archival/deleted", { params: { query } }));
      emit(context.output(), page, () => {
        const body = table(
          ["id", "filename", "category", "deleted at", "days ago"],
          page.items.map((v) => [v.id, v.filename, v.category, v.deleted_at, v.deleted_days_ago]),
        );
        return page.next_cursor ? `${body}\nmore: --cursor ${page.next_cursor}` : body;
      });
    });

  archive
    .command("purge")
    .argument("<id>", "video id")
    .description("Permanently delete a soft-deleted video, everything that belongs to it, and its MEDIA files")
    .option("--dry-run", "only show what would be removed", false)
    .option("--force", "also purge a video that is not soft-deleted", false)
    .option("--yes", "do not ask for confirmation", false)
    .action(async (id: string, options: { dryRun: boolean; force: boolean; yes: boolean }) => {
      const purge = (body: { dryRun?: boolean; confirm?: boolean; force: boolean }) =>
        call((api) => api.POST("/admin/archival/videos/{id}/purge", { params: { path: { id } }, body }));
      const plan = await purge({ dryRun: true, force: options.force });
      const describe = (result: typeof plan) =>
        `${Object.entries(result.counts)
          .map(([table, n]) => `${table}: ${n}`)
          .join(", ")}; MEDIA files: ${result.media.keys.length}`;
      if (options.dryRun) return emit(context.output(), plan, () => `would remove ${describe(plan)}`);
      if (!context.output().json) progress(`purge ${id}: ${describe(plan)}`);
      await confirmOrExit(`Permanently delete video ${id} and everything above?`, options);
      const result = await purge({ confirm: true, force: options.force });
      emit(context.output(), result, () =>
        result.media.error ? `removed ${describe(result)}; WARNING: ${result.media.error}` : `removed ${describe(result)}`,
      );
    });

  // Starts the retention Workflow, then waits for its end (exit 1 unless it succeeded) or, with
  // --no-wait, prints the job's run id and returns.
  const policyRun = async (
    run: (
      api: ApiClient["api"],
      mode: { dryRun: true } | { confirm: true },
    ) => Promise<{ data?: PolicyRunResult; error?: unknown; response: Response }>,
    options: { dryRun: boolean; yes: boolean; wait: boolean },
    what: string,
  ) => {
    const plan = await call((api) => run(api, { dryRun: true }));
    if (options.dryRun) return emit(context.output(), plan, () => JSON.stringify(plan.dryRun ? plan.plan : plan, null, 2));
    await confirmOrExit(`${what}?`, options);
    const result = await call((api) => run(api, { confirm: true }));
    if (result.dryRun) throw new CliError(`${what}: the API answered with a plan, not a run`);
    progress(result.started ? `${what}: job ${result.run.id} started` : `${what}: job ${result.run.id} was already running`);
    await followStartedJob(context, result.run, options);
  };

  archive
    .command("archive-conversations")
    .description("Export conversations idle longer than --archive-days to R2, then remove them from D1")
    .option("--archive-days <n>", "idle window (default from config, 30)", days)
    .option("--dry-run", "only show what would be archived", false)
    .option("--yes", "do not ask for confirmation", false)
    .option("--no-wait", "print the job id and return instead of waiting for the job's end")
    .action(async (options: { archiveDays?: number; dryRun: boolean; yes: boolean; wait: boolean }) =>
      policyRun(
        (api, mode) => api.POST("/admin/archival/archive-conversations", { body: { archiveDays: options.archiveDays, ...mode } }),
        options,
        "Archive idle conversations",
      ),
    );

  archive
    .command("archived")
    .description("Find archived conversations")
    .option("--video <id>", "of one video")
    .option("--conversation <id>", "one conversation")
    .action(async (options: { video?: string; conversation?: string }) => {
      const query = { video_id: options.video, conversation_id: options.conversation };
      const result = await call((api) => api.GET("/admin/archival/archived-conversations", { params: { query } }));
      emit(context.output(), result, () =>
        table(
          ["conversation", "video", "messages", "archived at", "restored at", "archive"],
          result.items.map((i) => [i.conversation_id, i.video_id, i.message_count, i.archived_at, i.restored_at, i.archive_key]),
        ),
      );
    });

  archive
    .command("restore-conversation")
    .argument("<id>", "conversation id")
    .description("Put an archived conversation back into D1")
    .action(async (id: string) => {
      const result = await call((api) =>
        api.POST("/admin/archival/archived-conversations/{conversationId}/restore", { params: { path: { conversationId: id } } }),
      );
      emit(context.output(), result, () => `restored ${id} with ${result.messages} message(s) from ${result.archive_key}`);
    });

  archive
    .command("reindex")
    .description("Rebuild the archived-conversation index from the archive manifests in R2 (after a rollback, say)")
    .option("--dry-run", "only show what would be added", false)
    .option("--yes", "do not ask for confirmation", false)
    .action(async (options: { dryRun: boolean; yes: boolean }) => {
      const reindex = (body: { dryRun: true } | { confirm: true }) =>
        call((api) => api.POST("/admin/archival/reindex", { body }));
      type Result = Awaited<ReturnType<typeof reindex>>;
      const describe = (r: Result, verb: string) =>
        [
          `${r.inserted.length} entr${r.inserted.length === 1 ? "y" : "ies"} ${verb} from ${r.manifests} manifest(s); ${r.already_indexed} already indexed, ${r.in_d1} in D1`,
          ...r.unreadable.map((u) => `skipped ${u.manifest}: ${u.reason}`),
        ].join("\n");
      const entries = (r: Result) =>
        table(
          ["conversation", "video", "messages", "archived at", "archive"],
          r.inserted.map((i) => [i.conversation_id, i.video_id, i.message_count, i.archived_at, i.archive_key]),
        );
      const plan = await reindex({ dryRun: true });
      if (options.dryRun) return emit(context.output(), plan, () => `${entries(plan)}\n${describe(plan, "would be added")}`);
      if (plan.inserted.length === 0) return emit(context.output(), plan, () => describe(plan, "to add"));
      if (!context.output().json) progress(`${entries(plan)}\n${describe(plan, "to add")}`);
      await confirmOrExit(
        `Add ${plan.inserted.length} entr${plan.inserted.length === 1 ? "y" : "ies"} to the archive index?`,
        options,
      );
      const result = await reindex({ confirm: true });
      emit(context.output(), result, () => describe(result, "added"));
    });

  archive
    .command("cleanup")
    .description("Remove orphaned rows and MEDIA files of videos that no longer exist")
    .option("--dry-run", "only show what would be removed", false)
    .option("--yes", "do not ask for confirmation", false)
    .action(async (options: { dryRun: boolean; yes: boolean }) => {
      const plan = await call((api) => api.POST("/admin/archival/cleanup", { body: { dryRun: true } }));
      const describe = (r: typeof plan) =>
        `rows ${JSON.stringify(r.rows)}; files: ${r.media.keys} of ${r.media.videos.length} missing video(s)`;
      if (options.dryRun) return emit(context.output(), plan, () => `would remove ${describe(plan)}`);
      await confirmOrExit(`Remove ${describe(plan)}?`, options);
      const result = await call((api) => api.POST("/admin/archival/cleanup", { body: { confirm: true } }));
      emit(context.output(), result, () => `removed ${describe(result)}`);
    });

  archive
    .command("optimize")
    .description("PRAGMA optimize (D1's stand-in for VACUUM/ANALYZE), with size before and after")
    .action(async () => {
      const result = await call((api) => api.POST("/admin/archival/optimize"));
      emit(context.output(), result, () =>
        keyValues([
          ["size before", `${result.size_before_bytes} bytes`],
          ["size after", `${result.size_after_bytes} bytes`],
          ["took", `${result.duration_ms} ms`],
          ["note", result.note],
        ]),
      );
    });

  archive
    .command("apply-policies")
    .description("Run every retention policy now as the retention job (the daily cron's Workflow and lease)")
    .option("--archive-days <n>", "archive conversations idle longer than this", days)
    .option("--delete-days <n>", "purge videos soft-deleted longer ago than this", days)
    .option("--no-optimize", "skip PRAGMA optimize")
    .option("--no-cleanup", "skip orphan cleanup")
    .option("--dry-run", "only show what each policy would do", false)
    .option("--yes", "do not ask for confirmation", false)
    .option("--no-wait", "print the job id and return instead of waiting for the job's end")
    .action(
      async (options: {
        archiveDays?: number;
        deleteDays?: number;
        optimize: boolean;
        cleanup: boolean;
        dryRun: boolean;
        yes: boolean;
        wait: boolean;
      }) =>
        policyRun(
          (api, mode) =>
            api.POST("/admin/archival/apply-policies", {
              body: {
                archiveDays: options.archiveDays,
                deleteDays: options.deleteDays,
                optimize: options.optimize,
                cleanup: options.cleanup,
                ...mode,
              },
            }),
          options,
          "Apply retention policies",
        ),
    );
}
