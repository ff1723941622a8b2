import type { Migration } from "./catalog";
import { migrationNumber } from "./catalog";
import type { ChecksumOrigin, ChecksumRow, LedgerRow } from "./ledger";

export type DriftKind = "checksum_mismatch" | "missing_file" | "out_of_order";

export interface Drift {
  kind: DriftKind;
  name: string;
  detail: string;
}

export interface AppliedEntry {
  number: number | null;
  name: string;
  applied_at: string;
  checksum: {
    /** The sha256 keeper recorded, and whether it hashed the file it ran or first saw it already applied. */
    recorded: string | null;
    recorded_as: ChecksumOrigin | null;
    /** The sha256 of the bundled file now (null when the file is gone). */
    file: string | null;
    matches: boolean | null;
  };
}

export interface MigrationState {
  current: { number: number | null; name: string } | null;
  applied: AppliedEntry[];
  pending: { number: number; name: string; down_ready: boolean }[];
  drift: Drift[];
}

/**
 * Compares the ledger with the shipped files, as Flyway's `validate` does: an applied file whose
 * bytes changed, an applied migration with no file, and a file older than the newest applied one
 * that was never applied (it would run out of order).
 */
export function describeState(
  migrations: readonly Migration[],
  ledger: readonly LedgerRow[],
  checksums: ReadonlyMap<string, ChecksumRow>,
): MigrationState {
  const byName = new Map(migrations.map((migration) => [migration.name, migration]));
  const appliedNames = new Set(ledger.map((row) => row.name));
  const drift: Drift[] = [];
  const applied = ledger.map((row): AppliedEntry => {
    const file = byName.get(row.name);
    const recorded = checksums.get(row.name);
    if (!file) {
      drift.push({
        kind: "missing_file",
        name: row.name,
        detail: `${row.name} is in the ledger but no such migration is bundled`,
      });
    } else if (recorded && recorded.sha256 !== file.checksum) {
      drift.push({
        kind: "checksum_mismatch",
        name: row.name,
        detail: `${row.name} changed after it was applied: recorded sha256 ${recorded.sha256.slice(0, 12)}… (${recorded.recorded_as === "applied" ? "verified at apply" : "first seen"}), file now ${file.checksum.slice(0, 12)}…`,
      });
    }
    return {
      number: migrationNumber(row.name),
      name: row.name,
      applied_at: row.applied_at,
      checksum: {
        recorded: recorded?.sha256 ?? null,
        recorded_as: recorded?.recorded_as ?? null,
        file: file?.checksum ?? null,
        matches: recorded && file ? recorded.sha256 === file.checksum : null,
      },
    };
  });
  const newestApplied = Math.max(-1, ...applied.map((entry) => entry.number ?? -1));
  const pending = migrations
    .filter((migration) => !appliedNames.has(migration.name))
    .map((migration) => ({ number: migration.number, name: migration.name, down_ready: migration.downProblem === null }));
  for (const migration of pending) {
    if (migration.number < newestApplied) {
      drift.push({
        kind: "out_of_order",
        name: migration.name,
        detail: `${migration.name} was never applied but is older than the newest applied migration (${String(newestApplied).padStart(4, "0")})`,
      });
    }
  }
  const last = ledger.at(-1);
  return {
    current: last ? { number: migrationNumber(last.name), name: last.name } : null,
    applied,
    pending,
    drift,
  };
}
