import type { AppContext } from "../platform/context";
import { ensureLedgerTables, recordChecksum } from "./ledger";
import { bundledSource, type MigrationSource, readState } from "./source";
import type { MigrationState } from "./state";

/**
 * Migrations wrangler applied have no checksum yet: record the file's hash as `first_seen` (never
 * "verified at apply": keeper cannot know what wrangler ran), so later edits show up as drift.
 */
export async function backfillChecksums(ctx: AppContext, source: MigrationSource, state: MigrationState): Promise<number> {
  const byName = new Map(source.migrations.map((migration) => [migration.name, migration]));
  const unrecorded = state.applied.filter((entry) => entry.checksum.recorded === null && byName.has(entry.name));
  if (unrecorded.length === 0) return 0;
  await ensureLedgerTables(source.d1);
  await source.d1.batch(
    unrecorded.map((entry) =>
      recordChecksum(source.d1, {
        name: entry.name,
        sha256: byName.get(entry.name)!.checksum,
        recordedAs: "first_seen",
        at: ctx.now(),
      }),
    ),
  );
  return unrecorded.length;
}

/** The seed's get_schema_version(), plus what is pending and any drift between ledger and files. */
export async function getMigrationStatus({ ctx, source }: { ctx: AppContext; source?: MigrationSource }) {
  const target = source ?? (await bundledSource(ctx));
  let state = await readState(target);
  if ((await backfillChecksums(ctx, target, state)) > 0) state = await readState(target);
  return { ...state, ok: state.drift.length === 0 };
}
