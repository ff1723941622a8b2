/// <reference types="vite/client" />
import { Validator } from "@cfworker/json-schema";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tableChecksums } from "../support/checksums";
import { seedVideo } from "../support/factories";
import { call } from "../support/http";
import { waitForRun } from "../support/jobs";

/**
 * Generated requests against every operation of the published OpenAPI document: valid, boundary
 * and hostile inputs. Whatever is sent: never a 5xx, only declared statuses, errors as
 * problem+json, successful bodies matching their declared schema, and a rejected request leaves
 * every table byte-for-byte as it was.
 */

type JsonSchema = Record<string, unknown>;
interface OpenApiOperation {
  "x-keeper-scope": string;
  parameters?: { name: string; in: "path" | "query" | "header"; schema?: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema> };
}

const runsPerOperation = Number(import.meta.env.FUZZ_RUNS ?? 25);

/** Tables that change on every request by design (request statistics), not by what a request asked for. */
const changesOnEveryRequest = (table: string) => /^keeper_query_/.test(table);

const hostileStrings = [
  "",
  " ",
  "auth-probe",
  "a".repeat(5000),
  "'; DROP TABLE videos; --",
  '" OR 1=1 --',
  "\u0000",
  "nul\u0000inside",
  "💥🎞️ vidéo",
  "../../etc/passwd",
  "%00",
  "NaN",
  "Infinity",
  "-1",
  "1e309",
  "{}",
  "[]",
  "null",
  "true",
  "<script>alert(1)</script>",
];
const hostileNumbers = [0, -1, 1, 1.5, -0.0001, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 201, 10_000_001];

const hostileString = fc.oneof(
  fc.constantFrom(...hostileStrings),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(...hostileNumbers),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 4 }),
);

function deepNest(depth: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = { d: value };
  return value;
}

function resolve(schema: JsonSchema | undefined, document: OpenApiDocument): JsonSchema | undefined {
  const ref = schema?.$ref;
  if (typeof ref === "string") return document.components.schemas[ref.split("/").at(-1) ?? ""];
  return schema;
}

type Body = { kind: "json"; value: unknown } | { kind: "raw"; text: string; contentType: string } | { kind: "none" };

function bodyArbitrary(operation: OpenApiOperation, document: OpenApiDocument): fc.Arbitrary<Body> {
  const schema = resolve(operation.requestBody?.content["application/json"]?.schema, document);
  const properties = Object.keys((schema?.properties as Record<string, unknown> | undefined) ?? {});
  const shaped =
    properties.length > 0
      ? fc.record(Object.fromEntries(properties.map((name) => [name, hostileValue])), { requiredKeys: [] })
      : fc.dictionary(fc.string({ maxLength: 8 }), hostileValue, { maxKeys: 3 });
  // Boundary cases: the documented example with exactly one field changed, dropped or added.
  const documented = schema?.example as Record<string, unknown> | undefined;
  const example = documented && Object.keys(documented).length > 0 ? documented : undefined;
  const mutated = example
    ? fc
        .tuple(
          fc.constantFrom(...Object.keys(example)),
          fc.constantFrom("replace", "drop", "extra"),
          hostileValue,
          fc.string({ minLength: 1, maxLength: 8 }),
        )
        .map(([field, how, value, suffix]): Body => {
          const copy: Record<string, unknown> = { ...example };
          for (const [key, original] of Object.entries(copy))
            if (typeof original === "string" && key.includes("path")) copy[key] = `${original}.${suffix}`;
          if (how === "replace") copy[field] = value;
          else if (how === "drop") delete copy[field];
          else copy[`unexpected_${suffix}`] = value;
          return { kind: "json", value: copy };
        })
    : undefined;
  const valid = example
    ? fc.string({ minLength: 1, maxLength: 8 }).map(
        (suffix): Body => ({
          kind: "json",
          value: Object.fromEntries(
            Object.entries(example).map(([key, value]) => [
              key,
              typeof value === "string" && key.includes("path") ? `${value}.${suffix}` : value,
            ]),
          ),
        }),
      )
    : undefined;
  return fc.oneof(
    ...(valid && mutated
      ? [
          { weight: 3, arbitrary: valid },
          { weight: 5, arbitrary: mutated },
        ]
      : []),
    { weight: 4, arbitrary: shaped.map((value): Body => ({ kind: "json", value })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value): Body => ({ kind: "json", value })) },
    { weight: 1, arbitrary: fc.constantFrom(10, 40, 200).map((depth): Body => ({ kind: "json", value: deepNest(depth) })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{"a":', "NaN", "[1,2", "\u0000", '{"duration": Infinity}')
        .map((text): Body => ({ kind: "raw", text, contentType: "application/json" })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("text/plain", "application/xml", "multipart/form-data")
        .map((contentType): Body => ({ kind: "raw", text: "x=1", contentType })),
    },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) },
  );
}

