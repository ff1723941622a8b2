import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { recordBackupCheck } from "./backup-checks.service";
import { readObjectLines, requireManifest } from "./catalog.service";
import { pageDigest, pageLimit, tableDigest } from "./digest";
import { DumpReader } from "./dump-reader";
import { MANIFEST_FORMAT, type Manifest, type ManifestObject, type ManifestTable, sequenceSql } from "./manifest";

/** Backups of an earlier format have digests of their SQL text, which nothing here can check. */
export function requireCurrentFormat(manifest: Manifest): void {
  if (manifest.format !== MANIFEST_FORMAT)
    throw new KeeperError(
      "UNPROCESSABLE",
      `Backup ${manifest.id} has format ${manifest.format}; this keeper checks ${MANIFEST_FORMAT} (take a new backup)`,
    );
}

/** What the objects of one table have said so far: rows, the digests of its full pages, the rows of the page not yet full. */
export interface TableTally {
  rows: number;
  lines: string[];
  pageDigests: string[];
}

export const emptyTally = (): TableTally => ({ rows: 0, lines: [], pageDigests: [] });

/**
 * Checks one object in a single pass over its bytes: sha256 and frame layout (as it is read),
 * every frame decompresses, and each row parses back into exact literals, tallied into its table's
 * page digests. Returns the problems found and the etag of the object that was read (so a later
 * reader can insist on that very object).
 */
export async function checkObject(
  ctx: AppContext,
  manifest: Manifest,
  object: ManifestObject,
  tally: TableTally | null,
): Promise<{ problems: string[]; etag: string | null }> {
  let etag: string | null = null;
  let rows = 0;
  const text: string[] = [];
  const pageRows = manifest.tables.find((table) => table.name === object.table)?.page_rows;
  try {
    const reader = new DumpReader();
    for await (const lines of readObjectLines(ctx, object, (stored) => {
      etag = stored.etag;
    })) {
      if (object.kind !== "data") {
        text.push(...lines.map((line) => `${line}\n`));
        continue;
      }
      for (const line of lines) {
        const row = reader.push(line);
        if (!row) continue;
        if (row.table !== object.table) throw new Error(`a row of ${row.table} in the object of ${object.table}`);
        rows++;
        if (!tally) continue;
        tally.rows++;
        tally.lines.push(row.line);
        if (tally.lines.length === pageLimit(pageRows, tally.pageDigests.length)) {
          tally.pageDigests.push(pageDigest(tally.lines));
          tally.lines = [];
        }
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { problems: [message.includes(object.key) ? message : `${object.key}: ${message}`], etag: null };
  }
  const problems: string[] = [];
  if (object.kind === "data" && rows !== object.rows)
    problems.push(`${object.key}: ${rows} rows, the manifest says ${object.rows}`);
  if (object.kind === "sequence" && text.join("") !== sequenceSql(manifest.tables))
    problems.push(`${object.key}: does not hold the manifest's sqlite_sequence values`);
  return { problems, etag };
}

/** A table's tally, once all its objects are read, against the manifest's rows and digest. */
export function tableProblems(table: ManifestTable, tally: TableTally): string[] {
  if (tally.lines.length > 0) {
    tally.pageDigests.push(pageDigest(tally.lines));
    tally.lines = [];
  }
  if (tally.rows !== table.rows)
    return [`table ${table.name}: ${tally.rows} rows in its objects, the manifest says ${table.rows}`];
  if (tableDigest(tally.pageDigests) !== table.sha256)
    return [`table ${table.name}: the values in its objects do not match the manifest's digest`];
  return [];
}

/**
 * Checks a backup (or the objects of some of its tables) without touching any database: every
 * object (checkObject), then every table's rows and digest against the manifest. Problems are
 * reported, not thrown, so one bad object does not hide the others.
 */
export async function checkBackup(ctx: AppContext, manifest: Manifest, tables?: Set<string>): Promise<string[]> {
  requireCurrentFormat(manifest);
  const problems: string[] = [];
  const selected = manifest.tables.filter((table) => !tables || tables.has(table.name));
  const tallies = new Map<string, TableTally>(selected.map((table) => [table.name, emptyTally()]));
  for (const object of manifest.objects) {
    if (object.table && !tallies.has(object.table)) continue;
    const checked = await checkObject(ctx, manifest, object, object.table ? (tallies.get(object.table) ?? null) : null);
    problems.push(...checked.problems);
  }
  for (const table of selected) problems.push(...tableProblems(table, tallies.get(table.name) as TableTally));
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
