import type { OpenAPIHono } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { registerContextRoutes } from "./routes/context.routes";
import { registerConversationRoutes } from "./routes/conversations.routes";
import { registerMemoryRoutes } from "./routes/memory.routes";
import { registerVideoRoutes } from "./routes/videos.routes";

/** The data API (/v1): validated writes and reads for the video app. */
export function registerDataApi(app: OpenAPIHono<KeeperEnv>) {
  registerVideoRoutes(app);
  registerContextRoutes(app);
  registerMemoryRoutes(app);
  registerConversationRoutes(app);
}
