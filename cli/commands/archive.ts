import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { confirmOrExit } from "../confirm.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, progress, table } from "../output.ts";
import { followStartedJob, type JobRun } from "./jobs.ts";

/**
 * `keeper archive …`: the seed's archival_cli.py over the admin API.
 *   status · soft-delete ID · restore ID · list-deleted · purge ID · archive-conversations ·
 *   archived [--video ID] · restore-conversation ID · cleanup · optimize · apply-policies
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

interface Video {
  id: string;
  filename: string;
  category: string | null;
  deleted_at: string | null;
  deleted_days_ago?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: shapes are printed, not computed with
type Loose = Record<string, any>;

const enc = encodeURIComponent;

export function registerArchive(program: Command, context: CommandContext) {
  const archive = program.command("archive").description("Soft delete, purge, archival and retention policies");
  const send = <T>(method: string, path: string, body?: unknown) => context.client().request<T>(method, path, body);

  archive
    .command("status")
    .description("What each retention policy would do now, and when it last ran")
    .option("--archive-days <n>", "archive window to evaluate", days)
    .option("--delete-days <n>", "purge window to evaluate", days)
    .action(async (options: { archiveDays?: number; deleteDays?: number }) => {
      const query = new URLSearchParams();
      if (options.archiveDays) query.set("archive_days", String(options.archiveDays));
      if (options.deleteDays) query.set("delete_days", String(options.deleteDays));
      const status = await send<Loose>("GET", `/admin/archival/status?${query}`);
      emit(context.output(), status, () =>
        keyValues([
          [
            "purge",
            `${status.purge.videos} video(s) soft-deleted before ${status.purge.default_cutoff}${status.purge.enabled ? "" : " (disabled)"}`,
          ],
          ["archive", `${status.archive.conversations} conversation(s) idle since before ${status.archive.cutoff}`],
          [
            "orphans",
            `${Object.values(status.cleanup.orphan_rows as Record<string, number>).reduce((a, b) => a + b, 0)} row(s), ${status.cleanup.orphan_media_keys} file(s) of ${status.cleanup.orphan_media_videos.length} missing video(s)`,
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
      const result = await send<{ video: Video; changed: boolean }>("POST", `/admin/archival/videos/${enc(id)}/soft-delete`);
      emit(context.output(), result, () =>
        result.changed ? `soft-deleted ${id} at ${result.video.deleted_at}` : `${id} was already soft-deleted`,
      );
    });

  archive
    .command("restore")
    .argument("<id>", "video id")
    .description("Undo a soft delete")
    .action(async (id: string) => {
      const result = await send<{ video: Video; changed: boolean }>("POST", `/admin/archival/videos/${enc(id)}/restore`);
      emit(context.output(), result, () => (result.changed ? `restored ${id}` : `${id} was not soft-deleted`));
    });

  archive
    .command("list-deleted")
    .description("Soft-deleted videos, most recent first, with their age")
    .option("--limit <n>", "how many", limit, 50)
    .option("--cursor <cursor>", "continue after a previous page")
    .action(async (options: { limit: number; cursor?: string }) => {
      const query = new URLSearchParams({ limit: String(options.limit) });
      if (options.cursor) query.set("cursor", options.cursor);
      const page = await send<{ items: Video[]; next_cursor: string | null }>("GET", `/admin/archival/deleted?${query}`);
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
      const path = `/admin/archival/videos/${enc(id)}/purge`;
      const plan = await send<Loose>("POST", path, { dryRun: true, force: options.force });
      const describe = (result: Loose) =>
        `${Object.entries(result.counts)
          .map(([table, n]) => `${table}: ${n}`)
          .join(", ")}; MEDIA files: ${result.media.keys.length}`;
      if (options.dryRun) return emit(context.output(), plan, () => `would remove ${describe(plan)}`);
      if (!context.output().json) progress(`purge ${id}: ${describe(plan)}`);
      await confirmOrExit(`Permanently delete video ${id} and everything above?`, options);
      const result = await send<Loose>("POST", path, { confirm: true, force: options.force });
      emit(context.output(), result, () =>
        result.media.error ? `removed ${describe(result)}; WARNING: ${result.media.error}` : `removed ${describe(result)}`,
      );
    });

  // Starts the retention Workflow, then waits for its end (exit 1 unless it succeeded) or, with
  // --no-wait, prints the job's run id and returns.
  const policyRun = async (
    path: string,
    body: Loose,
    options: { dryRun: boolean; yes: boolean; wait: boolean },
    what: string,
  ) => {
    const plan = await send<Loose>("POST", path, { ...body, dryRun: true });
    if (options.dryRun) return emit(context.output(), plan, () => JSON.stringify(plan.plan, null, 2));
    await confirmOrExit(`${what}?`, options);
    const result = await send<{ run: JobRun; started: boolean }>("POST", path, { ...body, confirm: true });
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
        "/admin/archival/archive-conversations",
        { archiveDays: options.archiveDays },
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
      const query = new URLSearchParams();
      if (options.video) query.set("video_id", options.video);
      if (options.conversation) query.set("conversation_id", options.conversation);
      const result = await send<{ items: Loose[] }>("GET", `/admin/archival/archived-conversations?${query}`);
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
      const result = await send<Loose>("POST", `/admin/archival/archived-conversations/${enc(id)}/restore`);
      emit(context.output(), result, () => `restored ${id} with ${result.messages} message(s) from ${result.archive_key}`);
    });

  archive
    .command("cleanup")
    .description("Remove orphaned rows and MEDIA files of videos that no longer exist")
    .option("--dry-run", "only show what would be removed", false)
    .option("--yes", "do not ask for confirmation", false)
    .action(async (options: { dryRun: boolean; yes: boolean }) => {
      const plan = await send<Loose>("POST", "/admin/archival/cleanup", { dryRun: true });
      const describe = (r: Loose) =>
        `rows ${JSON.stringify(r.rows)}; files: ${r.media.keys} of ${r.media.videos.length} missing video(s)`;
      if (options.dryRun) return emit(context.output(), plan, () => `would remove ${describe(plan)}`);
      await confirmOrExit(`Remove ${describe(plan)}?`, options);
      const result = await send<Loose>("POST", "/admin/archival/cleanup", { confirm: true });
      emit(context.output(), result, () => `removed ${describe(result)}`);
    });

  archive
    .command("optimize")
    .description("PRAGMA optimize (D1's stand-in for VACUUM/ANALYZE), with size before and after")
    .action(async () => {
      const result = await send<Loose>("POST", "/admin/archival/optimize");
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
          "/admin/archival/apply-policies",
          {
            archiveDays: options.archiveDays,
            deleteDays: options.deleteDays,
            optimize: options.optimize,
            cleanup: options.cleanup,
          },
          options,
          "Apply retention policies",
        ),
    );
}
