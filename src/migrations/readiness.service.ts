import { createMiddleware } from "hono/factory";
import type { AppContext, KeeperEnv } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { bundledMigrationFiles } from "./bundle.generated";

/** How long a client should wait before retrying a data route while migrations are pending. */
export const SCHEMA_RETRY_AFTER_SECONDS = 30;

/** The migrations this Worker was built against (its bundle), oldest first. */
const builtAgainst = bundledMigrationFiles
  .filter((file) => file.up !== null)
  .map((file) => file.name)
  .sort();

export interface SchemaReadiness {
  ready: boolean;
  /** Bundled migrations D1 has not applied (the Worker is ahead of the schema). */
  pending: string[];
  /** Migrations D1 has applied that this Worker does not know (the schema is ahead of the Worker). */
  unknown_applied: string[];
}

/**
 * Compares D1's ledger with the Worker's bundle: one small query (the ledger holds one row per
 * migration). A database nobody migrated has no ledger: everything is pending.
 */
export async function checkSchemaReadiness({ ctx }: { ctx: AppContext }): Promise<SchemaReadiness> {
  const ledger = await ctx.d1
    .prepare("SELECT name FROM d1_migrations")
    .all<{ name: string }>()
    .catch((error: unknown) => {
      if (error instanceof Error && /no such table: d1_migrations/.test(`${error.message} ${String(error.cause ?? "")}`))
        return { results: [] as { name: string }[] };
      throw error;
    });
  const applied = new Set(ledger.results.map((row) => row.name));
  const known = new Set(builtAgainst);
  const pending = builtAgainst.filter((name) => !applied.has(name));
  const unknownApplied = [...applied].filter((name) => !known.has(name)).sort();
  return { ready: pending.length === 0 && unknownApplied.length === 0, pending, unknown_applied: unknownApplied };
}

/**
 * How long an isolate trusts a "ready" answer before asking D1's ledger again. Only "ready" is
 * kept: a schema that is not ready is checked on every request, so an apply takes effect at once
 * everywhere. A schema change in this isolate (`keeper migrate apply`/`rollback` through this
 * Worker) forgets the answer at once; one made elsewhere (another isolate, wrangler) is seen by
 * this isolate within this bound.
 */
export const SCHEMA_READY_TTL_MS = 5_000;

/** Per D1 binding (the database a request's env names): until when "ready" is trusted. */
let readyUntil = new WeakMap<D1Database, number>();

/** Forgets every cached "ready" of this isolate: called when this isolate applies or rolls back migrations. */
export function forgetSchemaReadiness(): void {
  readyUntil = new WeakMap();
}

/**
 * Data routes answer 503 schema-not-ready while D1's schema and the Worker's bundle differ, instead
 * of failing on a missing table or column (or, worse, writing around a rule that is not there yet).
 * Admin routes are not behind it, so `keeper migrate apply` can fix the state. A request without
 * any credential is left to the route's scope check (401), so strangers learn nothing.
 */
export const requireSchemaReady = () =>
  createMiddleware<KeeperEnv>(async (c, next) => {
    const ctx = c.get("ctx");
    const now = ctx.now().getTime();
    const until = readyUntil.get(ctx.env.DB);
    // A clock that went back past when the answer was cached does not extend it.
    const trusted = until !== undefined && until > now && until - SCHEMA_READY_TTL_MS <= now;
    if (ctx.principal.scopes.length > 0 && !trusted) {
      // The map as it was before the ledger was read: if this isolate changes the schema meanwhile,
      // the answer lands in the forgotten map, not the current one.
      const cache = readyUntil;
      const readiness = await checkSchemaReadiness({ ctx });
      if (readiness.ready) cache.set(ctx.env.DB, now + SCHEMA_READY_TTL_MS);
      else {
        const behind = readiness.pending.length > 0 ? `${readiness.pending.length} migration(s) pending` : "";
        const ahead =
          readiness.unknown_applied.length > 0
            ? `${readiness.unknown_applied.length} applied migration(s) this Worker does not know`
            : "";
        throw new KeeperError(
          "SCHEMA_NOT_READY",
          `The database schema is not the one this Worker was built for (${[behind, ahead].filter(Boolean).join("; ")}). Run \`keeper migrate apply\` (or deploy the matching Worker), then retry.`,
          {
            headers: { "Retry-After": String(SCHEMA_RETRY_AFTER_SECONDS) },
            extra: { pending: readiness.pending, unknown_applied: readiness.unknown_applied },
          },
        );
      }
    }
    await next();
  });
