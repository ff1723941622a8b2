import { describe, expect, it } from "vitest";
import { call } from "../support/http";

interface Operation {
  operationId?: string;
  tags?: string[];
  requestBody?: unknown;
  "x-keeper-scope": string;
  responses: Record<string, { headers?: Record<string, unknown> }>;
}
interface Document {
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const document = async () => (await (await call("GET", "/openapi.json", { token: null })).json()) as Document;
const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, method, operation })),
  );

describe("the OpenAPI document client generators read", () => {
  it("names every operation with a unique area.verb operationId", async () => {
    const all = operations(await document());
    const ids = all.map(({ operation }) => operation.operationId);
    expect(all.filter(({ operation }) => !/^[a-z]+\.[a-zA-Z]+$/.test(operation.operationId ?? "")).map((o) => o.route)).toEqual(
      [],
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.find(({ route }) => route === "GET /v1/videos")?.operation.operationId).toBe("videos.list");
    expect(all.find(({ route }) => route === "POST /admin/backups/{id}/restore")?.operation.operationId).toBe("backups.restore");
  });

  it("declares a server and describes every tag an operation uses", async () => {
    const doc = await document();
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
    const described = new Map((doc.tags ?? []).map((tag) => [tag.name, tag.description ?? ""]));
    const used = new Set(operations(doc).flatMap(({ operation }) => operation.tags ?? []));
    for (const tag of used) expect(described.get(tag), tag).toMatch(/\w{3,}/);
  });

  it("lists only statuses a route can give", async () => {
    for (const { route, method, operation } of operations(await document())) {
      const statuses = Object.keys(operation.responses);
      const scope = operation["x-keeper-scope"];
      // 401 needs a credential to check; 403 a scope some credential lacks (every one holds read).
      expect(statuses.includes("401"), route).toBe(scope !== "public");
      expect(statuses.includes("403"), route).toBe(scope === "write" || scope === "admin");
      // 415/413 are about a body: a route without one never answers them.
      expect(statuses.includes("415"), route).toBe(Boolean(operation.requestBody));
      expect(statuses.includes("413"), route).toBe(Boolean(operation.requestBody));
      if (method === "get") expect(statuses, route).not.toContain("415");
      // Every route refuses query parameters it does not declare, with 400.
      expect(statuses, route).toContain("400");
    }
    const liveness = operations(await document()).find(({ route }) => route === "GET /healthz")?.operation;
    expect(Object.keys(liveness?.responses ?? {})).toEqual(["200", "400", "500"]);
  });

  it("declares Retry-After on every 503, as the error handler sends it", async () => {
    const unavailable = operations(await document()).filter(({ operation }) => operation.responses["503"]);
    expect(unavailable.length).toBeGreaterThan(40);
    for (const { route, operation } of unavailable)
      expect(operation.responses["503"].headers, route).toHaveProperty("Retry-After");
  });
});

describe("the API reference page", () => {
  it("loads its script from the Worker's own assets, naming no other host", async () => {
    const res = await call("GET", "/docs", { token: null });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<script src="/vendor/scalar-api-reference.js">');
    expect(html.match(/https?:\/\/[^\s"'<>)]+/g) ?? []).toEqual([]);
  });
});
