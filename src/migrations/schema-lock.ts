import { exclusiveLeases, refuseIfExcluded } from "../maintenance/exclusion";
import { acquireLease, releaseLease } from "../maintenance/lease";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";

export const schemaLockName = exclusiveLeases.migration;

/**
 * One schema change at a time: apply and rollback hold the `migrations` lease while they run, so
 * two operators (or an operator and a deploy script) cannot interleave their steps — the second
 * gets 423 and nothing happens. A database that has no keeper_leases table yet (nothing applied)
 * cannot hold a lease; its first apply runs unlocked.
 */
export async function withSchemaLock<T>(ctx: AppContext, work: () => Promise<T>): Promise<T> {
  const leases = await ctx.d1
    .prepare("SELECT 1 AS present FROM sqlite_schema WHERE type = 'table' AND name = 'keeper_leases'")
    .first();
  if (!leases) return work();
  const holder = `schema:${crypto.randomUUID()}`;
  if (!(await acquireLease({ ctx, input: { name: schemaLockName, holder, ttlMs: 10 * 60_000 } }))) {
    throw new KeeperError("LOCKED", "Another schema change (apply or rollback) is running; try again when it finishes");
  }
  // Nor while a backup, a restore into the main database or retention runs (the exclusion matrix).
  await refuseIfExcluded({ ctx, input: { job: "migration", holder } });
  try {
    return await work();
  } finally {
    await releaseLease({ ctx, input: { name: schemaLockName, holder } });
  }
}
