import { sql } from "drizzle-orm";
import { check, index, integer, real, sqliteTable, text, unique, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The video app's tables (§45.1 of the original design).
 * Every rule the zod validators in src/videos/validators.ts enforce is enforced here again, so a
 * write that bypasses the API (wrangler d1 execute, another Worker) is refused by D1 too.
 *
 * Times are integer milliseconds since the epoch (UTC); the API renders them as ISO 8601.
 */

export const videos = sqliteTable(
  "videos",
  {
    id: text("id").primaryKey(),
    filename: text("filename").notNull(),
    filePath: text("file_path").notNull().unique("videos_file_path_unique"),
    duration: real("duration").notNull(),
    /** Free-form class of video ("lecture", "surveillance", …) that retention can be tuned by. */
    category: text("category"),
    metadata: text("metadata"),
    /** JSON array of strings; added by migration 0001, the original design's "tags support". */
    tags: text("tags"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    deletedAt: integer("deleted_at"),
    /**
     * Set when a purge claims the video, before it deletes any child row: from then on a restore is
     * refused (409), so a restore can never land between a purge's chunks. Only a purge clears it,
     * by deleting the row; a purge that stopped midway is finished by running it again.
     */
    purgingAt: integer("purging_at"),
  },
  (t) => [
    check("videos_duration_positive", sql`"duration" > 0`),
    // REAL affinity keeps a non-numeric string as text, and in SQLite any text is > 0.
    check("videos_duration_numeric", sql`typeof("duration") = 'real'`),
    check("videos_filename_not_empty", sql`"filename" != ''`),
    check("videos_file_path_not_empty", sql`"file_path" != ''`),
    check("videos_metadata_json", sql`"metadata" IS NULL OR json_valid("metadata")`),
    check("videos_id_not_empty", sql`"id" != ''`),
    index("idx_videos_tags").on(t.tags),
    // Live listing: newest first, soft-deleted excluded (the data API's default list query).
    index("idx_videos_live_created").on(t.deletedAt, t.createdAt, t.id),
    // include_deleted listing, same order.
    index("idx_videos_created").on(t.createdAt, t.id),
    // Retention's purge selector: soft-deleted before a cutoff.
    index("idx_videos_deleted_at").on(t.deletedAt),
  ],
);

export const videoContext = sqliteTable(
  "video_context",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    contextType: text("context_type").notNull(),
    toolName: text("tool_name").notNull(),
    timestamp: real("timestamp"),
    /**
     * SQLite treats NULLs as distinct in UNIQUE, so (video, type, NULL, tool) could repeat under the
     * seed's constraint. Indexing this generated column closes that hole without an expression
     * index (which drizzle-kit 0.31 writes as broken SQL).
     */
    timestampKey: real("timestamp_key").generatedAlwaysAs(sql`coalesce("timestamp", -1)`, { mode: "virtual" }),
    data: text("data").notNull(),
    confidence: real("confidence"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    check("video_context_timestamp_non_negative", sql`"timestamp" IS NULL OR "timestamp" >= 0`),
    check("video_context_timestamp_numeric", sql`"timestamp" IS NULL OR typeof("timestamp") = 'real'`),
    check("video_context_confidence_numeric", sql`"confidence" IS NULL OR typeof("confidence") = 'real'`),
    check("video_context_confidence_range", sql`"confidence" IS NULL OR ("confidence" >= 0 AND "confidence" <= 1)`),
    check("video_context_data_json", sql`json_valid("data")`),
    check("video_context_type_not_empty", sql`"context_type" != ''`),
    check("video_context_tool_not_empty", sql`"tool_name" != ''`),
    unique("video_context_entry_unique").on(t.videoId, t.contextType, t.timestamp, t.toolName),
    uniqueIndex("video_context_entry_unique_nulls").on(t.videoId, t.contextType, t.timestampKey, t.toolName),
    index("idx_video_context_lookup").on(t.videoId, t.contextType, t.timestamp),
    // Pages of a video's context in insertion order: the rowid rides along in every index.
    index("idx_video_context_video").on(t.videoId),
  ],
);

export const memory = sqliteTable(
  "memory",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    timestamp: real("timestamp").notNull(),
    content: text("content").notNull(),
    metadata: text("metadata"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    check("memory_timestamp_non_negative", sql`"timestamp" >= 0`),
    check("memory_timestamp_numeric", sql`typeof("timestamp") = 'real'`),
    check("memory_content_not_empty", sql`"content" != ''`),
    check("memory_metadata_json", sql`"metadata" IS NULL OR json_valid("metadata")`),
    index("idx_memory_video_timestamp").on(t.videoId, sql`${t.timestamp} DESC`),
  ],
);

export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    title: text("title"),
    createdAt: integer("created_at").notNull(),
    /** Time of the last message; retention archives by this, not by creation. */
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    check("conversations_id_not_empty", sql`"id" != ''`),
    index("idx_conversations_video").on(t.videoId, t.createdAt, t.id),
    index("idx_conversations_updated").on(t.updatedAt),
  ],
);

export const messages = sqliteTable(
  "messages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["user", "assistant", "system", "tool"] }).notNull(),
    content: text("content").notNull(),
    metadata: text("metadata"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    check("messages_role_known", sql`"role" IN ('user', 'assistant', 'system', 'tool')`),
    check("messages_metadata_json", sql`"metadata" IS NULL OR json_valid("metadata")`),
    index("idx_messages_conversation").on(t.conversationId, t.id),
  ],
);
