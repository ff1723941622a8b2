import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../../platform/context";
import { keeperRoute, problems } from "../../platform/route";
import { pageOf, Video } from "../present";
import { booleanFlag, idString, PageQuery, VideoInput } from "../validators";
import { createVideo, getVideo, listVideos } from "../videos.service";

export const createVideoRoute = keeperRoute({
  method: "post",
  path: "/v1/videos",
  operationId: "videos.create",
  scope: "write",
  tags: ["videos"],
  summary: "Register a video",
  request: { body: { required: true, content: { "application/json": { schema: VideoInput } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: Video } } },
    409: problems[409],
    422: problems[422],
  },
});

export const getVideoRoute = keeperRoute({
  method: "get",
  path: "/v1/videos/{id}",
  operationId: "videos.get",
  scope: "read",
  tags: ["videos"],
  summary: "Get a video",
  request: {
    params: z.object({ id: idString }),
    query: z.object({ include_deleted: booleanFlag }),
  },
  responses: {
    200: { description: "The video", content: { "application/json": { schema: Video } } },
    404: problems[404],
  },
});

export const listVideosRoute = keeperRoute({
  method: "get",
  path: "/v1/videos",
  operationId: "videos.list",
  scope: "read",
  tags: ["videos"],
  summary: "List videos, newest first",
  request: { query: PageQuery.extend({ include_deleted: booleanFlag }) },
  responses: {
    200: { description: "A page of videos", content: { "application/json": { schema: pageOf(Video, "VideoPage") } } },
  },
});

export function registerVideoRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(createVideoRoute, async (c) => {
    const video = await createVideo({ ctx: c.get("ctx"), input: c.req.valid("json") });
    return c.json(video, 201, { Location: `/v1/videos/${encodeURIComponent(video.id)}` });
  });
  app.openapi(getVideoRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { include_deleted } = c.req.valid("query");
    return c.json(await getVideo({ ctx: c.get("ctx"), input: { id, includeDeleted: include_deleted } }), 200);
  });
  app.openapi(listVideosRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await listVideos({
      ctx: c.get("ctx"),
      input: { includeDeleted: query.include_deleted, cursor: query.cursor, limit: query.limit },
    });
    return c.json(page, 200);
  });
}
