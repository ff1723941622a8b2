import { eq } from "drizzle-orm";
import { conversations } from "../db/schema";
import type { AppContext } from "../platform/context";
import { decodeCursor, isNumberStringPair, isSingleNumber } from "../platform/cursor";
import { notFound } from "../platform/errors";
import { explainMissingLiveVideo, liveVideoExists } from "./live-parent";
import { toPage } from "./paging";
import { logStoredProblems, presentConversation, presentMessage } from "./present";
import { listConversationsQuery, listMessagesQuery } from "./queries";
import type { ConversationInput, MessageInput } from "./validators";
import { getVideo } from "./videos.service";

interface RawConversationRow {
  id: string;
  video_id: string;
  title: string | null;
  created_at: number;
  updated_at: number;
}

export async function createConversation({ ctx, input }: { ctx: AppContext; input: ConversationInput & { videoId: string } }) {
  const at = ctx.now().getTime();
  const row = await ctx.d1
    .prepare(
      `INSERT INTO conversations (id, video_id, title, created_at, updated_at)
       SELECT ?, ?, ?, ?, ? WHERE ${liveVideoExists}
       RETURNING *`,
    )
    .bind(input.id ?? crypto.randomUUID(), input.videoId, input.title ?? null, at, at, input.videoId)
    .first<RawConversationRow>();
  if (!row) return explainMissingLiveVideo(ctx, input.videoId);
  return presentConversation({
    id: row.id,
    videoId: row.video_id,
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

export async function getConversation({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const [row] = await ctx.db.select().from(conversations).where(eq(conversations.id, input.id)).limit(1);
  if (!row) throw notFound(`Conversation '${input.id}'`);
  return row;
}

export async function listConversations({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { videoId: string; cursor?: string; limit: number };
}) {
  const after = input.cursor ? decodeCursor(input.cursor, isNumberStringPair) : undefined;
  const rows = await listConversationsQuery(ctx.db, { videoId: input.videoId, after, limit: input.limit + 1 });
  if (rows.length === 0) await getVideo({ ctx, input: { id: input.videoId, includeDeleted: true } });
  const page = toPage(rows, input.limit, presentConversation, (row) => [row.createdAt, row.id]);
  logStoredProblems(ctx.logger, "conversations", page.items);
  return page;
}

/**
 * Appends a message and moves the conversation's updated_at (what archival ages by) in one batch,
 * so a conversation is never archived while it is being talked in. Refused while its video is
 * soft-deleted.
 */
export async function appendMessage({ ctx, input }: { ctx: AppContext; input: MessageInput & { conversationId: string } }) {
  const conversation = await getConversation({ ctx, input: { id: input.conversationId } });
  const at = ctx.now().getTime();
  const [inserted] = await ctx.d1.batch<{
    id: number;
    conversation_id: string;
    role: string;
    content: string;
    metadata: string | null;
    created_at: number;
  }>([
    ctx.d1
      .prepare(
        `INSERT INTO messages (conversation_id, role, content, metadata, created_at)
         SELECT ?, ?, ?, ?, ? WHERE ${liveVideoExists}
         RETURNING *`,
      )
      .bind(
        input.conversationId,
        input.role,
        input.content,
        input.metadata ? JSON.stringify(input.metadata) : null,
        at,
        conversation.videoId,
      ),
    ctx.d1
      .prepare(`UPDATE conversations SET updated_at = max(updated_at, ?) WHERE id = ? AND ${liveVideoExists}`)
      .bind(at, input.conversationId, conversation.videoId),
  ]);
  const row = inserted.results[0];
  if (!row) return explainMissingLiveVideo(ctx, conversation.videoId);
  return presentMessage({
    id: row.id,
    conversationId: row.conversation_id,
    role: input.role,
    content: row.content,
    metadata: row.metadata,
    createdAt: row.created_at,
  });
}

export async function listMessages({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { conversationId: string; cursor?: string; limit: number };
}) {
  const after = input.cursor ? decodeCursor(input.cursor, isSingleNumber)[0] : undefined;
  const rows = await listMessagesQuery(ctx.db, { conversationId: input.conversationId, afterId: after, limit: input.limit + 1 });
  if (rows.length === 0) await getConversation({ ctx, input: { id: input.conversationId } });
  const page = toPage(rows, input.limit, presentMessage, (row) => [row.id]);
  logStoredProblems(ctx.logger, "messages", page.items);
  return page;
}
