import { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { KeeperEnv } from "./context";
import { KeeperError } from "./errors";

/**
 * Integers in query strings are decimal digits only: `limit=0x10`, `1e1`, ` 16` or `+16` are refused
 * (400), where Number() would read them as 16 or 10.
 */
export const decimalInteger = (min: number, max: number) =>
  z
    .preprocess(
      (value) => (typeof value === "string" && /^(0|[1-9][0-9]{0,15})$/.test(value) ? Number(value) : value),
      z.number({ error: "must be a decimal integer (digits only)" }).int().min(min).max(max),
    )
    .openapi({ type: "integer", minimum: min, maximum: max });

/**
 * Query parameters a route does not declare are refused with 400 naming them, rather than silently
 * ignored: a misspelt `includeDeleted=true` would otherwise answer as if it had not been sent.
 */
export const refuseUnknownQuery = (declared: readonly string[]) => {
  const known = new Set(declared);
  return createMiddleware<KeeperEnv>(async (c, next) => {
    // A URL without "?" has no parameters at all: most requests skip parsing it.
    if (c.req.url.includes("?")) {
      const unknown = [...new Set(new URL(c.req.url).searchParams.keys())].filter((name) => !known.has(name));
      if (unknown.length > 0) {
        throw new KeeperError("BAD_REQUEST", `Unknown query parameter(s): ${unknown.join(", ")}`, {
          errors: unknown.map((name) => ({ path: `query.${name}`, message: "not a parameter of this operation" })),
        });
      }
    }
    await next();
  });
};
