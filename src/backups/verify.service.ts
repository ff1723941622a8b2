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

/**
 * Page digests of one table as its pages come, in order. Where the backup recorded each data
 * object's `pages_sha256`, pages are checked object by object and let go, so what is kept between
 * steps stays O(pages of one object) whatever the table's size; an older backup's table is checked
 * against its digest at the end.
 */
export interface PageTally {
  rows: number;
  /** Digests of the pages not yet checked: since the current object began (or since the table's start). */
  pageDigests: string[];
  /** Pages already checked and let go. */
  pages?: number;
  /** Index of the current object among the table's data objects. */
  object?: number;
  /** Rows of the current object seen so far. */
  objectRows?: number;
}

/** What the objects of one table have said so far: a PageTally and the rows of the page not yet full. */
export interface TableTally extends PageTally {
  lines: string[];
}

export const emptyTally = (): TableTally => ({ rows: 0, lines: [], pageDigests: [], pages: 0, object: 0, objectRows: 0 });

/** A table's data objects, in order. */
export const dataObjectsOf = (manifest: Manifest, table: string) =>
  manifest.objects.filter((object) => object.kind === "data" && object.table === table);

const checkedByObject = (objects: ManifestObject[]) =>
  objects.length > 0 && objects.every((object) => object.pages_sha256 !== undefined);

/** The index of the next page of the table: what pageLimit is asked for. */
export const nextPageIndex = (tally: PageTally) => (tally.pages ?? 0) + tally.pageDigests.length;

/** Adds a page's digest; when it completes an object whose pages were recorded, checks them. Returns a problem or null. */
export function tallyPage(tally: PageTally, digest: string, rows: number, objects: ManifestObject[]): string | null {
  tally.pageDigests.push(digest);
  if (!checkedByObject(objects)) return null;
  tally.objectRows = (tally.objectRows ?? 0) + rows;
  const object = objects[tally.object ?? 0];
  if (object === undefined) return `table ${objects[0].table}: more rows than its objects hold`;
  if (tally.objectRows < object.rows) return null;
  const matches = tally.objectRows === object.rows && tableDigest(tally.pageDigests) === object.pages_sha256;
  tally.pages = nextPageIndex(tally);
  tally.pageDigests = [];
  tally.object = (tally.object ?? 0) + 1;
  tally.objectRows = 0;
  return matches ? null : `${object.key}: the values do not match the digest of its pages`;
}

/** A table's tally once all its pages are in, against the manifest's rows and digests. */
export function tallyProblems(table: ManifestTable, tally: PageTally, objects: ManifestObject[]): string[] {
  if (tally.rows !== table.rows)
    return [`table ${table.name}: ${tally.rows} rows in its objects, the manifest says ${table.rows}`];
  const matches = checkedByObject(objects)
    ? tally.object === objects.length && tally.pageDigests.length === 0
    : tableDigest(tally.pageDigests) === table.sha256;
  return matches ? [] : [`table ${table.name}: the values in its objects do not match the manifest's digest`];
}

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
  const objects = object.kind === "data" && object.table !== null ? dataObjectsOf(manifest, object.table) : [];
  const problems: string[] = [];
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
        if (tally.lines.length === pageLimit(pageRows, nextPageIndex(tally))) {
          const problem = tallyPage(tally, pageDigest(tally.lines), tally.lines.length, objects);
          if (problem) problems.push(problem);
          tally.lines = [];
        }
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { problems: [message.includes(object.key) ? message : `${object.key}: ${message}`], etag: null };
  }
  if (object.kind === "data" && rows !== object.rows)
    problems.push(`${object.key}: ${rows} rows, the manifest says ${object.rows}`);
  if (object.kind === "sequence" && text.join("") !== sequenceSql(manifest.tables))
    problems.push(`${object.key}: does not hold the manifest's sqlite_sequence values`);
  return { problems, etag };
}

/** A table's tally, once all its objects are read (its last, partial page then ends), against the manifest. */
export function tableProblems(manifest: Manifest, table: ManifestTable, tally: TableTally): string[] {
  const objects = dataObjectsOf(manifest, table.name);
  const problems: string[] = [];
  if (tally.lines.length > 0) {
    const problem = tallyPage(tally, pageDigest(tally.lines), tally.lines.length, objects);
    if (problem) problems.push(problem);
    tally.lines = [];
  }
  return [...problems, ...tallyProblems(table, tally, objects)];
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
  for (const table of selected) problems.push(...tableProblems(manifest, table, tallies.get(table.name) as TableTally));
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
