import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { releaseLease } from "./lease";

/**
 * Jobs that must not run at the same time, by the lease each holds while it runs. The matrix is
 * written out in docs/architecture.md ("Jobs that exclude each other"); this is its one home in code.
 *
 *                 backup   migration   restore(main)   retention
 *   backup          —         ✗            ✗              ✓
 *   migration       ✗         —            ✗              ✗
 *   restore(main)   ✗         ✗            —              ✗
 *   retention       ✓         ✗            ✗              —
 *   drill           ✓         ✓            ✓              ✓
 *
 * (— : the job's own lease already keeps a second run out.) A backup and retention may overlap:
 * retention only deletes rows past their cutoffs, and a backup is not a point-in-time snapshot
 * either way (test/hardening/faults.test.ts runs them together). Every restore holds the restore
 * lease, so a restore into SCRATCH_DB is held to the main database's row too. The drill clashes
 * with nothing here: it reads backups and writes only SCRATCH_DB, which the `scratch-db` lease
 * guards (restore-job.ts).
 */
export const exclusiveLeases = {
  backup: "backups.create",
  migration: "migrations",
  restore: "backups.restore",
  retention: "retention.apply-policies",
  drill: "backups.drill",
} as const;

export type ExclusiveJob = keyof typeof exclusiveLeases;

export const exclusionMatrix: Record<ExclusiveJob, ExclusiveJob[]> = {
  backup: ["migration", "restore"],
  migration: ["backup", "restore", "retention"],
  restore: ["backup", "migration", "retention"],
  retention: ["migration", "restore"],
  drill: [],
};

/**
 * Called right after `job` took its own lease (as `holder`): if any job it excludes holds a live
 * lease, gives its own lease back and refuses with 423. Taking first and checking second makes the
 * pair safe without a transaction: of two clashing jobs starting at once, each sees the other's
 * lease and both refuse — neither runs alongside the other.
 */
export async function refuseIfExcluded({
  ctx,
  input,
}: {
  ctx: AppContext;
  input: { job: ExclusiveJob; holder: string };
}): Promise<void> {
  const names = exclusionMatrix[input.job].map((other) => exclusiveLeases[other]);
  if (names.length === 0) return;
  const { results } = await ctx.d1
    .prepare(`SELECT name FROM keeper_leases WHERE expires_at > ? AND name IN (${names.map(() => "?").join(", ")}) ORDER BY name`)
    .bind(ctx.now().getTime(), ...names)
    .all<{ name: string }>();
  if (results.length === 0) return;
  await releaseLease({ ctx, input: { name: exclusiveLeases[input.job], holder: input.holder } });
  const running = results.map((row) => row.name).join(", ");
  throw new KeeperError(
    "LOCKED",
    `'${exclusiveLeases[input.job]}' cannot run while ${running} runs; try again when it finishes`,
    {
      extra: { running: results.map((row) => row.name) },
    },
  );
}
