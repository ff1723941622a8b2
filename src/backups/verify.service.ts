import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { recordBackupCheck } from "./backup-checks.service";
import { readObjectLines, requireManifest } from "./catalog.service";
import { PAGE_ROWS, pageDigest, tableDigest } from "./digest";
import { DumpReader } from "./dump-reader";
import { MANIFEST_FORMAT, type Manifest, sequenceSql } from "./manifest";

/** Backups of an earlier format have digests of their SQL text, which nothing here can check. */
export function requireCurrentFormat(manifest: Manifest): void {
  if (manifest.format !== MANIFEST_FORMAT)
    throw new KeeperError(
      "UNPROCESSABLE",
      `Backup ${manifest.id} has format ${manifest.format}; this keeper checks ${MANIFEST_FORMAT} (take a new backup)`,
    );
}

interface TableTally {
  rows: number;
  lines: string[];
  pageDigests: string[];
}

/**
 * Checks a backup (or the objects of some of its tables) without touching any database: every
 * object's sha256 and frame layout, every frame decompresses, and every row of the dump parses back
 * into exact literals whose page digests, rows and table digests equal the manifest's. The
 * sqlite_sequence object must say what the manifest says. Problems are reported, not thrown, so
 * one bad object does not hide the others.
 */
export async function checkBackup(ctx: AppContext, manifest: Manifest, tables?: Set<string>): Promise<string[]> {
  requireCurrentFormat(manifest);
  const problems: string[] = [];
  const selected = manifest.tables.filter((table) => !tables || tables.has(table.name));
  const tallies = new Map<string, TableTally>(selected.map((table) => [table.name, { rows: 0, lines: [], pageDigests: [] }]));
  for (const object of manifest.objects) {
    if (object.table && !tallies.has(object.table)) continue;
    let rows = 0;
    const text: string[] = [];
    try {
      const reader = new DumpReader();
      for await (const lines of readObjectLines(ctx, object)) {
        if (object.kind !== "data") {
          text.push(...lines.map((line) => `${line}\n`));
          continue;
        }
        for (const line of lines) {
          const row = reader.push(line);
          if (!row) continue;
          if (row.table !== object.table) throw new Error(`a row of ${row.table} in the object of ${object.table}`);
          const tally = tallies.get(row.table) as TableTally;
          rows++;
          tally.rows++;
          tally.lines.push(row.line);
          if (tally.lines.length === PAGE_ROWS) {
            tally.pageDigests.push(pageDigest(tally.lines));
            tally.lines = [];
          }
        }
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      problems.push(message.includes(object.key) ? message : `${object.key}: ${message}`);
      continue;
    }
    if (object.kind === "data" && rows !== object.rows)
      problems.push(`${object.key}: ${rows} rows, the manifest says ${object.rows}`);
    if (object.kind === "sequence" && text.join("") !== sequenceSql(manifest.tables))
      problems.push(`${object.key}: does not hold the manifest's sqlite_sequence values`);
  }
  for (const table of selected) {
    const tally = tallies.get(table.name) as TableTally;
    if (tally.lines.length > 0) tally.pageDigests.push(pageDigest(tally.lines));
    if (tally.rows !== table.rows)
      problems.push(`table ${table.name}: ${tally.rows} rows in its objects, the manifest says ${table.rows}`);
    else if (tableDigest(tally.pageDigests) !== table.sha256)
      problems.push(`table ${table.name}: the values in its objects do not match the manifest's digest`);
  }
  return problems;
}

/** Checks a backup and records the outcome (see backup-checks.service.ts), passed or failed. */
export async function verifyBackup({ ctx, input }: { ctx: AppContext; input: { id: string } }) {
  const manifest = await requireManifest(ctx, input.id);
  const problems = await checkBackup(ctx, manifest);
  const check = await recordBackupCheck({ ctx, input: { backupId: manifest.id, kind: "verify", problems } });
  return {
    id: manifest.id,
    ok: check.ok,
    objects: manifest.objects.length,
    rows: manifest.totals.rows,
    problems,
    checked_at: check.at,
  };
}
