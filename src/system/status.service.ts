import { checkSchemaReadiness } from "../migrations/readiness.service";
import type { AppContext } from "../platform/context";

export interface AppliedMigration {
  id: number;
  name: string;
  applied_at: string;
}

/**
 * Reads wrangler's ledger (`d1_migrations`), the one record of what has been applied. A database
 * nobody has migrated yet has no ledger table: that is a state to report, not an error.
 */
export async function readMigrationLedger(ctx: AppContext): Promise<AppliedMigration[] | null> {
  const ledger = await ctx.d1
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'd1_migrations'")
    .first<{ name: string }>();
  if (!ledger) return null;
  const { results } = await ctx.d1.prepare("SELECT id, name, applied_at FROM d1_migrations ORDER BY id").all<AppliedMigration>();
  return results;
}

export async function getStatus({ ctx }: { ctx: AppContext }) {
  const started = performance.now();
  const ping = await ctx.d1.prepare("SELECT 1 AS ok").run();
  const roundTripMs = performance.now() - started;
  const applied = await readMigrationLedger(ctx);
  const latest = applied?.at(-1) ?? null;
  const readiness = await checkSchemaReadiness({ ctx });
  return {
    service: "d1-keeper" as const,
    environment: ctx.config.KEEPER_ENV,
    time: ctx.now().toISOString(),
    database: {
      reachable: true,
      round_trip_ms: Math.round(roundTripMs * 100) / 100,
      size_bytes: ping.meta.size_after ?? null,
      served_by_region: ping.meta.served_by_region ?? null,
    },
    schema: {
      migrated: applied !== null,
      version: latest ? latest.name : null,
      applied_count: applied?.length ?? 0,
      last_applied_at: latest?.applied_at ?? null,
      /** False while data routes answer 503 schema-not-ready. */
      ready: readiness.ready,
      pending_count: readiness.pending.length,
      pending: readiness.pending,
      unknown_applied: readiness.unknown_applied,
    },
    principal: { actor: ctx.principal.actor, scopes: [...ctx.principal.scopes] },
  };
}
