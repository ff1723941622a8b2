import type { AppContext } from "../platform/context";
import { decodeCursor, isSingleNumber } from "../platform/cursor";
import { explainMissingLiveVideo, liveVideoExists } from "./live-parent";
import { toPage } from "./paging";
import { logStoredProblems, presentContext, type StoredContextRow } from "./present";
import { contextListStatement } from "./queries";
import type { ContextInput } from "./validators";
import { getVideo } from "./videos.service";

export async function addContext({ ctx, input }: { ctx: AppContext; input: ContextInput & { videoId: string } }) {
  const at = ctx.now().getTime();
  const row = await ctx.d1
    .prepare(
      `INSERT INTO video_context (video_id, context_type, tool_name, timestamp, data, confidence, created_at, updated_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE ${liveVideoExists}
       RETURNING *`,
    )
    .bind(
      input.videoId,
      input.context_type,
      input.tool_name,
      input.timestamp ?? null,
      JSON.stringify(input.data),
      input.confidence ?? null,
      at,
      at,
      input.videoId,
    )
    .first<StoredContextRow>();
  if (!row) return explainMissingLiveVideo(ctx, input.videoId);
  return presentContext(row);
}

export async function listContext({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { videoId: string; contextType?: string; cursor?: string; limit: number };
}) {
  const after = input.cursor ? decodeCursor(input.cursor, isSingleNumber)[0] : undefined;
  const statement = contextListStatement({ ...input, afterId: after, limit: input.limit + 1 });
  const { results } = await ctx.d1
    .prepare(statement.sql)
    .bind(...statement.params)
    .all<StoredContextRow>();
  // Only an empty page needs the second query that tells "no such video" (404) from "nothing yet".
  if (results.length === 0) await getVideo({ ctx, input: { id: input.videoId, includeDeleted: true } });
  const page = toPage(results, input.limit, presentContext, (row) => [row.id]);
  logStoredProblems(ctx.logger, "video_context", page.items);
  return page;
}
