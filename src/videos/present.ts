import { z } from "@hono/zod-openapi";
import type { conversations, memory, messages, videos } from "../db/schema";
import { isoFromEpochMs, maxEpochMs } from "../platform/iso-time";
import type { Logger } from "../platform/logger";

/**
 * Rows as the API shows them: snake_case like the tables, times as ISO 8601, JSON parsed.
 *
 * A read never fails on a stored row. D1 refuses rows that break the data API's rules (migration
 * 0004), but rows written around the API before that may still break them: such a field is shown
 * with a safe value of its declared type (an empty list, null, an empty object) and the row gets a
 * `stored_problems` entry with the raw stored text, so one bad row cannot take a listing down.
 */

export const StoredProblem = z
  .object({
    field: z.string(),
    problem: z.string(),
    raw: z.string().nullable().openapi({ description: "The stored value as text (cut at 1,000 characters)" }),
  })
  .openapi("StoredProblem");

const storedProblems = z.array(StoredProblem).optional().openapi({
  description:
    "Present only when the stored row breaks the data API's rules (written around the API); each field named here is shown with a safe value, and its stored text is in `raw`. `keeper health integrity` counts such rows.",
});

type Problems = z.infer<typeof StoredProblem>[];

const rawText = (value: unknown) => (value === null || value === undefined ? null : String(value).slice(0, 1000));

function iso(ms: number | null, field: string, problems: Problems): string | null {
  if (ms === null) return null;
  if (typeof ms === "number" && Math.abs(ms) <= maxEpochMs) return isoFromEpochMs(ms);
  problems.push({ field, problem: "not a time in milliseconds since the epoch", raw: rawText(ms) });
  return null;
}

const requiredIso = (ms: number, field: string, problems: Problems) => iso(ms, field, problems) ?? isoFromEpochMs(0);

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);
const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === "string");

/** Parses stored JSON expected to be of one shape; anything else is a problem and `fallback`. */
function storedJson<T>(
  raw: string | null,
  field: string,
  accepts: (value: unknown) => value is T,
  fallback: T,
  problems: Problems,
): T {
  if (raw === null) return fallback;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push({ field, problem: "not valid JSON", raw: rawText(raw) });
    return fallback;
  }
  if (accepts(parsed)) return parsed;
  problems.push({ field, problem: "valid JSON of the wrong shape", raw: rawText(raw) });
  return fallback;
}

const withProblems = <T extends object>(item: T, problems: Problems) =>
  problems.length > 0 ? { ...item, stored_problems: problems } : item;

/** One log line per answer that shows rows with stored problems, naming them (not one per row). */
export function logStoredProblems(
  logger: Logger,
  table: string,
  items: readonly { id: string | number; stored_problems?: Problems }[],
): void {
  const rows = items
    .filter((item) => item.stored_problems)
    .map((item) => ({ id: item.id, fields: item.stored_problems?.map((problem) => problem.field) }));
  if (rows.length > 0) logger.warn("stored rows break the data API's rules", { table, rows });
}

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
    stored_problems: storedProblems,
  })
  .openapi("Video");

export function presentVideo(row: typeof videos.$inferSelect): z.infer<typeof Video> {
  const problems: Problems = [];
  const video = {
    id: row.id,
    filename: row.filename,
    file_path: row.filePath,
    duration: row.duration,
    category: row.category,
    tags: storedJson(row.tags, "tags", isStringList, [], problems),
    metadata: storedJson<Record<string, unknown> | null>(row.metadata, "metadata", isObject, null, problems),
    created_at: requiredIso(row.createdAt, "created_at", problems),
    updated_at: requiredIso(row.updatedAt, "updated_at", problems),
    deleted_at: iso(row.deletedAt, "deleted_at", problems),
  };
  return withProblems(video, problems);
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
    stored_problems: storedProblems,
  })
  .openapi("ContextEntry");

/**
 * A context row as D1 returns it (snake_case, the table's columns). The data API reads context
 * with its own SQL, not Drizzle: the hot list presents D1's row objects without copying them first.
 */
export interface StoredContextRow {
  id: number;
  video_id: string;
  context_type: string;
  tool_name: string;
  timestamp: number | null;
  data: string;
  confidence: number | null;
  created_at: number;
  updated_at: number;
}

export function presentContext(row: StoredContextRow): z.infer<typeof ContextEntry> {
  const problems: Problems = [];
  const entry = {
    id: row.id,
    video_id: row.video_id,
    context_type: row.context_type,
    tool_name: row.tool_name,
    timestamp: row.timestamp,
    confidence: row.confidence,
    data: storedJson(row.data, "data", isObject, {}, problems),
    created_at: requiredIso(row.created_at, "created_at", problems),
    updated_at: requiredIso(row.updated_at, "updated_at", problems),
  };
  return withProblems(entry, problems);
}

export const MemoryEntry = z
  .object({
    id: z.number().int(),
    video_id: z.string(),
    timestamp: z.number(),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
    stored_problems: storedProblems,
  })
  .openapi("MemoryEntry");

export function presentMemory(row: typeof memory.$inferSelect): z.infer<typeof MemoryEntry> {
  const problems: Problems = [];
  const entry = {
    id: row.id,
    video_id: row.videoId,
    timestamp: row.timestamp,
    content: row.content,
    metadata: storedJson<Record<string, unknown> | null>(row.metadata, "metadata", isObject, null, problems),
    created_at: requiredIso(row.createdAt, "created_at", problems),
  };
  return withProblems(entry, problems);
}

export const Conversation = z
  .object({
    id: z.string(),
    video_id: z.string(),
    title: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    stored_problems: storedProblems,
  })
  .openapi("Conversation");

export function presentConversation(row: typeof conversations.$inferSelect): z.infer<typeof Conversation> {
  const problems: Problems = [];
  const conversation = {
    id: row.id,
    video_id: row.videoId,
    title: row.title,
    created_at: requiredIso(row.createdAt, "created_at", problems),
    updated_at: requiredIso(row.updatedAt, "updated_at", problems),
  };
  return withProblems(conversation, problems);
}

export const Message = z
  .object({
    id: z.number().int(),
    conversation_id: z.string(),
    role: z.enum(["user", "assistant", "system", "tool"]),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
    stored_problems: storedProblems,
  })
  .openapi("Message");

export function presentMessage(row: typeof messages.$inferSelect): z.infer<typeof Message> {
  const problems: Problems = [];
  const message = {
    id: row.id,
    conversation_id: row.conversationId,
    role: row.role,
    content: row.content,
    metadata: storedJson<Record<string, unknown> | null>(row.metadata, "metadata", isObject, null, problems),
    created_at: requiredIso(row.createdAt, "created_at", problems),
  };
  return withProblems(message, problems);
}

export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
