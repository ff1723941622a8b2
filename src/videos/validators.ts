import { z } from "@hono/zod-openapi";

/**
 * The one module of input rules for the data API: the original design's validate_video_data,
 * validate_context_data and validate_json. D1 enforces the same rules again (src/db/schema.ts).
 */

export const JSON_MAX_BYTES = 100_000;
export const JSON_MAX_DEPTH = 32;

const noNul = (value: string) => !value.includes("\u0000");

function depthOf(value: unknown, depth = 0): number {
  if (depth > JSON_MAX_DEPTH) return depth;
  if (Array.isArray(value)) return Math.max(depth + 1, ...value.map((item) => depthOf(item, depth + 1)));
  if (value && typeof value === "object")
    return Math.max(depth + 1, ...Object.values(value).map((item) => depthOf(item, depth + 1)));
  return depth;
}

/** validate_json: an object, bounded in size and nesting, that SQLite's json_valid() will accept. */
export const jsonObject = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    const size = new TextEncoder().encode(JSON.stringify(value)).length;
    if (size > JSON_MAX_BYTES)
      ctx.addIssue({ code: "custom", message: `JSON must be at most ${JSON_MAX_BYTES} bytes (got ${size})` });
    if (depthOf(value) > JSON_MAX_DEPTH)
      ctx.addIssue({ code: "custom", message: `JSON nesting must be at most ${JSON_MAX_DEPTH} levels` });
  })
  .openapi({ type: "object", additionalProperties: true });

export const idString = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "1-128 characters: letters, digits, and . _ : - (not first)");

const text = (max: number) => z.string().min(1, "must not be empty").max(max).refine(noNul, "must not contain NUL bytes");
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
    .object({ text: text(JSON_MAX_BYTES), language: z.string().max(35).optional(), end: finite.nonnegative().optional() })
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
    title: z.string().max(512).refine(noNul, "must not contain NUL bytes").optional(),
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
  limit: z.coerce.number().int().min(1).max(200).default(50),
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
