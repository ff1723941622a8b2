import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Where each archived conversation went: archived conversations leave D1 (their messages with
 * them), and this index is how one is found again by id or by video and restored from R2.
 */
export const archivedConversations = sqliteTable(
  "keeper_archived_conversations",
  {
    conversationId: text("conversation_id").primaryKey(),
    videoId: text("video_id").notNull(),
    archiveKey: text("archive_key").notNull(),
    messageCount: integer("message_count").notNull(),
    lastActivityAt: integer("last_activity_at").notNull(),
    archivedAt: integer("archived_at").notNull(),
    restoredAt: integer("restored_at"),
  },
  (t) => [
    check("keeper_archived_conversations_count", sql`"message_count" >= 0`),
    index("idx_keeper_archived_conversations_video").on(t.videoId, t.archivedAt),
    index("idx_keeper_archived_conversations_key").on(t.archiveKey),
  ],
);
