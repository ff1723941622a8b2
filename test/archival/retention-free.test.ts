import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ARCHIVE_BATCH, ARCHIVE_BATCH_COST, archiveConversationBatch } from "../../src/archival/conversations-archive.service";
import { cleanupOrphanRowsOf } from "../../src/archival/orphans.service";
import { purgeCandidates } from "../../src/archival/policies.service";
import { resolvePolicy } from "../../src/archival/policy";
import { retentionJobDefinition } from "../../src/archival/retention-job";
import { budgetProfiles, countD1Calls } from "../../src/maintenance/budget";
import { stepContext } from "../../src/maintenance/job-runtime";
import type { AppContext } from "../../src/platform/context";
import { seedVideo, uniqueId } from "../support/factories";
import { runLocally } from "../support/jobs";
import { count, DAY, mediaKeys, putMedia } from "./support";

/**
 * The free plan allows 50 D1 queries and 50 R2 calls per invocation; the `free` budget stops a step
 * at 45 of each. Retention must get through every phase in units that fit it.
 */

/** Idle conversations with their messages, in a few batches rather than a query per row. */
async function seedIdleConversations(videoId: string, conversations: number, messagesEach: number, updatedAt: number) {
  const ids: string[] = [];
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < conversations; i++) {
    const id = uniqueId("idle");
    ids.push(id);
    statements.push(
      env.DB.prepare("INSERT INTO conversations (id, video_id, title, created_at, updated_at) VALUES (?, ?, 'old', ?, ?)").bind(
        id,
        videoId,
        updatedAt,
        updatedAt,
      ),
    );
    for (let m = 0; m < messagesEach; m++)
      statements.push(
        env.DB.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'user', ?, ?)").bind(
          id,
          `message ${m} of ${id}`,
          updatedAt,
        ),
      );
  }
  for (let start = 0; start < statements.length; start += 200) await env.DB.batch(statements.slice(start, start + 200));
  return ids;
}

describe("retention on the free plan", () => {
  it("runs every phase to completion within 45 queries and 45 R2 calls per step, under the free plan's limits", async () => {
    // Orphan files must be older than the grace period when the job runs: the job runs two days on.
    const now = Date.now() + 2 * DAY;
    const due: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { id } = await seedVideo({ deletedAt: now - 30 * DAY });
      await putMedia(id, ["source/v.mp4", "frames/000001.jpg"]);
      due.push(id);
    }
    const live = await seedVideo();
    // 250 idle conversations: three archive batches of up to 100, each with its messages.
    const idle = await seedIdleConversations(live.id, 250, 3, now - 60 * DAY);
    const orphans: string[] = [];
    for (let i = 0; i < 30; i++) {
      const id = uniqueId("orphan");
      await putMedia(id, ["source/v.mp4"]);
      orphans.push(id);
    }

    const policy = resolvePolicy(env as unknown as Record<string, unknown>, {});
    const local = await runLocally({
      definition: retentionJobDefinition,
      input: { policy, requestedAt: now },
      now,
      bindings: { ...env, KEEPER_PLATFORM_LIMITS: "free", KEEPER_JOB_BUDGET: "free" } as unknown as Env,
    });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}");
    expect(counts).toMatchObject({ videos_purged: 50, conversations_archived: 250, messages_archived: 750, optimized: true });
    expect(counts.orphan_media).toBe(30);
    expect(counts.max_queries_per_step).toBeLessThanOrEqual(budgetProfiles.free.queries);
    expect(counts.max_r2_calls_per_step).toBeLessThanOrEqual(budgetProfiles.free.r2Calls);
    // 50 videos with files cannot be purged in one free step (two R2 calls each), so it took several.
    expect(counts.steps).toBeGreaterThan(4);

    const inList = "SELECT value FROM json_each(?)";
    expect(await count(`SELECT count(*) AS n FROM videos WHERE id IN (${inList})`, JSON.stringify(due))).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM conversations WHERE id IN (${inList})`, JSON.stringify(idle))).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM messages WHERE conversation_id IN (${inList})`, JSON.stringify(idle))).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM keeper_archived_conversations WHERE conversation_id IN (${inList})`,
        JSON.stringify(idle),
      ),
    ).toBe(250);
    for (const id of [...due.slice(0, 3), ...orphans.slice(0, 3)]) expect(await mediaKeys(id)).toEqual([]);
  }, 120_000);

  it("finds due videos behind many not-yet-due ones of a longer-window category in one query", async () => {
    const now = Date.UTC(2040, 5, 1);
    for (let i = 0; i < 30; i++) await seedVideo({ deletedAt: now - 10 * DAY - i, category: "slowcat" });
    const due = await seedVideo({ deletedAt: now - 9 * DAY });
    const policy = resolvePolicy(env as unknown as Record<string, unknown>, {
      deleteDays: 7,
      categories: { slowcat: { deleteDays: 60 } },
    });
    let queries = 0;
    const ctx = { d1: countD1Calls(env.DB, () => queries++), now: () => new Date(now) } as unknown as AppContext;
    const found = await purgeCandidates(ctx, policy, 5);
    expect(found.map((video) => video.id)).toContain(due.id);
    expect(found.every((video) => video.category !== "slowcat")).toBe(true);
    expect(queries).toBe(1);
  });

  it("deletes orphan rows in as many 90-row batches as it is allowed, and says how many are left", async () => {
    // D1 enforces foreign keys on every write, so orphans cannot be made here: a database that
    // reports 300 of them and records the deletes stands in.
    const batches: unknown[][] = [];
    const statement = (sql: string) => ({
      sql,
      bind: (...values: unknown[]) => ({ sql, values }),
      all: async () => ({ results: Array.from({ length: 300 }, (_, i) => ({ rowid: i + 1 })) }),
    });
    const d1 = { prepare: statement, batch: async (statements: unknown[]) => batches.push(statements) };
    const ctx = { d1, now: () => new Date(0), principal: { actor: "test" } } as unknown as AppContext;
    const result = await cleanupOrphanRowsOf(ctx, { table: "messages", dryRun: false, maxDeletes: 2 });
    expect(result).toEqual({ found: 300, deleted: 180, left: 120 });
    expect(batches).toHaveLength(2);
    const [deleteOf] = batches[1] as { sql: string; values: number[] }[];
    expect(deleteOf.sql).toContain('DELETE FROM "messages"');
    expect(deleteOf.values).toEqual(Array.from({ length: 90 }, (_, i) => 91 + i));
  });

  it("an archive batch of 100 conversations costs 3 queries and 3 R2 calls, however many messages they hold", async () => {
    const now = Date.UTC(2041, 0, 1);
    const live = await seedVideo();
    await seedIdleConversations(live.id, ARCHIVE_BATCH, 5, now - 400 * DAY);
    const { ctx } = stepContext(env, {}, { actor: "test", requestId: "archive-cost", nowOffsetMs: now - Date.now() });
    const result = await archiveConversationBatch(ctx, { cutoff: now - 300 * DAY, runId: crypto.randomUUID(), batch: 0 });
    expect(result).toMatchObject({ archived: ARCHIVE_BATCH, messages: ARCHIVE_BATCH * 5 });
    const { queries, r2Calls } = ctx.meter.reading();
    expect({ queries, r2Calls }).toEqual(ARCHIVE_BATCH_COST);
  });
});
