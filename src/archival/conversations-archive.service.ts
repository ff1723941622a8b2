import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";

/**
 * Conversations idle past the window leave D1 for R2: gzip JSON Lines (one line per conversation
 * with its messages) plus a manifest, under archives/conversations/YYYY/MM/DD/. Rows are deleted
 * only after both objects are stored (R2 checks the sha256 we send), and each delete is guarded by
 * the conversation's updated_at: one that got a message meanwhile stays in D1 and is not indexed.
 * keeper_archived_conversations records where each one went, so it can be found and restored.
 */

export const ARCHIVE_PREFIX = "archives/conversations/";
/** Conversations per archive object: bounds memory (one object is built in memory) and batch size. */
export const ARCHIVE_BATCH = 100;

interface ConversationRow {
  id: string;
  video_id: string;
  title: string | null;
  created_at: number;
  updated_at: number;
}
interface MessageRow {
  id: number;
  conversation_id: string;
  role: string;
  content: string;
  metadata: string | null;
  created_at: number;
}
export interface ArchivedLine {
  conversation: ConversationRow;
  messages: MessageRow[];
}

export interface ArchiveManifest {
  format: "d1-keeper/conversations-jsonl-gzip@1";
  key: string;
  conversations: number;
  messages: number;
  sha256: string;
  bytes: number;
  last_activity_from: string;
  last_activity_to: string;
  conversation_ids: string[];
  created_at: string;
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function gunzip(bytes: ArrayBuffer): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

export async function selectIdleConversations(ctx: AppContext, cutoff: number, limit: number): Promise<ConversationRow[]> {
  const { results } = await ctx.d1
    .prepare(
      "SELECT id, video_id, title, created_at, updated_at FROM conversations WHERE updated_at < ? ORDER BY updated_at, id LIMIT ?",
    )
    .bind(cutoff, limit)
    .all<ConversationRow>();
  return results;
}

export async function countIdleConversations(ctx: AppContext, cutoff: number): Promise<number> {
  const row = await ctx.d1
    .prepare("SELECT count(*) AS n FROM conversations WHERE updated_at < ?")
    .bind(cutoff)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * The messages of a whole batch in one query (ids travel as one JSON parameter): a batch's cost in
 * queries does not grow with its size, so it fits the free plan's 50 queries per invocation.
 */
async function messagesOfBatch(ctx: AppContext, conversationIds: string[]): Promise<Map<string, MessageRow[]>> {
  const { results } = await ctx.d1
    .prepare(
      `SELECT id, conversation_id, role, content, metadata, created_at FROM messages
       WHERE conversation_id IN (SELECT value FROM json_each(?)) ORDER BY conversation_id, id`,
    )
    .bind(JSON.stringify(conversationIds))
    .all<MessageRow>();
  const byConversation = new Map<string, MessageRow[]>(conversationIds.map((id) => [id, []]));
  for (const message of results) byConversation.get(message.conversation_id)?.push(message);
  return byConversation;
}

/**
 * What one batch costs, whatever its size: 3 D1 queries (select, messages, the delete batch) and
 * 3 R2 calls (archive, manifest, read-back).
 */
export const ARCHIVE_BATCH_COST = { queries: 3, r2Calls: 3 };

/** Archives one batch of idle conversations; returns how many left D1 (0 when none were idle). */
export async function archiveConversationBatch(
  ctx: AppContext,
  input: { cutoff: number; runId: string; batch: number },
): Promise<{ archived: number; messages: number; key: string | null; skipped: number }> {
  const conversations = await selectIdleConversations(ctx, input.cutoff, ARCHIVE_BATCH);
  if (conversations.length === 0) return { archived: 0, messages: 0, key: null, skipped: 0 };
  const messages = await messagesOfBatch(
    ctx,
    conversations.map((conversation) => conversation.id),
  );
  const lines: ArchivedLine[] = conversations.map((conversation) => ({
    conversation,
    messages: messages.get(conversation.id) ?? [],
  }));
  const body = await gzip(`${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
  const sha256 = hex(await crypto.subtle.digest("SHA-256", body));
  const day = ctx.now().toISOString().slice(0, 10).replaceAll("-", "/");
  const key = `${ARCHIVE_PREFIX}${day}/${input.runId}-${String(input.batch).padStart(4, "0")}.jsonl.gz`;
  const manifest: ArchiveManifest = {
    format: "d1-keeper/conversations-jsonl-gzip@1",
    key,
    conversations: lines.length,
    messages: lines.reduce((sum, line) => sum + line.messages.length, 0),
    sha256,
    bytes: body.byteLength,
    last_activity_from: new Date(Math.min(...conversations.map((c) => c.updated_at))).toISOString(),
    last_activity_to: new Date(Math.max(...conversations.map((c) => c.updated_at))).toISOString(),
    conversation_ids: conversations.map((c) => c.id),
    created_at: ctx.now().toISOString(),
  };
  // Both writes must succeed before any row is touched; R2 rejects the body if the sha256 differs.
  await ctx.backups.put(key, body, {
    sha256,
    httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" },
    customMetadata: { conversations: String(lines.length) },
  });
  await ctx.backups.put(`${key}.manifest.json`, JSON.stringify(manifest, null, 2), {
    httpMetadata: { contentType: "application/json" },
  });
  const stored = await ctx.backups.head(key);
  if (!stored || stored.size !== body.byteLength) throw new KeeperError("BAD_GATEWAY", `Archive ${key} did not read back intact`);

  const at = ctx.now().getTime();
  const statements: D1PreparedStatement[] = [];
  for (const { conversation, messages } of lines) {
    statements.push(
      ctx.d1.prepare("DELETE FROM conversations WHERE id = ? AND updated_at = ?").bind(conversation.id, conversation.updated_at),
      ctx.d1
        .prepare(
          `INSERT INTO keeper_archived_conversations (conversation_id, video_id, archive_key, message_count, last_activity_at, archived_at, restored_at)
           SELECT ?, ?, ?, ?, ?, ?, NULL WHERE changes() > 0
           ON CONFLICT (conversation_id) DO UPDATE SET archive_key = excluded.archive_key, message_count = excluded.message_count,
             last_activity_at = excluded.last_activity_at, archived_at = excluded.archived_at, restored_at = NULL`,
        )
        .bind(conversation.id, conversation.video_id, key, messages.length, conversation.updated_at, at),
    );
  }
  statements.push(
    auditStatement(ctx, {
      action: "archival.archive-conversations",
      target: key,
      detail: { conversations: manifest.conversations, messages: manifest.messages, sha256 },
    }),
  );
  const results = await ctx.d1.batch(statements);
  const archived = results
    .filter((_, index) => index % 2 === 0 && index < lines.length * 2)
    .filter((r) => r.meta.changes > 0).length;
  return { archived, messages: manifest.messages, key, skipped: lines.length - archived };
}

export async function listArchivedConversations({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { videoId?: string; conversationId?: string; limit: number };
}) {
  const where = input.conversationId ? "conversation_id = ?" : input.videoId ? "video_id = ?" : "1 = 1";
  const params = input.conversationId ? [input.conversationId] : input.videoId ? [input.videoId] : [];
  const { results } = await ctx.d1
    .prepare(
      `SELECT conversation_id, video_id, archive_key, message_count, last_activity_at, archived_at, restored_at
       FROM keeper_archived_conversations WHERE ${where} ORDER BY archived_at DESC, conversation_id LIMIT ?`,
    )
    .bind(...params, input.limit)
    .all<{
      conversation_id: string;
      video_id: string;
      archive_key: string;
      message_count: number;
      last_activity_at: number;
      archived_at: number;
      restored_at: number | null;
    }>();
  return results.map((row) => ({
    ...row,
    last_activity_at: new Date(row.last_activity_at).toISOString(),
    archived_at: new Date(row.archived_at).toISOString(),
    restored_at: row.restored_at === null ? null : new Date(row.restored_at).toISOString(),
  }));
}

/**
 * The conversations an archive holds, read only when the object matches its manifest's sha256:
 * a damaged or swapped object is never restored from nor indexed.
 */
export async function readArchiveLines(ctx: AppContext, key: string, manifest: ArchiveManifest): Promise<ArchivedLine[]> {
  const object = await ctx.backups.get(key);
  if (!object) throw new KeeperError("NOT_FOUND", `Archive object ${key} is missing from the BACKUPS bucket`);
  const bytes = await object.arrayBuffer();
  if (hex(await crypto.subtle.digest("SHA-256", bytes)) !== manifest.sha256)
    throw new KeeperError("UNPROCESSABLE", `Archive ${key} does not match its manifest's sha256; not reading it`);
  return (await gunzip(bytes))
    .split("\n")
    .filter((text) => text.length > 0)
    .map((text) => JSON.parse(text) as ArchivedLine);
}

/** 16 rows × 6 columns per INSERT: under D1's 100 bound parameters, and few statements per batch. */
function messageInserts(ctx: AppContext, messages: MessageRow[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < messages.length; start += 16) {
    const chunk = messages.slice(start, start + 16);
    statements.push(
      ctx.d1
        .prepare(
          `INSERT INTO messages (id, conversation_id, role, content, metadata, created_at) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}`,
        )
        .bind(...chunk.flatMap((m) => [m.id, m.conversation_id, m.role, m.content, m.metadata, m.created_at])),
    );
  }
  return statements;
}

/**
 * Puts an archived conversation back: reads its archive, checks the object's sha256 against the
 * manifest, and inserts the conversation and its messages (ids preserved) with an audit row in one
 * batch. Refused when its video is gone (409) or when it is already back.
 */
export async function restoreArchivedConversation({ ctx, input }: { ctx: AppContext; input: { conversationId: string } }) {
  const [entry] = await listArchivedConversations({ ctx, input: { conversationId: input.conversationId, limit: 1 } });
  if (!entry) throw notFound(`Archived conversation '${input.conversationId}'`);
  if (entry.restored_at)
    throw new KeeperError("CONFLICT", `Conversation '${input.conversationId}' was already restored at ${entry.restored_at}`);
  const manifestObject = await ctx.backups.get(`${entry.archive_key}.manifest.json`);
  if (!manifestObject)
    throw new KeeperError("NOT_FOUND", `Archive object ${entry.archive_key} is missing from the BACKUPS bucket`);
  const manifest = (await manifestObject.json()) as ArchiveManifest;
  const line = (await readArchiveLines(ctx, entry.archive_key, manifest)).find(
    (candidate) => candidate.conversation.id === input.conversationId,
  );
  if (!line)
    throw new KeeperError("UNPROCESSABLE", `Archive ${entry.archive_key} does not hold conversation '${input.conversationId}'`);
  const video = await ctx.d1
    .prepare("SELECT deleted_at FROM videos WHERE id = ?")
    .bind(line.conversation.video_id)
    .first<{ deleted_at: number | null }>();
  if (!video)
    throw new KeeperError(
      "CONFLICT",
      `Video '${line.conversation.video_id}' no longer exists; the conversation cannot be restored`,
    );
  const { conversation } = line;
  // Restored means in use again: a fresh updated_at, or the next nightly run would archive it
  // again straight away (retention archives by updated_at).
  const statements = [
    ctx.d1
      .prepare("INSERT INTO conversations (id, video_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
      .bind(conversation.id, conversation.video_id, conversation.title, conversation.created_at, ctx.now().getTime()),
    ...messageInserts(ctx, line.messages),
    ctx.d1
      .prepare("UPDATE keeper_archived_conversations SET restored_at = ? WHERE conversation_id = ?")
      .bind(ctx.now().getTime(), conversation.id),
    auditStatement(ctx, {
      action: "archival.restore-conversation",
      target: conversation.id,
      detail: { archive: entry.archive_key, messages: line.messages.length },
    }),
  ];
  await ctx.d1.batch(statements);
  return {
    conversation_id: conversation.id,
    video_id: conversation.video_id,
    messages: line.messages.length,
    archive_key: entry.archive_key,
  };
}
