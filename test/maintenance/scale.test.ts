import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resolvePolicy } from "../../src/archival/policy";
import { retentionJobDefinition } from "../../src/archival/retention-job";
import { backupJobDefinition } from "../../src/backups/backup-job";
import { digestTable } from "../../src/backups/digest";
import { at, count, putMedia } from "../archival/support";
import { backupNow, restoreWith } from "../backups/support";
import { seedVideo, uniqueId } from "../support/factories";
import { runLocally } from "../support/jobs";

async function columnsOf(table: string) {
  const { results } = await env.DB.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid")
    .bind(table)
    .all<{ name: string }>();
  return results.map((column) => column.name);
}

/**
 * Jobs driven through many steps: the budget is lowered so that a dataset a test can hold needs
 * many steps, as a large database does at the production budget (a 10 GB database is ~20M rows;
 * 900 queries a step; here ~200k rows and a handful of queries a step). Every step runs under
 * production's per-invocation limits (KEEPER_PLATFORM_LIMITS=paid), and the runs report the most
 * queries and R2 calls any one step used.
 */
const DAY = 86_400_000;

interface StepCounts {
  steps: number;
  queries_total: number;
  r2_calls_total: number;
  max_queries_per_step: number;
  max_r2_calls_per_step: number;
  [key: string]: unknown;
}

