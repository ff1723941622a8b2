import { NonRetryableError } from "cloudflare:workflows";
import { createHash } from "node:crypto";
import type { JobDefinition, JobSlice } from "../maintenance/job-runtime";
import type { RunCounts } from "../maintenance/runs";
import { recordAudit } from "../platform/audit";
import { advanceBackup, BACKUP_JOB, type BackupCursor, PAGE_COST, startBackup } from "./create.service";

/**
 * A backup as a long job: `begin` fixes the backup's id, schema and bookmark; each `advance` writes
 * as many pages as the step's budget holds (one query per page, a few R2 calls per object) and
 * carries the cursor to the next step as the Workflow's state — no cursor in D1. The schema is
 * fingerprinted at the start and checked at every step: a migration applied between two steps
 * would make the rest of the dump disagree with its first part, so the backup fails clearly and
 * the next one starts afresh.
 */

export interface BackupJobInput {
  /** When the backup was asked for (the backup id carries this time). */
  requestedAt: number;
}

export interface BackupJobState {
  cursor: BackupCursor;
  schemaFingerprint: string;
  result: RunCounts | null;
}

/** sha256 of every table's and index's CREATE statement: any migration changes it. */
export async function schemaFingerprint(d1: D1Database): Promise<string> {
  const rows = await d1
    .prepare(
      `SELECT type, name, sql FROM sqlite_schema
       WHERE type IN ('table', 'index', 'view', 'trigger') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'
       ORDER BY type, name`,
    )
    .raw<[string, string, string | null]>();
  return createHash("sha256").update(JSON.stringify(rows)).digest("hex");
}

function sliceOf(state: BackupJobState): JobSlice<BackupJobState> {
  const table = state.cursor.tables[state.cursor.tableIndex];
  return {
    state,
    done: state.result !== null,
    progress: {
      done: state.cursor.tableIndex,
      total: state.cursor.tables.length,
      unit: "tables",
      phase: state.result ? `backup ${state.cursor.id} written` : `backup ${state.cursor.id}: ${table?.name ?? "indexes"}`,
    },
  };
}

export const backupJobDefinition: JobDefinition<BackupJobInput, BackupJobState> = {
  kind: "backup",
  job: BACKUP_JOB,
  async begin({ ctx, input }) {
    const cursor = await startBackup({ ...ctx, now: () => new Date(input.requestedAt) });
    cursor.invocations = 0;
    return sliceOf({ cursor, schemaFingerprint: await schemaFingerprint(ctx.d1), result: null });
  },
  async advance({ ctx, state }) {
    const found = await schemaFingerprint(ctx.d1);
    if (found !== state.schemaFingerprint)
      throw new NonRetryableError(
        `the schema changed while backup ${state.cursor.id} was being written (a migration between two of its steps); this backup is abandoned, the next one starts afresh`,
      );
    state.cursor.invocations++;
    const manifest = await advanceBackup(
      ctx,
      state.cursor,
      (cost = PAGE_COST) => !ctx.meter.hasRoom(cost),
      async () => {},
    );
    if (manifest) {
      await recordAudit(ctx, {
        action: "backups.create",
        target: manifest.id,
        detail: { rows: manifest.totals.rows, bytes: manifest.totals.bytes },
      });
      state.result = {
        backup: manifest.id,
        tables: manifest.tables.length,
        rows: manifest.totals.rows,
        bytes: manifest.totals.bytes,
        sql_bytes: manifest.totals.sql_bytes,
        duration_ms: manifest.duration_ms,
      };
    }
    return sliceOf(state);
  },
  async finish({ state }) {
    return state.result ?? { backup: state.cursor.id };
  },
};
