import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { registerArchivalRoutes } from "./archival/routes";
import { registerBackupRoutes } from "./backups/routes";
import { registerHealthRoutes } from "./health/routes";
import { registerJobRoutes } from "./maintenance/routes";
import { requireSchemaReady } from "./migrations/readiness.service";
import { registerMigrationRoutes } from "./migrations/routes";
import { accessKeySetFor, anonymous, type Principal, principalFromAccessJwt, principalFromBearer } from "./platform/auth";
import { type KeeperConfig, parseConfig } from "./platform/config";
import { type AppDependencies, createContext, type KeeperEnv } from "./platform/context";
import { KeeperError } from "./platform/errors";
import { methodNotAllowed } from "./platform/method-not-allowed";
import { problemResponse } from "./platform/problem";
import { requireUtf8Body } from "./platform/utf8-body";
import { registerSystemRoutes } from "./system/routes";
import { registerDataApi } from "./videos";

export const MAX_BODY_BYTES = 1024 * 1024;

/** Routes outside the OpenAPI document. Each is public; the auth test checks this list is complete. */
export const undocumentedPublicRoutes = ["GET /openapi.json", "GET /docs"] as const;

/** Where [assets] serves @scalar/api-reference's standalone bundle (copied there by wrangler's [build]). */
export const scalarScriptPath = "/vendor/scalar-api-reference.js";

/** Every tag an operation uses, in the order the reference shows them. */
export const documentTags = [
  { name: "system", description: "Liveness, and whether D1 answers with the expected schema" },
  { name: "videos", description: "The data API: videos, created and read with their constraints checked" },
  { name: "context", description: "Per-video context entries (the app's analysis context)" },
  { name: "memory", description: "Per-video memory entries the analysis keeps between runs" },
  { name: "conversations", description: "Conversations about a video and their messages" },
  { name: "migrations", description: "Schema migrations: status, apply, rollback, round-trip test, lint" },
  { name: "archival", description: "Soft delete, purge, conversation archives in R2, orphaned media, retention policies" },
  { name: "backups", description: "Backups to R2: create, verify, download, restore, prune, restore drills" },
  { name: "health", description: "Health score, size and growth, integrity, indexes, query statistics, metrics, dashboard" },
  { name: "jobs", description: "Long jobs run as Workflows (backup, retention): their runs, progress and cancellation" },
];

async function authenticate(c: Context<KeeperEnv>, config: KeeperConfig, deps: AppDependencies): Promise<Principal> {
  const authorization = c.req.header("Authorization");
  // A browser cannot send a bearer header by itself. In local development only, the dashboard also
  // takes ?token=; in production people reach it through Cloudflare Access (Cf-Access-Jwt-Assertion).
  const devDashboardToken =
    config.KEEPER_ENV === "development" && c.req.method === "GET" && new URL(c.req.url).pathname === "/admin/dashboard"
      ? c.req.query("token")
      : undefined;
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ?? devDashboardToken;
  if (bearer) return (await principalFromBearer(bearer, config)) ?? anonymous;
  const assertion = c.req.header("Cf-Access-Jwt-Assertion");
  if (assertion && config.ACCESS_TEAM_DOMAIN) {
    const keySet = deps.accessKeySet ?? accessKeySetFor(config.ACCESS_TEAM_DOMAIN);
    return (await principalFromAccessJwt(assertion, config, keySet)) ?? anonymous;
  }
  return anonymous;
}

export function createApp(deps: AppDependencies = {}) {
  const app = new OpenAPIHono<KeeperEnv>({
    // Query/path problems are malformed requests (400); a body that parses but breaks the rules is 422.
    defaultHook: (result) => {
      if (result.success) return;
      const where = result.target === "json" ? "body" : result.target;
      throw new KeeperError(result.target === "json" ? "UNPROCESSABLE" : "BAD_REQUEST", "The request does not match the schema", {
        errors: result.error.issues.map((issue) => ({
          path: [where, ...issue.path.map(String)].join("."),
          message: issue.message,
        })),
      });
    },
  });

  app.onError((error, c) => problemResponse(c, error));
  app.notFound((c) => {
    const pathname = new URL(c.req.url).pathname;
    const wrongMethod = methodNotAllowed(app.routes, c.req.method, pathname);
    return problemResponse(c, wrongMethod ?? new KeeperError("NOT_FOUND", `No route for ${c.req.method} ${pathname}`));
  });

  app.use("*", requestId());
  app.use("*", async (c, next) => {
    const config = parseConfig(c.env as unknown as Record<string, unknown>);
    const principal = await authenticate(c, config, deps);
    const ctx = createContext(c.env, config, deps, { requestId: c.get("requestId"), principal });
    c.set("ctx", ctx);
    try {
      await next();
    } finally {
      // After the response: the monitor's writes never delay an answer.
      const flushing = ctx
        .flushMonitoring()
        .catch((error) => ctx.logger.warn("query monitor flush failed", { error: String(error) }));
      try {
        c.executionCtx.waitUntil(flushing);
      } catch {
        await flushing; // no execution context (app.request in tests): finish before returning
      }
    }
  });
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new KeeperError("PAYLOAD_TOO_LARGE", `The body must be at most ${MAX_BODY_BYTES} bytes`);
    },
  });
  app.use("/v1/*", limit, requireUtf8Body());
  app.use("/v1/*", requireSchemaReady());
  app.use("/admin/*", limit, requireUtf8Body());

  registerSystemRoutes(app);
  registerDataApi(app);
  registerMigrationRoutes(app);
  registerArchivalRoutes(app);
  registerBackupRoutes(app);
  registerHealthRoutes(app);
  registerJobRoutes(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "KEEPER_READ_TOKEN, KEEPER_WRITE_TOKEN or KEEPER_ADMIN_TOKEN",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "d1-keeper",
      version: "1.0.0",
      description:
        "Front door and operator of the video app's D1 database. Every operation lists its required scope in `x-keeper-scope`. Query parameters an operation does not declare are refused with 400 naming them; integers in query strings are decimal digits only; a method a path does not support answers 405 with `Allow`. Data routes answer 503 `schema-not-ready` while the database schema differs from the Worker's migrations.",
    },
    // Relative: the document is served by the Worker it describes, whatever its hostname.
    servers: [{ url: "/", description: "The Worker serving this document" }],
    tags: documentTags,
  });
  app.get(
    "/docs",
    Scalar({
      url: "/openapi.json",
      pageTitle: "d1-keeper API",
      // The reference UI's script is served by this Worker's static assets (wrangler.toml [assets]),
      // never a CDN: the page works air-gapped and under a strict CSP. Its bundled fonts are used
      // instead of fonts.scalar.com.
      cdn: scalarScriptPath,
      withDefaultFonts: false,
    }),
  );
  return app;
}
