import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeeperEnv } from "../platform/context";
import { keeperRoute } from "../platform/route";
import { getStatus } from "./status.service";

const Status = z
  .object({
    service: z.literal("d1-keeper"),
    environment: z.string(),
    time: z.string(),
    database: z.object({
      reachable: z.boolean(),
      round_trip_ms: z.number(),
      size_bytes: z.number().nullable(),
      served_by_region: z.string().nullable(),
    }),
    schema: z.object({
      migrated: z.boolean(),
      version: z.string().nullable(),
      applied_count: z.number().int(),
      last_applied_at: z.string().nullable(),
      /** False while D1's ledger differs from the Worker's migrations: data routes answer 503. */
      ready: z.boolean(),
      pending_count: z.number().int(),
      pending: z.array(z.string()),
      unknown_applied: z.array(z.string()),
    }),
    principal: z.object({ actor: z.string(), scopes: z.array(z.string()) }),
  })
  .openapi("Status");

export const statusRoute = keeperRoute({
  method: "get",
  path: "/admin/status",
  operationId: "system.status",
  scope: "read",
  tags: ["system"],
  summary: "Reachability of D1 and the applied schema version",
  responses: { 200: { description: "Status", content: { "application/json": { schema: Status } } } },
});

export const livenessRoute = keeperRoute({
  method: "get",
  path: "/healthz",
  operationId: "system.liveness",
  scope: "public",
  usesDatabase: false,
  tags: ["system"],
  summary: "Liveness probe: the Worker answers (it does not touch D1)",
  responses: { 200: { description: "Alive", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } } },
});

export function registerSystemRoutes(app: OpenAPIHono<KeeperEnv>) {
  app.openapi(statusRoute, async (c) => c.json(await getStatus({ ctx: c.get("ctx") }), 200));
  app.openapi(livenessRoute, (c) => c.json({ ok: true as const }, 200));
}
