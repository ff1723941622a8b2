import { env } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyD1Error } from "../../src/db/d1-errors";
import { renderRuleTriggers } from "../../src/videos/stored-rules";
import {
  ContextInput,
  ConversationInput,
  contextDataShapes,
  JSON_MAX_BYTES,
  JSON_MAX_DEPTH,
  MemoryInput,
  MessageInput,
  VideoInput,
} from "../../src/videos/validators";
import { seedConversation, seedVideo, uniqueId } from "../support/factories";
import { call, json } from "../support/http";

/**
 * Every rule of the data API is enforced twice: by zod in the Worker and by D1's triggers (migration
 * 0004). The cases are not picked by hand: each field of each input schema is walked from the
 * schema's own JSON Schema, probed with values on and past its declared limits, with characters
 * in and outside its pattern, with hostile and random values, and zod is the oracle. For every
 * probe the row is written with raw SQL: D1 must refuse it exactly when zod refuses it. Every
 * refused probe also goes through the API, which must answer 422 naming the field.
 *
 * A column holds one SQL type: scalar columns are probed with values of their JSON type (a JSON
 * number sent as a filename would be stored as the same text as the string), JSON columns with any
 * JSON. Strings are well-formed UTF-16: a lone surrogate cannot reach D1 through a binding.
 */

type JsonSchema = {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  enum?: unknown[];
};

const jsonSchemaOf = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as unknown as JsonSchema;

const javascriptWhitespace = [
  "\t",
  "\n",
  "\u000b",
  "\f",
  "\r",
  " ",
  "\u00a0",
  "\u1680",
  "\u2000",
  "\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
  "\ufeff",
];
/** Characters probed at each end of a patterned string: printable ASCII and a few beyond. */
const patternProbeCharacters = [
  ...Array.from({ length: 95 }, (_, index) => String.fromCharCode(32 + index)),
  "é",
  "ß",
  "😀",
  "\u0000",
  "\u00a0",
];
const randomStrings = (seed: number) =>
  fc.sample(fc.oneof(fc.string({ unit: "grapheme", maxLength: 24 }), fc.string({ maxLength: 24 })), { numRuns: 30, seed });

function nested(depth: number, kind: "object" | "array"): Record<string, unknown> {
  // depth counts containers, the top-level object included.
  let value: unknown = "leaf";
  for (let level = 1; level < depth; level++) value = kind === "object" ? { d: value } : [value];
  return { d: value };
}

const isType = (schema: JsonSchema, type: string): boolean =>
  schema.type === type ||
  (Array.isArray(schema.type) && schema.type.includes(type)) ||
  (schema.anyOf ?? []).some((option) => isType(option, type));
const allowsNull = (schema: JsonSchema) => isType(schema, "null");
const withoutNull = (schema: JsonSchema): JsonSchema => schema.anyOf?.find((option) => !isType(option, "null")) ?? schema;

function stringProbes(schema: JsonSchema, seed: number): string[] {
  const probes = ["", "a", "\u0000", "a\u0000b", ...javascriptWhitespace, javascriptWhitespace.join(""), ...randomStrings(seed)];
  probes.push(...javascriptWhitespace.map((space) => `${space}a${space}`));
  const limits = [schema.maxLength, schema.minLength];
  if (schema.pattern) {
    const example = fc.sample(fc.stringMatching(new RegExp(schema.pattern)), { numRuns: 1, seed })[0];
    const base = example.length > 2 ? example.slice(0, 2) : example;
    const repeat = /\{0,(\d+)\}\$$/.exec(schema.pattern);
    if (repeat) limits.push(Number(repeat[1]) + 1);
    for (const character of patternProbeCharacters)
      probes.push(`${character}${base}`, `${base}${character}`, `${base.slice(0, 1)}${character}`);
    for (const limit of limits.filter((value) => value !== undefined)) {
      probes.push(base.slice(0, 1) + base.slice(-1).repeat(limit - 1), base.slice(0, 1) + base.slice(-1).repeat(limit));
    }
  } else {
    for (const limit of limits.filter((value) => value !== undefined)) {
      for (const character of ["a", "é", "😀", " "])
        probes.push(character.repeat(limit - 1), character.repeat(limit), character.repeat(limit + 1));
    }
  }
  return probes;
}

