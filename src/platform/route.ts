import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { type RouteScope, requireScope } from "./auth";
import type { KeeperEnv } from "./context";
import { problemContentType } from "./problem";
import { refuseUnknownQuery } from "./query-params";

/** Enforces a route's scope before its validators run, so a stranger learns nothing about inputs. */
export const scopeGuard = (scope: RouteScope) =>
  createMiddleware<KeeperEnv>(async (c, next) => {
    requireScope(c.get("ctx").principal, scope);
    await next();
  });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .passthrough()
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { [problemContentType]: { schema: ProblemSchema } },
});

/** A JSON response of a route, for `responses`. */
export const jsonContent = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});

/** A required JSON body, for `request`. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { "application/json": { schema } } },
});

export const problems = {
  404: problem("Not found"),
  409: problem("Conflicts with existing data (duplicate)"),
  422: problem("Fails validation or a database constraint"),
  423: problem("Another run holds the lease"),
  428: problem("Destructive action without confirm: true"),
  502: problem("An outside service (R2 read-back, the Cloudflare API) failed; nothing was changed"),
} as const;

/** Seconds to wait before retrying, on a 503. */
const retryAfter = {
  "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 1 } },
} as const;

/**
 * The error answers a route can give follow from how it is declared, so the document lists only
 * statuses that can really happen: 400 on every route (a query parameter the operation does not
 * declare is refused everywhere), 401/403 a credential (and 403 a scope above `read`, which every
 * credential holds), 413/415/422 a body, 503 a query to D1.
 */
function declaredProblems(route: Pick<RouteConfig, "request">, scope: RouteScope, usesDatabase: boolean) {
  const request = route.request ?? {};
  return {
    400: problem(
      "Malformed request: bad JSON or invalid UTF-8 in the body, a bad query or path parameter, or a query parameter the operation does not declare (each named in `errors`)",
    ),
    ...(scope === "public" ? {} : { 401: problem("Missing or invalid credential") }),
    ...(scope === "write" || scope === "admin" ? { 403: problem(`Credential lacks the '${scope}' scope`) } : {}),
    ...(request.body
      ? {
          413: problem("Body too large"),
          415: problem("Body is not application/json"),
          422: problems[422],
        }
      : {}),
    500: problem("Unexpected error"),
    ...(usesDatabase
      ? {
          503: {
            ...problem(
              "D1 overloaded, or (data routes) the database schema differs from the Worker's migrations: type `urn:d1-keeper:problem:schema-not-ready` with `pending` and `unknown_applied` names. Retry after the Retry-After seconds",
            ),
            headers: retryAfter,
          },
        }
      : {}),
  };
}

/**
 * Every route is declared through here: its scope is enforced by middleware *and* published in the
 * OpenAPI document as `x-keeper-scope`, which is what the auth test walks, so a route cannot exist
 * without a declared, tested scope.
 */
export function keeperRoute<const R extends Omit<RouteConfig, "middleware" | "security" | "operationId">>(
  config: R & {
    scope: RouteScope;
    /** Stable `area.verb` name client generators use (`videos.list`, `backups.restore`). */
    operationId: `${string}.${string}`;
    /** false for the few routes that never query D1 (and so never answer 503). */
    usesDatabase?: false;
  },
) {
  const { scope, usesDatabase, ...route } = config;
  const query = route.request?.query;
  const declaredQuery = query instanceof z.ZodObject ? Object.keys(query.shape) : [];
  return createRoute({
    ...route,
    responses: { ...declaredProblems(route, scope, usesDatabase ?? true), ...route.responses },
    middleware: [scopeGuard(scope), refuseUnknownQuery(declaredQuery)] as const,
    security: scope === "public" ? [] : [{ bearerAuth: [] }],
    "x-keeper-scope": scope,
  } as unknown as R & {
    middleware: [ReturnType<typeof scopeGuard>, ReturnType<typeof refuseUnknownQuery>];
    responses: R["responses"];
  });
}
