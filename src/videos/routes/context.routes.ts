import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../../platform/context";
import { keeperRoute, problems } from "../../platform/route";
import { addContext, listContext } from "../context.service";
import { ContextEntry, pageOf } from "../present";
import { ContextInput, idString, PageQuery } from "../validators";

const params = z.object({ id: idString });

export const addContextRoute = keeperRoute({
  method: "post",
  path: "/v1/videos/{id}/context",
  operationId: "context.add",
  scope: "write",
  tags: ["context"],
  summary: "Add an analysis result (context) to a video",
  request: { params, body: { required: true, content: { "application/json": { schema: ContextInput } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: ContextEntry } } },
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

export const listContextRoute = keeperRoute({
  method: "get",
  path: "/v1/videos/{id}/context",
  operationId: "context.list",
  scope: "read",
  tags: ["context"],
  summary: "List a video's context in insertion order",
  request: {
    params,
    query: PageQuery.extend({
      context_type: z
        .string()
        .regex(/^[a-z][a-z0-9_.-]{0,63}$/)
        .optional(),
    }),
  },
  responses: {
    200: { description: "A page of context", content: { "application/json": { schema: pageOf(ContextEntry, "ContextPage") } } },
    404: problems[404],
  },
});

export function registerContextRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(addContextRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await addContext({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), videoId: id } }), 201);
  });
  app.openapi(listContextRoute, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    const page = await listContext({
      ctx: c.get("ctx"),
      input: { videoId: id, contextType: query.context_type, cursor: query.cursor, limit: query.limit },
    });
    return c.json(page, 200);
  });
}
