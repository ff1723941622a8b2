import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError, notFound } from "../platform/errors";
import { DAY_MS } from "./policy";

/**
 * Old conversations leave D1 for BACKUPS as gzip JSON Lines (one conversation with its messages
 * per line) plus a manifest. Rows are DELETED from D1 (messages by ON DELETE CASCADE), not marked:
 * the point is to shrink D1, and the manifest keeps them findable. Deletion happens only after the
 * object and the manifest are written and the object read back matches the manifest's sha256.
 */
export const ARCHIVE_PREFIX = "archives/conversations/";
/** Conversations per archive object: two bound parameters each in the delete, under D1's 100. */
export const ARCHIVE_BATCH = 40;

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
export interface ArchivedConversation extends ConversationRow {
  messages: Omit<MessageRow, "conversation_id">[];
}
export interface ArchiveManifest {
  object: string;
  archived_at: string;
  count: number;
  message_count: number;
  sha256: string;
  bytes: number;
  date_range: { from: string; to: string };
  conversations: { id: string; video_id: string; updated_at: string }[];
}

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
async function gunzip(bytes: ArrayBuffer): Promise<string> {
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
}
async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function selectOld(ctx: AppContext, cutoff: number, limit: number) {
  return ctx.d1
    .prepare(
      `SELECT id, video_id, title, created_at, updated_at FROM conversations
       WHERE updated_at < ? ORDER BY updated_at, id LIMIT ?`,
    )
    .bind(cutoff, limit)
    .all<ConversationRow>();
}

export async function countArchivable(ctx: AppContext, cutoff: number) {
  const row = await ctx.d1
    .prepare(
      `SELECT count(*) AS conversations,
        (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.updated_at < ?1) AS messages
       FROM conversations WHERE updated_at < ?1`,
    )
    .bind(cutoff)
    .first<{ conversations: number; messages: number }>();
  return row ?? { conversations: 0, messages: 0 };
}

async function archiveBatch(
  ctx: AppContext,
  batch: ConversationRow[],
): Promise<{ archived: number; messages: number; key: string }> {
  const ids = batch.map((c) => c.id);
  const { results: messages } = await ctx.d1
    .prepare(
      `SELECT id, conversation_id, role, content, metadata, created_at FROM messages
       WHERE conversation_id IN (${placeholders(ids.length)}) ORDER BY conversation_id, id`,
    )
    .bind(...ids)
    .all<MessageRow>();
  const byConversation = new Map<string, ArchivedConversation["messages"]>();
  for (const { conversation_id, ...message } of messages) {
    const list = byConversation.get(conversation_id) ?? [];
    list.push(message);
    byConversation.set(conversation_id, list);
  }
  const lines = batch.map((c) => JSON.stringify({ ...c, messages: byConversation.get(c.id) ?? [] }));
  const body = await gzip(`${lines.join("\n")}\n`);
  const sha256 = await sha256Hex(body);
  const at = ctx.now();
  const key = `${ARCHIVE_PREFIX}${at.toISOString().slice(0, 10)}/${at.getTime()}-${encodeURIComponent(ids[0])}.jsonl.gz`;
  const manifest: ArchiveManifest = {
    object: key,
    archived_at: at.toISOString(),
    count: batch.length,
    message_count: messages.length,
    sha256,
    bytes: body.byteLength,
    date_range: {
      from: new Date(Math.min(...batch.map((c) => c.updated_at))).toISOString(),
      to: new Date(Math.max(...batch.map((c) => c.updated_at))).toISOString(),
    },
    conversations: batch.map((c) => ({ id: c.id, video_id: c.video_id, updated_at: new Date(c.updated_at).toISOString() })),
  };
  await ctx.backups.put(key, body, { httpMetadata: { contentType: "application/gzip" }, customMetadata: { sha256 } });
  await ctx.backups.put(`${key}.manifest.json`, JSON.stringify(manifest), {
    httpMetadata: { contentType: "application/json" },
  });
  const readBack = await ctx.backups.get(key);
  if (!readBack || (await sha256Hex(await readBack.arrayBuffer())) !== sha256) {
    throw new KeeperError("BAD_GATEWAY", `Archive object ${key} did not read back intact; nothing was deleted`);
  }
  if (!(await ctx.backups.head(`${key}.manifest.json`))) {
    throw new KeeperError("BAD_GATEWAY", `Archive manifest for ${key} is missing; nothing was deleted`);
  }
  // A conversation that got a message since it was read has a newer updated_at and stays in D1.
  const [removed] = await ctx.d1.batch([
    ctx.d1
      .prepare(`DELETE FROM conversations WHERE ${batch.map(() => "(id = ? AND updated_at = ?)").join(" OR ")}`)
      .bind(...batch.flatMap((c) => [c.id, c.updated_at])),
    auditStatement(ctx, {
      action: "archival.archive-conversations",
      target: key,
      detail: { count: batch.length, messages: messages.length, sha256 },
    }),
  ]);
  return { archived: removed.meta.changes, messages: messages.length, key };
}