function numberProbes(schema: JsonSchema): number[] {
  const probes = [0, -0, 1, -1, 0.5, 1e9, 1e7, 1e308, -1e308, Number.MAX_VALUE, 5e-324, -5e-324];
  for (const bound of [schema.minimum, schema.maximum, schema.exclusiveMinimum]) {
    if (bound === undefined) continue;
    probes.push(bound, bound + 1e-9, bound - 1e-9, bound + 1, bound - 1);
  }
  return probes;
}

/** Any JSON value of another shape than `schema` asks for (for JSON columns). */
const otherJsonValues: unknown[] = [null, true, 0, -1, "x", "", [], [1, 2], {}, { a: 1 }];

function valueProbes(schema: JsonSchema, inJsonColumn: boolean, seed: number): unknown[] {
  const probes: unknown[] = [undefined];
  if (allowsNull(schema)) probes.push(null);
  const concrete = withoutNull(schema);
  if (inJsonColumn) probes.push(...otherJsonValues);
  if (concrete.enum) probes.push(...concrete.enum, ...stringProbes({}, seed));
  else if (isType(concrete, "string")) probes.push(...stringProbes(concrete, seed));
  else if (isType(concrete, "number") || isType(concrete, "integer")) probes.push(...numberProbes(concrete));
  else if (isType(concrete, "object") && !concrete.properties) {
    // A free-form JSON object (jsonObject): its size and nesting limits.
    const padding = JSON_MAX_BYTES - JSON.stringify({ k: "" }).length;
    probes.push(
      { k: "a".repeat(padding) },
      { k: "a".repeat(padding + 1) },
      { k: "é".repeat(Math.floor(padding / 2) + 1) },
      nested(JSON_MAX_DEPTH, "object"),
      nested(JSON_MAX_DEPTH + 1, "object"),
      nested(JSON_MAX_DEPTH, "array"),
      nested(JSON_MAX_DEPTH + 1, "array"),
      { "a.b": { "c[0]": nested(JSON_MAX_DEPTH - 1, "object") } },
      [],
      [1, 2],
    );
  }
  return probes;
}

interface Probe {
  /** Where in the input the value goes. */
  path: (string | number)[];
  value: unknown;
}

/** Probes for every field under `schema`, nested objects and array items included. */
function probesOf(schema: JsonSchema, example: unknown, path: (string | number)[], inJsonColumn: boolean, seed: number): Probe[] {
  const probes: Probe[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const fieldPath = [...path, name];
    const concrete = withoutNull(property);
    const json = inJsonColumn || isType(concrete, "object") || isType(concrete, "array");
    for (const value of valueProbes(property, json, seed + probes.length)) probes.push({ path: fieldPath, value });
    const current = (example as Record<string, unknown> | undefined)?.[name];
    if (isType(concrete, "object") && concrete.properties) probes.push(...probesOf(concrete, current, fieldPath, true, seed));
    if (isType(concrete, "array") && concrete.items) {
      const items = Array.isArray(current) ? current : [];
      const item = items[0];
      const sized = (count: number) =>
        Array.from({ length: count }, (_, index) => (typeof item === "string" ? `${item}${index}` : item));
      if (item !== undefined) {
        for (const count of [concrete.minItems, concrete.maxItems].filter((value) => value !== undefined)) {
          probes.push(
            { path: fieldPath, value: sized(count - 1) },
            { path: fieldPath, value: sized(count) },
            { path: fieldPath, value: sized(count + 1) },
          );
        }
        probes.push({ path: fieldPath, value: [item, item] });
      }
      for (const value of valueProbes(concrete.items, true, seed)) probes.push({ path: [...fieldPath, 0], value });
      if (concrete.items.properties) probes.push(...probesOf(concrete.items, item, [...fieldPath, 0], true, seed));
    }
  }
  return probes;
}

