import { z } from "@hono/zod-openapi";
import { decimalInteger } from "../platform/query-params";

/**
 * The one module of input rules for the data API: the original design's validate_video_data,
 * validate_context_data and validate_json. D1 enforces the same rules again: the triggers
 * rendered from stored-rules.ts.
 */

export const JSON_MAX_BYTES = 100_000;
export const JSON_MAX_DEPTH = 32;

const noNul = (value: string) => !value.includes("\u0000");

/**
 * Characters as SQLite's length() counts them (code points), so "at most N characters" means the
 * same in the API and in D1's triggers; JavaScript's .length counts UTF-16 units instead.
 */
export function characterCount(value: string): number {
  let count = 0;
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    // A high surrogate followed by a low one is one character.
    if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < value.length) {
      const next = value.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index++;
    }
    count++;
  }
  return count;
}

/** An unpaired UTF-16 surrogate (code units, hence no `u` flag): what String.isWellFormed() rejects. */
const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const isWellFormed = (value: string) => !unpairedSurrogate.test(value);

/**
 * Walks a JSON value with an explicit stack (no recursion, no argument spread), so arrays and
 * objects of any width are measured without exhausting the call stack. Reports whether containers
 * nest deeper than `depthLimit` (a top-level object is 1; the walk stops there) and the path of
 * the first string or key holding an unpaired UTF-16 surrogate, which no UTF-8 column can store.
 */
export function inspectJson(value: unknown, depthLimit: number): { tooDeep: boolean; illFormedAt: string[] | null } {
  const pending: { value: unknown; depth: number; path: string[] }[] = [{ value, depth: 0, path: [] }];
  while (pending.length > 0) {
    const next = pending.pop() as { value: unknown; depth: number; path: string[] };
    if (typeof next.value === "string") {
      if (!isWellFormed(next.value)) return { tooDeep: false, illFormedAt: next.path };
      continue;
    }
    if (next.value === null || typeof next.value !== "object") continue;
    const depth = next.depth + 1;
    if (depth > depthLimit) return { tooDeep: true, illFormedAt: null };
    // An index loop, not map(): a sparse array (never from JSON, but from code) has holes map skips.
    const entries: [string, unknown][] = Array.isArray(next.value)
      ? Array.from({ length: next.value.length }, (_, index) => [String(index), (next.value as unknown[])[index]])
      : Object.entries(next.value);
    for (const [key, child] of entries) {
      if (!isWellFormed(key)) return { tooDeep: false, illFormedAt: [...next.path, key] };
      if (typeof child === "string" || (child !== null && typeof child === "object"))
        pending.push({ value: child, depth, path: [...next.path, key] });
    }
  }
  return { tooDeep: false, illFormedAt: null };
}

const illFormedMessage = "must not contain an unpaired UTF-16 surrogate (not representable in UTF-8)";

/** validate_json: an object, bounded in size and nesting, that SQLite's json_valid() will accept. */
export const jsonObject = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    // Depth first: serializing a deeply nested value would itself recurse.
    const inspected = inspectJson(value, JSON_MAX_DEPTH);
    if (inspected.tooDeep) {
      ctx.addIssue({ code: "custom", message: `JSON nesting must be at most ${JSON_MAX_DEPTH} levels` });
      return;
    }
    if (inspected.illFormedAt) ctx.addIssue({ code: "custom", path: inspected.illFormedAt, message: illFormedMessage });
    const size = new TextEncoder().encode(JSON.stringify(value)).length;
    if (size > JSON_MAX_BYTES)
      ctx.addIssue({ code: "custom", message: `JSON must be at most ${JSON_MAX_BYTES} bytes (got ${size})` });
  })
  .openapi({ type: "object", additionalProperties: true });

/** A string of at most `max` characters (code points, as SQLite counts them). */
const upTo = (max: number) =>
  z
    .string()
    .refine(isWellFormed, illFormedMessage)
    .refine((value) => characterCount(value) <= max, `must be at most ${max} characters`)
    .meta({ maxLength: max });

export const idString = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "1-128 characters: letters, digits, and . _ : - (not first)");

const text = (max: number) =>
  upTo(max)
    .refine((value) => value !== "", "must not be empty")
    .refine(noNul, "must not contain NUL bytes")
    .meta({ minLength: 1 });
const finite = z.number().refine(Number.isFinite, "must be a finite number");

