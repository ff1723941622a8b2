import type { videoContext } from "../db/schema";
import type { AppContext } from "../platform/context";
import { decodeCursor, isSingleNumber } from "../platform/cursor";
import { explainMissingLiveVideo, liveVideoExists } from "./live-parent";
import { toPage } from "./paging";
import { logStoredProblems, presentContext } from "./present";
import { contextListStatement } from "./queries";
import type { ContextInput } from "./validators";
import { getVideo } from "./videos.service";

type ContextRow = typeof videoContext.$inferSelect;

interface RawContextRow {
  id: number;
  video_id: string;
  context_type: string;
  tool_name: string;
  timestamp: number | null;
  timestamp_key: number | null;
  data: string;
  confidence: number | null;
  created_at: number;
  updated_at: number;
}

const fromRaw = (raw: RawContextRow): ContextRow => ({
  id: raw.id,
  videoId: raw.video_id,
  contextType: raw.context_type,
  toolName: raw.tool_name,
  timestamp: raw.timestamp,
  timestampKey: raw.timestamp_key,
  data: raw.data,
  confidence: raw.confidence,
  createdAt: raw.created_at,
  updatedAt: raw.updated_at,
});

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
    .first<RawContextRow>();
  if (!row) return explainMissingLiveVideo(ctx, input.videoId);
  return presentContext(fromRaw(row));
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
    .all<RawContextRow>();
  const rows = results.map(fromRaw);
  // Only an empty page needs the second query that tells "no such video" (404) from "nothing yet".
  if (rows.length === 0) await getVideo({ ctx, input: { id: input.videoId, includeDeleted: true } });
  const page = toPage(rows, input.limit, presentContext, (row) => [row.id]);
  logStoredProblems(ctx.logger, "video_context", page.items);
  return page;
}