function withValue(base: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let cursor: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) {
    if (cursor[step] === null || typeof cursor[step] !== "object")
      cursor[step] = typeof path[path.indexOf(step) + 1] === "number" ? [] : {};
    cursor = cursor[step] as Record<string | number, unknown>;
  }
  const last = path.at(-1) as string | number;
  if (value === undefined) delete cursor[last];
  else cursor[last] = value;
  return copy;
}

const stored = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
const scalar = (value: unknown) => (value === undefined ? null : value);

interface InputKind {
  name: string;
  schema: z.ZodType;
  /** The JSON Schema whose fields are probed (for context data: the type's shape, under `data`). */
  probes: (seed: number) => Probe[];
  base: () => Promise<{ input: Record<string, unknown>; parent: string }>;
  /** Writes the row as a client bypassing the API would; returns its rowid. */
  insert: (input: Record<string, unknown>, parent: string) => Promise<number>;
  table: string;
  url: (parent: string) => string;
}

async function insertRow(table: string, row: Record<string, unknown>): Promise<number> {
  const columns = Object.keys(row);
  const result = await env.DB.prepare(
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) RETURNING rowid AS rowid`,
  )
    .bind(...Object.values(row))
    .first<{ rowid: number }>();
  return result?.rowid ?? 0;
}

const videoKind: InputKind = {
  name: "VideoInput",
  schema: VideoInput,
  table: "videos",
  probes: (seed) => probesOf(jsonSchemaOf(VideoInput), { tags: ["math"] }, [], false, seed),
  base: async () => {
    const id = uniqueId("rule");
    return {
      input: { filename: "f.mp4", file_path: `/r/${id}.mp4`, duration: 12.5, category: "lecture", tags: ["math"] },
      parent: "",
    };
  },
  insert: (input) =>
    insertRow("videos", {
      id: input.id === undefined ? uniqueId("rule") : input.id,
      filename: scalar(input.filename),
      file_path: scalar(input.file_path),
      duration: scalar(input.duration),
      category: scalar(input.category),
      tags: stored(input.tags),
      metadata: stored(input.metadata),
      created_at: 1,
      updated_at: 1,
    }),
  url: () => "/v1/videos",
};

const contextExamples: Record<string, Record<string, unknown>> = {
  transcript: { text: "hello", language: "en", end: 3 },
  caption: { text: "a board" },
  ocr: { text: "E = mc2" },
  scene: { description: "a lecture hall" },
  objects: { objects: [{ label: "chair", confidence: 0.5, box: [1, 2, 3, 4] }] },
  faces: { faces: [{ box: [1, 2, 3, 4] }] },
  "custom.tool": { anything: [1, { deep: true }] },
};

const contextKinds: InputKind[] = Object.entries(contextExamples).map(([contextType, data]) => ({
  name: `ContextInput (${contextType})`,
  schema: ContextInput,
  table: "video_context",
  probes: (seed) => [
    ...probesOf(jsonSchemaOf(ContextInput), { data }, [], false, seed),
    ...(contextDataShapes[contextType] ? probesOf(jsonSchemaOf(contextDataShapes[contextType]), data, ["data"], true, seed) : []),
  ],
  base: async () => {
    const video = await seedVideo();
    return { input: { context_type: contextType, tool_name: "probe", timestamp: 1.5, confidence: 0.5, data }, parent: video.id };
  },
  insert: (input, parent) =>
    insertRow("video_context", {
      video_id: parent,
      context_type: scalar(input.context_type),
      tool_name: scalar(input.tool_name),
      timestamp: scalar(input.timestamp),
      confidence: scalar(input.confidence),
      data: stored(input.data),
      created_at: 1,
      updated_at: 1,
    }),
  url: (parent) => `/v1/videos/${parent}/context`,
}));

const memoryKind: InputKind = {
  name: "MemoryInput",
  schema: MemoryInput,
  table: "memory",
  probes: (seed) => probesOf(jsonSchemaOf(MemoryInput), {}, [], false, seed),
  base: async () => ({ input: { timestamp: 2, content: "remember", metadata: { a: 1 } }, parent: (await seedVideo()).id }),
  insert: (input, parent) =>
    insertRow("memory", {
      video_id: parent,
      timestamp: scalar(input.timestamp),
      content: scalar(input.content),
      metadata: stored(input.metadata),
      created_at: 1,
    }),
  url: (parent) => `/v1/videos/${parent}/memory`,
};

const conversationKind: InputKind = {
  name: "ConversationInput",
  schema: ConversationInput,
  table: "conversations",
  probes: (seed) => probesOf(jsonSchemaOf(ConversationInput), {}, [], false, seed),
  base: async () => ({ input: { title: "about it" }, parent: (await seedVideo()).id }),
  insert: (input, parent) =>
    insertRow("conversations", {
      id: input.id === undefined ? uniqueId("rule") : input.id,
      video_id: parent,
      title: scalar(input.title),
      created_at: 1,
      updated_at: 1,
    }),
  url: (parent) => `/v1/videos/${parent}/conversations`,
};

const messageKind: InputKind = {
  name: "MessageInput",
  schema: MessageInput,
  table: "messages",
  probes: (seed) => probesOf(jsonSchemaOf(MessageInput), {}, [], false, seed),
  base: async () => {
    const video = await seedVideo();
    const conversation = await seedConversation(video.id);
    return { input: { role: "user", content: "hello", metadata: { a: 1 } }, parent: conversation.id };
  },
  insert: (input, parent) =>
    insertRow("messages", {
      conversation_id: parent,
      role: scalar(input.role),
      content: scalar(input.content),
      metadata: stored(input.metadata),
      created_at: 1,
    }),
  url: (parent) => `/v1/conversations/${parent}/messages`,
};

const kinds = [videoKind, ...contextKinds, memoryKind, conversationKind, messageKind];

/** A value of another JSON type than a scalar column stores (see the header): not a row of its own. */
function typeMismatch(schema: z.ZodType, probe: Probe): boolean {
  if (probe.path.length !== 1 || probe.value === undefined) return false;
  const field = jsonSchemaOf(schema).properties?.[String(probe.path[0])];
  if (!field) return false;
  const concrete = withoutNull(field);
  if (isType(concrete, "object") || isType(concrete, "array")) return false;
  if (probe.value === null) return !allowsNull(field);
  if (isType(concrete, "string") || concrete.enum) return typeof probe.value !== "string";
  return typeof probe.value !== "number";
}

describe("D1 refuses exactly the rows the API refuses", () => {
  it("the triggers in D1 are the ones rendered from the rule catalog", async () => {
    const { results } = await env.DB.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_rules\\_%' ESCAPE '\\' ORDER BY name",
    ).all<{ sql: string }>();
    const rendered = renderRuleTriggers().map((statement) => statement.replace(/;$/, ""));
    expect(results.map((row) => row.sql).sort()).toEqual(rendered.sort());
  });

  for (const [index, kind] of kinds.entries()) {
    it(`${kind.name}: every probe of every field`, async () => {
      const { input: base, parent } = await kind.base();
      expect(kind.schema.safeParse(base).success).toBe(true);
      const mismatches: string[] = [];
      let refusedCount = 0;
      for (const probe of kind.probes(1000 + index)) {
        if (typeMismatch(kind.schema, probe)) continue;
        // A context type named like an Object.prototype member ("constructor") trips the shape
        // lookup itself, before any rule: a separate fix, not a rule of the stored row.
        if (probe.path[0] === "context_type" && typeof probe.value === "string" && probe.value in Object.prototype) continue;
        let input = withValue(base, probe.path, probe.value);
        // Unique columns get a fresh value per probe unless they are the probed field.
        if (kind.table === "videos" && probe.path[0] !== "file_path") input = { ...input, file_path: `/r/${uniqueId("p")}` };
        if (kind.table === "video_context" && probe.path[0] !== "tool_name") input = { ...input, tool_name: uniqueId("t") };
        const verdict = kind.schema.safeParse(input);
        let d1Error: string | null = null;
        try {
          const rowid = await kind.insert(input, parent);
          await env.DB.prepare(`DELETE FROM ${kind.table} WHERE rowid = ?`).bind(rowid).run();
        } catch (error) {
          d1Error = (error as Error).message;
        }
        const described = `${probe.path.join(".")} = ${JSON.stringify(probe.value)?.slice(0, 80)}`;
        if (verdict.success && d1Error) mismatches.push(`D1 refused what the API accepts: ${described}: ${d1Error}`);
        if (!verdict.success && !d1Error)
          mismatches.push(`D1 accepted what the API refuses: ${described}: ${verdict.error.issues[0]?.message}`);
        if (verdict.success) continue;
        refusedCount++;
        const response = await call("POST", kind.url(parent), { token: "write", body: input });
        const problem = await json<{ errors?: { path: string }[] }>(response);
        if (response.status !== 422) mismatches.push(`API answered ${response.status} for ${described}`);
        else if (!problem.errors?.some((error) => error.path.startsWith(`body.${String(probe.path[0])}`)))
          mismatches.push(
            `API's 422 does not name body.${String(probe.path[0])}: ${described}: ${JSON.stringify(problem.errors)}`,
          );
      }
      expect(mismatches).toEqual([]);
      expect(refusedCount).toBeGreaterThan(5);
    });
  }
});