export const VideoInput = z
  .object({
    id: idString.optional().openapi({ description: "Client-chosen id; generated when omitted" }),
    filename: text(1024).refine((value) => value.trim() !== "", "must not be blank"),
    file_path: text(4096).refine((value) => value.trim() !== "", "must not be blank"),
    duration: finite.positive("must be greater than 0").max(1e7, "must be at most 10,000,000 seconds"),
    category: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lower-case letters, digits, _ and -, up to 64")
      .optional(),
    tags: z
      .array(text(64))
      .max(64)
      .refine((tags) => new Set(tags).size === tags.length, "tags must be unique")
      .optional(),
    metadata: jsonObject.optional(),
  })
  .strict()
  .openapi("VideoInput", {
    example: {
      filename: "lecture-01.mp4",
      file_path: "/media/lectures/lecture-01.mp4",
      duration: 3120.5,
      category: "lecture",
      tags: ["math"],
    },
  });

/** Type-specific shapes for well-known analysis outputs; other context types take any object. */
const box = z.array(finite).length(4);
export const contextDataShapes: Record<string, z.ZodType> = {
  transcript: z
    .object({ text: text(JSON_MAX_BYTES), language: upTo(35).optional(), end: finite.nonnegative().optional() })
    .passthrough(),
  caption: z.object({ text: text(JSON_MAX_BYTES) }).passthrough(),
  ocr: z.object({ text: text(JSON_MAX_BYTES) }).passthrough(),
  scene: z.object({ description: text(JSON_MAX_BYTES) }).passthrough(),
  objects: z
    .object({
      objects: z.array(
        z.object({ label: text(256), confidence: finite.min(0).max(1).optional(), box: box.optional() }).passthrough(),
      ),
    })
    .passthrough(),
  faces: z.object({ faces: z.array(z.object({ box: box.optional() }).passthrough()) }).passthrough(),
};

export const ContextInput = z
  .object({
    context_type: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, "lower-case identifier up to 64 characters"),
    tool_name: text(128),
    timestamp: finite
      .nonnegative("must be >= 0")
      .nullable()
      .optional()
      .openapi({ description: "Seconds into the video; null for whole-video context" }),
    confidence: finite.min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").nullable().optional(),
    data: jsonObject,
  })
  .strict()
  .superRefine((input, ctx) => {
    // Own keys only: "constructor" or "toString" are free-form context types, not Object.prototype's.
    if (!Object.hasOwn(contextDataShapes, input.context_type)) return;
    const shape = contextDataShapes[input.context_type];
    const result = shape.safeParse(input.data);
    if (!result.success) {
      for (const issue of result.error.issues) {
        ctx.addIssue({
          code: "custom",
          path: ["data", ...issue.path.map(String)],
          message: `${input.context_type}: ${issue.message}`,
        });
      }
    }
  })
  .openapi("ContextInput", {
    example: {
      context_type: "transcript",
      tool_name: "whisper",
      timestamp: 12.5,
      confidence: 0.93,
      data: { text: "Hello", language: "en" },
    },
  });

export const MemoryInput = z
  .object({
    timestamp: finite.nonnegative("must be >= 0"),
    content: text(JSON_MAX_BYTES),
    metadata: jsonObject.optional(),
  })
  .strict()
  .openapi("MemoryInput", { example: { timestamp: 12.5, content: "The definition of a vector is given here" } });

export const ConversationInput = z
  .object({
    id: idString.optional(),
    title: upTo(512).refine(noNul, "must not contain NUL bytes").optional(),
  })
  .strict()
  .openapi("ConversationInput", { example: { title: "Questions about lecture 1" } });

export const MessageInput = z
  .object({
    role: z.enum(["user", "assistant", "system", "tool"]),
    content: text(JSON_MAX_BYTES),
    metadata: jsonObject.optional(),
  })
  .strict()
  .openapi("MessageInput", { example: { role: "user", content: "What is on the board at 0:12?" } });

export const PageQuery = z.object({
  limit: decimalInteger(1, 200).default(50),
  cursor: z.string().max(512).optional(),
});

export const booleanFlag = z
  .enum(["true", "false", "1", "0"])
  .optional()
  .transform((value) => value === "true" || value === "1");

export type VideoInput = z.output<typeof VideoInput>;
export type ContextInput = z.output<typeof ContextInput>;
export type MemoryInput = z.output<typeof MemoryInput>;
export type ConversationInput = z.output<typeof ConversationInput>;
export type MessageInput = z.output<typeof MessageInput>;
