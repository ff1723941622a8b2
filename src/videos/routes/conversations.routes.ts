import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../../platform/context";
import { keeperRoute, problems } from "../../platform/route";
import { appendMessage, createConversation, getConversation, listConversations, listMessages } from "../conversations.service";
import { Conversation, Message, pageOf, presentConversation } from "../present";
import { ConversationInput, idString, MessageInput, PageQuery } from "../validators";

const videoParams = z.object({ id: idString });
const conversationParams = z.object({ conversationId: idString });

export const createConversationRoute = keeperRoute({
  method: "post",
  path: "/v1/videos/{id}/conversations",
  operationId: "conversations.create",
  scope: "write",
  tags: ["conversations"],
  summary: "Start a conversation about a video",
  request: { params: videoParams, body: { required: true, content: { "application/json": { schema: ConversationInput } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: Conversation } } },
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

export const listConversationsRoute = keeperRoute({
  method: "get",
  path: "/v1/videos/{id}/conversations",
  operationId: "conversations.list",
  scope: "read",
  tags: ["conversations"],
  summary: "List a video's conversations, oldest first",
  request: { params: videoParams, query: PageQuery },
  responses: {
    200: {
      description: "A page of conversations",
      content: { "application/json": { schema: pageOf(Conversation, "ConversationPage") } },
    },
    404: problems[404],
  },
});

export const getConversationRoute = keeperRoute({
  method: "get",
  path: "/v1/conversations/{conversationId}",
  operationId: "conversations.get",
  scope: "read",
  tags: ["conversations"],
  summary: "Get a conversation",
  request: { params: conversationParams },
  responses: {
    200: { description: "The conversation", content: { "application/json": { schema: Conversation } } },
    404: problems[404],
  },
});

export const appendMessageRoute = keeperRoute({
  method: "post",
  path: "/v1/conversations/{conversationId}/messages",
  operationId: "messages.append",
  scope: "write",
  tags: ["conversations"],
  summary: "Append a message to a conversation",
  request: { params: conversationParams, body: { required: true, content: { "application/json": { schema: MessageInput } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: Message } } },
    404: problems[404],
    409: problems[409],
    422: problems[422],
  },
});

export const listMessagesRoute = keeperRoute({
  method: "get",
  path: "/v1/conversations/{conversationId}/messages",
  operationId: "messages.list",
  scope: "read",
  tags: ["conversations"],
  summary: "List a conversation's messages in order",
  request: { params: conversationParams, query: PageQuery },
  responses: {
    200: { description: "A page of messages", content: { "application/json": { schema: pageOf(Message, "MessagePage") } } },
    404: problems[404],
  },
});

export function registerConversationRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(createConversationRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await createConversation({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), videoId: id } }), 201);
  });
  app.openapi(listConversationsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    return c.json(
      await listConversations({ ctx: c.get("ctx"), input: { videoId: id, cursor: query.cursor, limit: query.limit } }),
      200,
    );
  });
  app.openapi(getConversationRoute, async (c) => {
    const { conversationId } = c.req.valid("param");
    return c.json(presentConversation(await getConversation({ ctx: c.get("ctx"), input: { id: conversationId } })), 200);
  });
  app.openapi(appendMessageRoute, async (c) => {
    const { conversationId } = c.req.valid("param");
    return c.json(await appendMessage({ ctx: c.get("ctx"), input: { ...c.req.valid("json"), conversationId } }), 201);
  });
  app.openapi(listMessagesRoute, async (c) => {
    const { conversationId } = c.req.valid("param");
    const query = c.req.valid("query");
    return c.json(
      await listMessages({ ctx: c.get("ctx"), input: { conversationId, cursor: query.cursor, limit: query.limit } }),
      200,
    );
  });
}