/** `rows` messages in one conversation, inserted by SQLite itself (a test cannot afford a query per row). */
async function seedMessages(rows: number) {
  const video = await seedVideo();
  const conversation = uniqueId("scale");
  await env.DB.prepare("INSERT INTO conversations (id, video_id, title, created_at, updated_at) VALUES (?, ?, 'scale', 0, ?)")
    .bind(conversation, video.id, Date.now())
    .run();
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO messages (conversation_id, role, content, metadata, created_at)
     SELECT ?, CASE i % 2 WHEN 0 THEN 'user' ELSE 'assistant' END, 'what happens at this point, and who is speaking? ' || i,
       CASE i % 7 WHEN 0 THEN json_object('n', i) ELSE NULL END, i FROM n`,
  )
    .bind(rows, conversation)
    .run();
}

describe("long jobs through many steps (budget lowered)", () => {
  it("backup writes 200,000 rows over many steps, none above its budget, equal to the database", async () => {
    await seedMessages(200_000);
    // Begin reads the schema in 8 queries; then 7 pages of 5,000 rows fit a step.
    const budget = { queries: 8, r2Calls: 16, wallMs: 25_000 };
    const requestedAt = Date.UTC(2050, 0, 1);
    const local = await runLocally({ definition: backupJobDefinition, input: { requestedAt }, now: requestedAt, budget });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}") as StepCounts & { backup: string };
    // 40 pages of messages at 7 a step, and the other tables.
    expect(counts.steps).toBeGreaterThanOrEqual(8);
    expect(counts.max_queries_per_step).toBeLessThanOrEqual(budget.queries);
    expect(counts.max_r2_calls_per_step).toBeLessThanOrEqual(budget.r2Calls);
    // The run's totals (what bench:scale projects from): a query per page of 5,000 rows at least.
    expect(counts.queries_total).toBeGreaterThanOrEqual(40);
    expect(counts.queries_total).toBeLessThanOrEqual(counts.steps * budget.queries);
    expect(counts.r2_calls_total).toBeGreaterThan(0);

    // Equal to the live database: every table's digest as the backup recorded it (but the run
    // record and audit log, which the job itself writes to).
    const manifest = (await at(requestedAt, "GET", `/admin/backups/${counts.backup}`)).body;
    for (const table of manifest.tables as {
      name: string;
      rows: number;
      sha256: string;
      columns: string[];
      rowid_alias: string | null;
      page_rows?: number[];
    }[]) {
      if (table.name === "keeper_job_runs" || table.name === "keeper_audit_log") continue;
      const live = await digestTable(
        env.DB,
        { name: table.name, columns: table.columns, rowidAlias: table.rowid_alias },
        table.page_rows,
      );
      expect({ table: table.name, ...live }).toEqual({ table: table.name, rows: table.rows, sha256: table.sha256 });
    }
    expect(manifest.tables.find((table: { name: string }) => table.name === "messages").rows).toBe(200_000);
    const verified = await at(requestedAt, "POST", `/admin/backups/${counts.backup}/verify`);
    expect(verified.body).toMatchObject({ ok: true, problems: [] });
  }, 60_000);

  it("restore applies 200,000 rows over many steps, none above its budget, equal to the source", async () => {
    await seedMessages(200_000);
    const backup = await backupNow();
    // Check, apply (2 MB batches) and verify (a page of 5,000 rows a query) at a few calls a step; the
    // plan reads two queries per table in one unit, so 20 is about the least that holds it.
    const budget = { queries: 20, r2Calls: 6, wallMs: 25_000 };
    const local = await restoreWith(backup.id, { target: "scratch", force: true }, {}, { budget });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = local.counts as unknown as StepCounts & { verified: boolean; rows: number };
    expect(counts.verified).toBe(true);
    expect(counts.steps).toBeGreaterThanOrEqual(15);
    expect(counts.max_queries_per_step).toBeLessThanOrEqual(budget.queries);
    expect(counts.max_r2_calls_per_step).toBeLessThanOrEqual(budget.r2Calls);
    for (const table of ["videos", "conversations", "messages"]) {
      const source = await digestTable(env.DB, { name: table, columns: await columnsOf(table), rowidAlias: null });
      const restored = await digestTable(env.SCRATCH_DB, { name: table, columns: await columnsOf(table), rowidAlias: null });
      expect({ table, ...restored }).toEqual({ table, ...source });
    }
    // Tests in this file share one database: the source holds these 200,000 messages at least.
    const count = async (d1: D1Database) => (await d1.prepare("SELECT count(*) AS n FROM messages").first<{ n: number }>())?.n;
    expect(await count(env.SCRATCH_DB)).toBe(await count(env.DB));
    expect(await count(env.SCRATCH_DB)).toBeGreaterThanOrEqual(200_000);
  }, 90_000);

  it("retention purges, archives and cleans up over many steps, none above its budget", async () => {
    const now = Date.now() + 2 * DAY;
    const due: string[] = [];
    for (let i = 0; i < 120; i++) {
      const { id } = await seedVideo({ deletedAt: now - 30 * DAY });
      if (i % 4 === 0) await putMedia(id, ["source/v.mp4"]);
      due.push(id);
    }
    const live = await seedVideo();
    // 1,000 idle conversations of 3 messages each: ten archive batches.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
       INSERT INTO conversations (id, video_id, title, created_at, updated_at) SELECT 'idle-' || i, ?, 'old', ?, ? FROM n`,
    )
      .bind(live.id, now - 60 * DAY, now - 60 * DAY)
      .run();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2999)
       INSERT INTO messages (conversation_id, role, content, created_at) SELECT 'idle-' || (i / 3 + 1), 'user', 'old ' || i, ? FROM n`,
    )
      .bind(now - 60 * DAY)
      .run();
    for (let i = 0; i < 20; i++) await putMedia(uniqueId("orphan"), ["source/v.mp4"]);

    const policy = resolvePolicy(env as unknown as Record<string, unknown>, {});
    // A purge set or two archive batches per step; purge sets of five videos (two R2 calls each).
    const budget = { queries: 6, r2Calls: 12, wallMs: 25_000 };
    const local = await runLocally({ definition: retentionJobDefinition, input: { policy, requestedAt: now }, now, budget });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}") as StepCounts;
    expect(counts).toMatchObject({ videos_purged: 120, conversations_archived: 1000, messages_archived: 3000, orphan_media: 20 });
    expect(counts.steps).toBeGreaterThanOrEqual(20);
    expect(counts.max_queries_per_step).toBeLessThanOrEqual(budget.queries);
    expect(counts.max_r2_calls_per_step).toBeLessThanOrEqual(budget.r2Calls);
    expect(
      await count("SELECT count(*) AS n FROM videos WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(due)),
    ).toBe(0);
    expect(await count("SELECT count(*) AS n FROM conversations WHERE id LIKE 'idle-%'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM messages WHERE conversation_id LIKE 'idle-%'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM keeper_archived_conversations WHERE conversation_id LIKE 'idle-%'")).toBe(1000);
  }, 60_000);
});
