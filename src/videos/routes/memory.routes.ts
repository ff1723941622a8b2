import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../../platform/context";
import { keeperRoute, problems } from "../../platform/route";
import { addMemory, listMemory } from "../memory.service";
import { MemoryEntry, pageOf } from "../present";
import { idString, MemoryInput, PageQuery } from "../validators";

const params = z.object({ id: idString });

export const addMemoryRoute = keeperRoute({
  method: "post",
  path: "/v1/videos/{id}/memory",
  operationId: "memory.add",
  scope: "write",
  tags: ["memory"],
  summary: "Remember something at a moment of a video",
  request: { params, body: { required: true, content: { "application/json": { schema: MemoryInput } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: MemoryEntry } } },
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

export const listMemoryRoute = keeperRoute({
  method: "get",
  path: "/v1/videos/{id}/memory",
  operationId: "memory.list",
  scope: "read",
  tags: ["memory"],
  summary: "List a video's memory, latest moment first",
  request: { params, query: PageQuery },
  responses: {
    200: { description: "A page of memory", content: { "application/json": { schema: pageOf(MemoryEntry, "MemoryPage") } } },
    404: problems[404],
  },
});

export function registerMemoryRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(addMemoryRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await addMemory({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), videoId: id } }), 201);
  });
  app.openapi(listMemoryRoute, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    return c.json(await listMemory({ ctx: c.get("ctx"), input: { videoId: id, cursor: query.cursor, limit: query.limit } }), 200);
  });
}
