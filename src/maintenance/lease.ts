import type { AppContext } from "../platform/context";

/**
 * Leases in D1, each taken with one conditional upsert: the row is written only when no lease
 * exists or the existing one has expired, so of two overlapping runs exactly one gets `true`.
 */
export async function acquireLease({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { name: string; holder: string; ttlMs: number };
}): Promise<boolean> {
  const row = await acquireLeaseStatement({ ctx, input }).first<{ holder: string }>();
  return row?.holder === input.holder;
}

/** The conditional upsert of `acquireLease` as a statement, to put in a batch with what it guards. */
export function acquireLeaseStatement({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { name: string; holder: string; ttlMs: number };
}): D1PreparedStatement {
  const at = ctx.now().getTime();
  return ctx.d1
    .prepare(
      `INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
         expires_at = excluded.expires_at
       WHERE keeper_leases.expires_at <= excluded.acquired_at
       RETURNING holder`,
    )
    .bind(input.name, input.holder, at, at + input.ttlMs);
}

/** Extends a lease this holder still owns; false when it was lost (expired and taken over). */
export async function renewLease({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { name: string; holder: string; ttlMs: number };
}): Promise<boolean> {
  const result = await ctx.d1
    .prepare("UPDATE keeper_leases SET expires_at = ? WHERE name = ? AND holder = ?")
    .bind(ctx.now().getTime() + input.ttlMs, input.name, input.holder)
    .run();
  return result.meta.changes === 1;
}

export async function releaseLease({ ctx, input }: { ctx: AppContext; input: { name: string; holder: string } }) {
  await ctx.d1.prepare("DELETE FROM keeper_leases WHERE name = ? AND holder = ?").bind(input.name, input.holder).run();
}

export async function readLease({ ctx, input }: { ctx: AppContext; input: { name: string } }) {
  return ctx.d1
    .prepare("SELECT name, holder, acquired_at, expires_at FROM keeper_leases WHERE name = ?")
    .bind(input.name)
    .first<{ name: string; holder: string; acquired_at: number; expires_at: number }>();
}
