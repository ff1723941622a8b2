import type { AppContext } from "../platform/context";
import { decodeCursor, isNumberNumberPair } from "../platform/cursor";
import { explainMissingLiveVideo, liveVideoExists } from "./live-parent";
import { toPage } from "./paging";
import { logStoredProblems, presentMemory } from "./present";
import { listMemoryQuery } from "./queries";
import type { MemoryInput } from "./validators";
import { getVideo } from "./videos.service";

interface RawMemoryRow {
  id: number;
  video_id: string;
  timestamp: number;
  content: string;
  metadata: string | null;
  created_at: number;
}

export async function addMemory({ ctx, input }: { ctx: AppContext; input: MemoryInput & { videoId: string } }) {
  const row = await ctx.d1
    .prepare(
      `INSERT INTO memory (video_id, timestamp, content, metadata, created_at)
       SELECT ?, ?, ?, ?, ? WHERE ${liveVideoExists}
       RETURNING *`,
    )
    .bind(
      input.videoId,
      input.timestamp,
      input.content,
      input.metadata ? JSON.stringify(input.metadata) : null,
      ctx.now().getTime(),
      input.videoId,
    )
    .first<RawMemoryRow>();
  if (!row) return explainMissingLiveVideo(ctx, input.videoId);
  return presentMemory({
    id: row.id,
    videoId: row.video_id,
    timestamp: row.timestamp,
    content: row.content,
    metadata: row.metadata,
    createdAt: row.created_at,
  });
}

export async function listMemory({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { videoId: string; cursor?: string; limit: number };
}) {
  const before = input.cursor ? decodeCursor(input.cursor, isNumberNumberPair) : undefined;
  const rows = await listMemoryQuery(ctx.db, { videoId: input.videoId, before, limit: input.limit + 1 });
  if (rows.length === 0) await getVideo({ ctx, input: { id: input.videoId, includeDeleted: true } });
  const page = toPage(rows, input.limit, presentMemory, (row) => [row.timestamp, row.id]);
  logStoredProblems(ctx.logger, "memory", page.items);
  return page;
}