describe("generated requests against every operation", async () => {
  const document = (await (await call("GET", "/openapi.json", { token: null })).json()) as OpenApiDocument;
  const liveVideo = await seedVideo();

  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      it(`${method.toUpperCase()} ${path}`, async () => {
        const pathParams = (operation.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        const queryParams = (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
        const request = fc.record({
          path: fc.tuple(...pathParams.map(() => fc.oneof(hostileString, fc.constant(liveVideo.id)))),
          query: fc.dictionary(
            fc.oneof(fc.constantFrom(...(queryParams.length ? queryParams : ["x"])), fc.string({ maxLength: 6 })),
            fc.oneof(hostileString, fc.constantFrom(...hostileNumbers.map(String))),
            { maxKeys: 4 },
          ),
          body: operation.requestBody ? bodyArbitrary(operation, document) : fc.constant<Body>({ kind: "none" }),
        });

        await fc.assert(
          fc.asyncProperty(request, async ({ path: values, query, body }) => {
            let concrete = path;
            pathParams.forEach((name, index) => {
              concrete = concrete.replace(`{${name}}`, encodeURIComponent(String(values[index] ?? "x")));
            });
            const search = new URLSearchParams(query as Record<string, string>).toString();
            const url = search ? `${concrete}?${search}` : concrete;
            const before = await tableChecksums(undefined, changesOnEveryRequest);
            const res =
              body.kind === "json"
                ? await call(method.toUpperCase(), url, { body: body.value })
                : body.kind === "raw"
                  ? await call(method.toUpperCase(), url, { rawBody: body.text, headers: { "Content-Type": body.contentType } })
                  : await call(method.toUpperCase(), url);
            const text = await res.text();
            const context = `${method.toUpperCase()} ${url} → ${res.status} ${text.slice(0, 300)}`;

            expect(res.status, context).toBeLessThan(500);
            // A query parameter the operation does not declare is refused, by name (when the
            // request reached the operation at all: an empty path parameter matches no route).
            const unknownParams = Object.keys(query).filter((name) => !queryParams.includes(name));
            const reachedOperation = !(res.status === 404 && text.includes("No route for"));
            if (unknownParams.length > 0 && reachedOperation) {
              expect(res.status, context).toBe(400);
              const named = (JSON.parse(text) as { errors?: { path: string }[] }).errors?.map((error) => error.path) ?? [];
              for (const name of unknownParams) expect(named, context).toContain(`query.${name}`);
            }
            const declared = Object.keys(operation.responses);
            expect(declared.includes(String(res.status)) || declared.includes("default"), context).toBe(true);
            if (res.status >= 400) {
              expect(res.headers.get("content-type"), context).toContain("application/problem+json");
              const problem = JSON.parse(text);
              expect(problem, context).toMatchObject({
                status: res.status,
                type: expect.any(String),
                title: expect.any(String),
                detail: expect.any(String),
              });
              expect(await tableChecksums(undefined, changesOnEveryRequest), context).toEqual(before);
            } else {
              const declaredSchema = operation.responses[String(res.status)]?.content?.["application/json"]?.schema;
              if (declaredSchema) {
                const validator = new Validator(
                  { ...declaredSchema, components: document.components } as never,
                  "2020-12",
                  false,
                );
                const result = validator.validate(JSON.parse(text));
                expect(result.errors, context).toEqual([]);
              }
              // A request that started a long job: let it end before the next request's "nothing
              // changed" comparison, which the job's own writes would otherwise disturb.
              const isJson = res.headers.get("content-type")?.includes("application/json") ?? false;
              const started = isJson ? JSON.parse(text)?.run : undefined;
              if (started?.status === "running" && typeof started.id === "number") await waitForRun(started.id);
            }
          }),
          { numRuns: runsPerOperation, seed: Number(import.meta.env.FUZZ_SEED ?? 20261124) },
        );
      }, 120_000);
    }
  }
});

describe("methods a path does not support", async () => {
  const document = (await (await call("GET", "/openapi.json", { token: null })).json()) as OpenApiDocument;
  const probed = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS"];

  it("answer 405 with Allow naming the declared methods, on every documented path", async () => {
    const templates = Object.entries(document.paths).map(([template, methods]) => ({
      pattern: new RegExp(`^${template.replaceAll(/\{[^}]+\}/g, "[^/]+")}$`),
      methods: Object.keys(methods).map((method) => method.toUpperCase()),
    }));
    for (const path of Object.keys(document.paths)) {
      const concrete = path.replaceAll(/\{[^}]+\}/g, "probe");
      // Every documented operation whose path matches (`/admin/backups/prune` is also `/admin/backups/{id}`).
      const declared = [...new Set(templates.filter((entry) => entry.pattern.test(concrete)).flatMap((entry) => entry.methods))];
      const allow = [...declared, ...(declared.includes("GET") ? ["HEAD"] : [])].sort().join(", ");
      for (const method of probed.filter((candidate) => !declared.includes(candidate))) {
        const res = await call(method, concrete);
        const context = `${method} ${concrete} → ${res.status}`;
        expect(res.status, context).toBe(405);
        expect(res.headers.get("Allow"), context).toBe(allow);
        expect(res.headers.get("content-type"), context).toContain("application/problem+json");
      }
    }
  });
});
