import { and, asc, desc, eq, gt, isNull, lt, or, Placeholder, type SQL, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { conversations, memory, messages, videoContext, videos } from "../db/schema";

/**
 * The data API's list queries, built in one place so the routes, the EXPLAIN QUERY PLAN test and
 * the health area's index check all look at exactly the SQL production runs.
 */

export function listVideosQuery(db: Database, input: { includeDeleted: boolean; after?: [number, string]; limit: number }) {
  const conditions: SQL[] = [];
  if (!input.includeDeleted) conditions.push(isNull(videos.deletedAt));
  if (input.after) {
    const [createdAt, id] = input.after;
    const keyset = or(lt(videos.createdAt, createdAt), and(eq(videos.createdAt, createdAt), lt(videos.id, id)));
    if (keyset) conditions.push(keyset);
  }
  return db
    .select()
    .from(videos)
    .where(and(...conditions))
    .orderBy(desc(videos.createdAt), desc(videos.id))
    .limit(input.limit);
}

type ContextListInput = { videoId: string; contextType?: string; afterId?: number; limit: number };

function contextListConditions(input: {
  videoId: string | Placeholder;
  contextType?: string | Placeholder;
  afterId?: number | Placeholder;
}) {
  const conditions: SQL[] = [eq(videoContext.videoId, input.videoId)];
  if (input.contextType) conditions.push(eq(videoContext.contextType, input.contextType));
  if (input.afterId !== undefined) conditions.push(gt(videoContext.id, input.afterId));
  return and(...conditions);
}

export function listContextQuery(db: Database, input: ContextListInput) {
  return db.select().from(videoContext).where(contextListConditions(input)).orderBy(asc(videoContext.id)).limit(input.limit);
}

type ContextListShape = { byType: boolean; afterId: boolean };

/**
 * The context list is the data API's hottest read: building its SQL through Drizzle on every request
 * cost more CPU than running it. The SQL depends only on which filters are present, so it is built
 * once per shape of the filters per isolate (with placeholders) and each request binds its values.
 */
const contextListSqlByShape = new Map<string, { sql: string; names: string[] }>();

function contextListSql(shape: ContextListShape) {
  const key = `${shape.byType}:${shape.afterId}`;
  const known = contextListSqlByShape.get(key);
  if (known) return known;
  const built = new QueryBuilder()
    .select()
    .from(videoContext)
    .where(
      contextListConditions({
        videoId: sql.placeholder("videoId"),
        contextType: shape.byType ? sql.placeholder("contextType") : undefined,
        afterId: shape.afterId ? sql.placeholder("afterId") : undefined,
      }),
    )
    .orderBy(asc(videoContext.id))
    .limit(sql.placeholder("limit"))
    .toSQL();
  const names = built.params.map((param) => {
    if (!(param instanceof Placeholder)) throw new Error("context list SQL has a value that is not a placeholder");
    return param.name as string;
  });
  const statement = { sql: built.sql, names };
  contextListSqlByShape.set(key, statement);
  return statement;
}

/** The SQL and values of `listContextQuery(db, input)`, without building it anew for each request. */
export function contextListStatement(input: ContextListInput): { sql: string; params: unknown[] } {
  const statement = contextListSql({ byType: Boolean(input.contextType), afterId: input.afterId !== undefined });
  const values: Record<string, unknown> = input;
  return { sql: statement.sql, params: statement.names.map((name) => values[name]) };
}

/** Latest moments first, as idx_memory_video_timestamp (video_id, timestamp DESC) stores them. */
export function listMemoryQuery(db: Database, input: { videoId: string; before?: [number, number]; limit: number }) {
  const conditions: SQL[] = [eq(memory.videoId, input.videoId)];
  if (input.before) {
    const [timestamp, id] = input.before;
    const keyset = or(lt(memory.timestamp, timestamp), and(eq(memory.timestamp, timestamp), gt(memory.id, id)));
    if (keyset) conditions.push(keyset);
  }
  return db
    .select()
    .from(memory)
    .where(and(...conditions))
    .orderBy(desc(memory.timestamp), asc(memory.id))
    .limit(input.limit);
}

export function listConversationsQuery(db: Database, input: { videoId: string; after?: [number, string]; limit: number }) {
  const conditions: SQL[] = [eq(conversations.videoId, input.videoId)];
  if (input.after) {
    const [createdAt, id] = input.after;
    const keyset = or(
      gt(conversations.createdAt, createdAt),
      and(eq(conversations.createdAt, createdAt), gt(conversations.id, id)),
    );
    if (keyset) conditions.push(keyset);
  }
  return db
    .select()
    .from(conversations)
    .where(and(...conditions))
    .orderBy(asc(conversations.createdAt), asc(conversations.id))
    .limit(input.limit);
}

export function listMessagesQuery(db: Database, input: { conversationId: string; afterId?: number; limit: number }) {
  const conditions: SQL[] = [eq(messages.conversationId, input.conversationId)];
  if (input.afterId !== undefined) conditions.push(gt(messages.id, input.afterId));
  return db
    .select()
    .from(messages)
    .where(and(...conditions))
    .orderBy(asc(messages.id))
    .limit(input.limit);
}

/** Representative instances of every list query, for EXPLAIN QUERY PLAN checks. */
export function hotQueries(db: Database) {
  return [
    { name: "videos.list", query: listVideosQuery(db, { includeDeleted: false, after: [1, "x"], limit: 51 }) },
    { name: "videos.list_including_deleted", query: listVideosQuery(db, { includeDeleted: true, after: [1, "x"], limit: 51 }) },
    { name: "context.list", query: listContextQuery(db, { videoId: "v", afterId: 1, limit: 51 }) },
    { name: "context.list_by_type", query: listContextQuery(db, { videoId: "v", contextType: "t", afterId: 1, limit: 51 }) },
    { name: "memory.list", query: listMemoryQuery(db, { videoId: "v", before: [1, 1], limit: 51 }) },
    { name: "conversations.list", query: listConversationsQuery(db, { videoId: "v", after: [1, "c"], limit: 51 }) },
    { name: "messages.list", query: listMessagesQuery(db, { conversationId: "c", afterId: 1, limit: 51 }) },
  ];
}
