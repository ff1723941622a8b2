import { z } from "@hono/zod-openapi";
import type { conversations, memory, messages, videoContext, videos } from "../db/schema";

/** Rows as the API shows them: snake_case like the tables, times as ISO 8601, JSON parsed. */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const json = (raw: string | null) => (raw === null ? null : (JSON.parse(raw) as Record<string, unknown>));

export const Video = z
  .object({
    id: z.string(),
    filename: z.string(),
    file_path: z.string(),
    duration: z.number(),
    category: z.string().nullable(),
    tags: z.array(z.string()),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    deleted_at: z.string().nullable(),
  })
  .openapi("Video");

export function presentVideo(row: typeof videos.$inferSelect): z.infer<typeof Video> {
  return {
    id: row.id,
    filename: row.filename,
    file_path: row.filePath,
    duration: row.duration,
    category: row.category,
    tags: row.tags ? (JSON.parse(row.tags) as string[]) : [],
    metadata: json(row.metadata),
    created_at: iso(row.createdAt) as string,
    updated_at: iso(row.updatedAt) as string,
    deleted_at: iso(row.deletedAt),
  };
}

export const ContextEntry = z
  .object({
    id: z.number().int(),
    video_id: z.string(),
    context_type: z.string(),
    tool_name: z.string(),
    timestamp: z.number().nullable(),
    confidence: z.number().nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ContextEntry");

export function presentContext(row: typeof videoContext.$inferSelect): z.infer<typeof ContextEntry> {
  return {
    id: row.id,
    video_id: row.videoId,
    context_type: row.contextType,
    tool_name: row.toolName,
    timestamp: row.timestamp,
    confidence: row.confidence,
    data: json(row.data) ?? {},
    created_at: iso(row.createdAt) as string,
    updated_at: iso(row.updatedAt) as string,
  };
}

export const MemoryEntry = z
  .object({
    id: z.number().int(),
    video_id: z.string(),
    timestamp: z.number(),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
  })
  .openapi("MemoryEntry");

export function presentMemory(row: typeof memory.$inferSelect): z.infer<typeof MemoryEntry> {
  return {
    id: row.id,
    video_id: row.videoId,
    timestamp: row.timestamp,
    content: row.content,
    metadata: json(row.metadata),
    created_at: iso(row.createdAt) as string,
  };
}

export const Conversation = z
  .object({
    id: z.string(),
    video_id: z.string(),
    title: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Conversation");

export function presentConversation(row: typeof conversations.$inferSelect): z.infer<typeof Conversation> {
  return {
    id: row.id,
    video_id: row.videoId,
    title: row.title,
    created_at: iso(row.createdAt) as string,
    updated_at: iso(row.updatedAt) as string,
  };
}

export const Message = z
  .object({
    id: z.number().int(),
    conversation_id: z.string(),
    role: z.enum(["user", "assistant", "system", "tool"]),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
  })
  .openapi("Message");

export function presentMessage(row: typeof messages.$inferSelect): z.infer<typeof Message> {
  return {
    id: row.id,
    conversation_id: row.conversationId,
    role: row.role,
    content: row.content,
    metadata: json(row.metadata),
    created_at: iso(row.createdAt) as string,
  };
}

export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