export interface ArchiveResult {
  dry_run: boolean;
  cutoff: string;
  would_archive?: { conversations: number; messages: number };
  archived: number;
  messages: number;
  objects: string[];
  partial: boolean;
}

/** Archives conversations whose last message is older than `olderThanDays`, batch by batch until done or `deadline`. */
export async function archiveConversations({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { olderThanDays: number; dryRun: boolean; confirm: boolean; deadline?: number };
}): Promise<ArchiveResult> {
  const cutoff = ctx.now().getTime() - input.olderThanDays * DAY_MS;
  const base = { cutoff: new Date(cutoff).toISOString(), archived: 0, messages: 0, objects: [] as string[], partial: false };
  if (input.dryRun) return { dry_run: true, would_archive: await countArchivable(ctx, cutoff), ...base };
  if (!input.confirm)
    throw new KeeperError("CONFIRMATION_REQUIRED", "Archiving removes conversations from D1: send confirm: true");
  const result: ArchiveResult = { dry_run: false, ...base };
  for (;;) {
    if (input.deadline !== undefined && ctx.now().getTime() >= input.deadline) {
      result.partial = true;
      return result;
    }
    const { results: batch } = await selectOld(ctx, cutoff, ARCHIVE_BATCH);
    if (batch.length === 0) return result;
    const done = await archiveBatch(ctx, batch);
    result.archived += done.archived;
    result.messages += done.messages;
    result.objects.push(done.key);
    // Every selected row raced a new message: stop instead of re-archiving them forever.
    if (done.archived === 0) return result;
  }
}

async function* manifests(ctx: AppContext): AsyncGenerator<ArchiveManifest> {
  let cursor: string | undefined;
  do {
    const page = await ctx.backups.list({ prefix: ARCHIVE_PREFIX, cursor, limit: 1000 });
    for (const object of page.objects) {
      if (!object.key.endsWith(".manifest.json")) continue;
      const body = await ctx.backups.get(object.key);
      if (body) yield (await body.json()) as ArchiveManifest;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

export interface ArchivedConversationRef {
  id: string;
  video_id: string;
  updated_at: string;
  object: string;
  archived_at: string;
}

/** Archived conversations, optionally of one video or one id, read from the manifests. */
export async function listArchivedConversations({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { videoId?: string; conversationId?: string; limit: number };
}): Promise<{ items: ArchivedConversationRef[] }> {
  const items: ArchivedConversationRef[] = [];
  for await (const manifest of manifests(ctx)) {
    for (const c of manifest.conversations) {
      if (input.videoId && c.video_id !== input.videoId) continue;
      if (input.conversationId && c.id !== input.conversationId) continue;
      items.push({ ...c, object: manifest.object, archived_at: manifest.archived_at });
      if (items.length >= input.limit) return { items };
    }
  }
  return { items };
}

/** Puts an archived conversation and its messages back into D1 (the archive object stays). */
export async function restoreConversation({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const [ref] = (await listArchivedConversations({ ctx, input: { conversationId: input.id, limit: 1 } })).items;
  if (!ref) throw notFound(`Archived conversation '${input.id}'`);
  const existing = await ctx.d1.prepare("SELECT 1 AS x FROM conversations WHERE id = ?").bind(input.id).first();
  if (existing) throw new KeeperError("CONFLICT", `Conversation '${input.id}' is already in D1`);
  const video = await ctx.d1.prepare("SELECT 1 AS x FROM videos WHERE id = ?").bind(ref.video_id).first();
  if (!video) throw new KeeperError("CONFLICT", `Video '${ref.video_id}' of conversation '${input.id}' no longer exists`);
  const object = await ctx.backups.get(ref.object);
  if (!object) throw new KeeperError("BAD_GATEWAY", `Archive object ${ref.object} is missing`);
  const line = (await gunzip(await object.arrayBuffer()))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ArchivedConversation)
    .find((c) => c.id === input.id);
  if (!line) throw new KeeperError("BAD_GATEWAY", `Archive object ${ref.object} does not contain '${input.id}'`);
  await ctx.d1.batch([
    ctx.d1
      .prepare("INSERT INTO conversations (id, video_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
      .bind(line.id, line.video_id, line.title, line.created_at, line.updated_at),
    ...line.messages.map((m) =>
      ctx.d1
        .prepare("INSERT INTO messages (id, conversation_id, role, content, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(m.id, line.id, m.role, m.content, m.metadata, m.created_at),
    ),
    auditStatement(ctx, { action: "archival.restore-conversation", target: input.id, detail: { object: ref.object } }),
  ]);
  return { id: line.id, video_id: line.video_id, messages: line.messages.length, object: ref.object };
}