describe("the rules the API enforces and D1 used to accept", () => {
  const d1Refuses = async (sql: string, ...params: unknown[]) => {
    const error = await env.DB.prepare(sql)
      .bind(...params)
      .run()
      .then(
        () => null,
        (caught: Error) => caught.message,
      );
    return error;
  };

  it("empty message content, tags that are not JSON, a blank filename, a duration of 1e9, a spaced category or id, array data", async () => {
    const video = await seedVideo();
    const conversation = await seedConversation(video.id);
    const insertVideo =
      "INSERT INTO videos (id, filename, file_path, duration, category, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, 1)";
    const path = () => `/seven/${uniqueId("p")}`;
    expect(
      await d1Refuses(
        "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'user', '', 1)",
        conversation.id,
      ),
    ).toMatch(/rule failed: messages\.content/);
    expect(await d1Refuses(insertVideo, uniqueId("v"), "f.mp4", path(), 1, null, "not json")).toMatch(
      /rule failed: videos\.tags/,
    );
    expect(await d1Refuses(insertVideo, uniqueId("v"), "   ", path(), 1, null, null)).toMatch(
      /rule failed: videos\.filename: must not be blank/,
    );
    expect(await d1Refuses(insertVideo, uniqueId("v"), "f.mp4", path(), 1e9, null, null)).toMatch(
      /rule failed: videos\.duration/,
    );
    expect(await d1Refuses(insertVideo, uniqueId("v"), "f.mp4", path(), 1, "Has Spaces!", null)).toMatch(
      /rule failed: videos\.category/,
    );
    expect(await d1Refuses(insertVideo, "has spaces", "f.mp4", path(), 1, null, null)).toMatch(/rule failed: videos\.id/);
    expect(
      await d1Refuses(
        "INSERT INTO video_context (video_id, context_type, tool_name, data, created_at, updated_at) VALUES (?, 'scene.x', 't', '[1,2]', 1, 1)",
        video.id,
      ),
    ).toMatch(/rule failed: video_context\.data/);
    // An update is held to the same rules.
    expect(await d1Refuses("UPDATE videos SET tags = 'not json' WHERE id = ?", video.id)).toMatch(/rule failed: videos\.tags/);
    // A service's write refused this way is a 422 naming the column, not a 500.
    const caught = await env.DB.prepare("UPDATE videos SET duration = 1e9 WHERE id = ?")
      .bind(video.id)
      .run()
      .catch((error: unknown) => error);
    expect(classifyD1Error(caught)).toMatchObject({ status: 422, errors: [{ path: "videos.duration" }] });
  });
});
