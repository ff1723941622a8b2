import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { confirmOrExit } from "../confirm.ts";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, table } from "../output.ts";
import { positiveInt } from "./videos.ts";

type Json = Record<string, unknown>;

export function days(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 36_500)
    throw new InvalidArgumentError("must be a whole number of days, 0-36500");
  return parsed;
}

/** `--category-days surveillance=2` (repeatable) → { surveillance: 2 }. */
function categoryDays(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const match = value.match(/^([a-z0-9][a-z0-9_-]{0,63})=(\d+)$/);
  if (!match) throw new InvalidArgumentError("expected category=days, e.g. surveillance=2");
  return { ...previous, [match[1]]: days(match[2]) };
}

const id = (value: string) => encodeURIComponent(value);

export function registerArchive(program: Command, context: CommandContext) {
  const archive = program.command("archive").description("Soft delete, purge, conversation archive and retention policies");
  const request = <T = Json>(method: string, path: string, body?: unknown) =>
    context.client().request<T>(method, `/admin/archival${path}`, body);
  const show = (data: Json) => emit(context.output(), data, () => keyValues(Object.entries(data)));

  archive
    .command("status")
    .description("What each retention policy would do now, and the last run with its counts")
    .option("--archive-days <n>", "conversation archive cutoff", days)
    .option("--delete-days <n>", "purge cutoff for soft-deleted videos", days)
    .action(async (options: { archiveDays?: number; deleteDays?: number }) => {
      const query = new URLSearchParams();
      if (options.archiveDays !== undefined) query.set("archive_days", String(options.archiveDays));
      if (options.deleteDays !== undefined) query.set("delete_days", String(options.deleteDays));
      const status = await request<{ would: Json; last_run: Json | null; last_success: Json | null }>("GET", `/status?${query}`);
      emit(context.output(), status, () =>
        keyValues([...Object.entries(status.would), ["last_run", status.last_run], ["last_success", status.last_success]]),
      );
    });
  archive
    .command("soft-delete")
    .description("Hide a video from the data API (purged after the retention window)")
    .argument("<id>", "video id")
    .action(async (videoId: string) => show(await request("POST", `/videos/${id(videoId)}/soft-delete`)));
  archive
    .command("restore")
    .description("Restore a soft-deleted video")
    .argument("<id>", "video id")
    .action(async (videoId: string) => show(await request("POST", `/videos/${id(videoId)}/restore`)));
  archive
    .command("list-deleted")
    .description("Soft-deleted videos with deletion time and age")
    .option("--limit <n>", "how many", positiveInt, 50)
    .option("--cursor <cursor>", "continue after a previous page")
    .action(async (options: { limit: number; cursor?: string }) => {
      const query = new URLSearchParams({ limit: String(options.limit) });
      if (options.cursor) query.set("cursor", options.cursor);
      const page = await request<{ items: Json[]; next_cursor: string | null }>("GET", `/deleted?${query}`);
      emit(context.output(), page, () => {
        const body = table(
          ["id", "filename", "category", "deleted", "age days"],
          page.items.map((v) => [v.id, v.filename, v.category, v.deleted_at, v.age_days] as string[]),
        );
        return page.next_cursor ? `${body}\nmore: --cursor ${page.next_cursor}` : body;
      });
    });
  archive
    .command("purge")
    .description("Permanently delete a soft-deleted video, its rows and MEDIA objects")
    .argument("<id>", "video id")
    .option("--dry-run", "show exactly what would be removed", false)
    .option("--yes", "do not ask", false)
    .action(async (videoId: string, options: { dryRun: boolean; yes: boolean }) => {
      if (!options.dryRun) await confirmOrExit(`Permanently delete video ${videoId} and everything it owns?`, options);
      show(await request("POST", `/videos/${id(videoId)}/purge`, { dry_run: options.dryRun, confirm: !options.dryRun }));
    });
  archive
    .command("archive-conversations")
    .description("Move conversations idle for more than N days to BACKUPS (gzip JSON Lines + manifest)")
    .option("--days <n>", "idle days (default RETENTION_ARCHIVE_DAYS, 30)", days)
    .option("--dry-run", "count only", false)
    .option("--yes", "do not ask", false)
    .action(async (options: { days?: number; dryRun: boolean; yes: boolean }) => {
      if (!options.dryRun) await confirmOrExit("Archive old conversations and remove them from D1?", options);
      show(
        await request("POST", "/conversations/archive", {
          older_than_days: options.days,
          dry_run: options.dryRun,
          confirm: !options.dryRun,
        }),
      );
    });
  archive
    .command("list-archived")
    .description("Find archived conversations by video or id")
    .option("--video <id>", "of this video")
    .option("--id <id>", "this conversation")
    .option("--limit <n>", "how many", positiveInt, 100)
    .action(async (options: { video?: string; id?: string; limit: number }) => {
      const query = new URLSearchParams({ limit: String(options.limit) });
      if (options.video) query.set("video_id", options.video);
      if (options.id) query.set("id", options.id);
      const found = await request<{ items: Json[] }>("GET", `/conversations?${query}`);
      emit(context.output(), found, () =>
        table(
          ["id", "video", "updated", "archived", "object"],
          found.items.map((c) => [c.id, c.video_id, c.updated_at, c.archived_at, c.object] as string[]),
        ),
      );
    });
  archive
    .command("restore-conversation")
    .description("Put an archived conversation back into D1")
    .argument("<id>", "conversation id")
    .action(async (conversationId: string) => show(await request("POST", `/conversations/${id(conversationId)}/restore`)));
  archive
    .command("cleanup")
    .description("Remove rows whose parent is gone and MEDIA objects of videos that no longer exist")
    .option("--dry-run", "report only", false)
    .option("--yes", "do not ask", false)
    .action(async (options: { dryRun: boolean; yes: boolean }) => {
      if (!options.dryRun) await confirmOrExit("Delete orphaned rows and MEDIA objects?", options);
      show(await request("POST", "/cleanup", { dry_run: options.dryRun, confirm: !options.dryRun }));
    });
  archive
    .command("optimize")
    .description("PRAGMA optimize (D1's stand-in for VACUUM/ANALYZE), with size before/after")
    .option("--dry-run", "only report the size", false)
    .action(async (options: { dryRun: boolean }) =>
      show(await request("POST", "/optimize", { dry_run: options.dryRun, confirm: !options.dryRun })),
    );
  archive
    .command("apply-policies")
    .description("Run every retention policy now (same code and lease as the daily cron)")
    .option("--archive-days <n>", "archive conversations idle longer than this", days)
    .option("--delete-days <n>", "purge videos soft-deleted longer than this", days)
    .option("--category-days <category=days>", "purge window for one video category (repeatable)", categoryDays)
    .option("--no-optimize", "skip PRAGMA optimize")
    .option("--dry-run", "show what each policy would do", false)
    .option("--yes", "do not ask", false)
    .action(
      async (options: {
        archiveDays?: number;
        deleteDays?: number;
        categoryDays?: Record<string, number>;
        optimize: boolean;
        dryRun: boolean;
        yes: boolean;
      }) => {
        if (!options.dryRun) await confirmOrExit("Apply retention policies now?", options);
        show(
          await request("POST", "/apply-policies", {
            archive_days: options.archiveDays,
            delete_days: options.deleteDays,
            delete_days_by_category: options.categoryDays,
            optimize: options.optimize,
            dry_run: options.dryRun,
            confirm: !options.dryRun,
          }),
        );
      },
    );
}
