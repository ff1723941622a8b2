import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues, table } from "../output.ts";

export function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("must be a positive whole number");
  return parsed;
}

export function registerVideos(program: Command, context: CommandContext) {
  const videos = program.command("videos").description("Videos in the data API");
  videos
    .command("list")
    .description("List videos, newest first")
    .option("--limit <n>", "how many", positiveInt, 50)
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--include-deleted", "show soft-deleted videos too", false)
    .action(async (options: { limit: number; cursor?: string; includeDeleted: boolean }) => {
      const client = context.client();
      const page = await client.call(
        client.api.GET("/v1/videos", {
          params: {
            query: { limit: options.limit, include_deleted: options.includeDeleted ? "true" : "false", cursor: options.cursor },
          },
        }),
      );
      emit(context.output(), page, () => {
        const rows = page.items.map((v) => [
          v.id,
          v.filename,
          v.duration,
          v.category,
          v.tags.join(","),
          v.created_at,
          v.deleted_at ?? "",
        ]);
        const body = table(["id", "filename", "duration s", "category", "tags", "created", "deleted"], rows);
        return page.next_cursor ? `${body}\nmore: --cursor ${page.next_cursor}` : body;
      });
    });
  videos
    .command("get")
    .description("Show one video")
    .argument("<id>", "video id")
    .option("--include-deleted", "show it even if soft-deleted", false)
    .action(async (id: string, options: { includeDeleted: boolean }) => {
      const client = context.client();
      const video = await client.call(
        client.api.GET("/v1/videos/{id}", {
          params: { path: { id }, query: { include_deleted: options.includeDeleted ? "true" : "false" } },
        }),
      );
      emit(context.output(), video, () => keyValues(Object.entries(video)));
    });
}
