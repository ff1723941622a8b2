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

/** Error answers every route may give; routes add their own (404, 409, 422 …) on top. */
const commonProblems = {
  400: problem(
    "Malformed request: bad JSON or invalid UTF-8 in the body, a bad query or path parameter, or a query parameter the operation does not declare (each named in `errors`)",
  ),
  401: problem("Missing or invalid credential"),
  403: problem("Credential lacks the required scope"),
  415: problem("Body is not application/json"),
  500: problem("Unexpected error"),
  503: problem(
    "D1 overloaded, or (data routes) the database schema differs from the Worker's migrations: type `urn:d1-keeper:problem:schema-not-ready` with `pending` and `unknown_applied` names. Retry after the Retry-After seconds",
  ),
} as const;

export const problems = {
  404: problem("Not found"),
  409: problem("Conflicts with existing data (duplicate)"),
  413: problem("Body too large"),
  422: problem("Fails validation or a database constraint"),
  423: problem("Another run holds the lease"),
  428: problem("Destructive action without confirm: true"),
} as const;

/**
 * Every route is declared through here: its scope is enforced by middleware *and* published in the
 * OpenAPI document as `x-keeper-scope`, which is what the auth test walks, so a route cannot exist
 * without a declared, tested scope.
 */
export function keeperRoute<const R extends Omit<RouteConfig, "middleware" | "security">>(config: R & { scope: RouteScope }) {
  const { scope, ...route } = config;
  // A route that takes a body can always answer "too large" and "does not match the schema".
  const bodyProblems = route.request?.body ? { 413: problems[413], 422: problems[422] } : {};
  const query = route.request?.query;
  const declaredQuery = query instanceof z.ZodObject ? Object.keys(query.shape) : [];
  return createRoute({
    ...route,
    responses: { ...commonProblems, ...bodyProblems, ...route.responses },
    middleware: [scopeGuard(scope), refuseUnknownQuery(declaredQuery)] as const,
    security: scope === "public" ? [] : [{ bearerAuth: [] }],
    "x-keeper-scope": scope,
  } as unknown as R & {
    middleware: [ReturnType<typeof scopeGuard>, ReturnType<typeof refuseUnknownQuery>];
    responses: R["responses"] & typeof commonProblems;
  });
}
