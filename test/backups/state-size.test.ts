import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { backupJobDefinition } from "../../src/backups/backup-job";
import { stagingKey } from "../../src/backups/create.service";
import { budgetProfiles } from "../../src/maintenance/budget";
import { at } from "../archival/support";
import { seedConversation, seedVideo } from "../support/factories";
import { runLocally } from "../support/jobs";
import { now } from "./support";

/**
 * The state a backup hands from step to step is O(tables): frame lengths and page digests, which
 * grow with the data, are staged in R2 as each object completes. At 10 GB they would be megabytes,
 * past the runtime's 512 KiB cap on a step's result.
 */

async function addMessages(conversationId: string, rows: number) {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO messages (conversation_id, role, content, created_at) SELECT ?, 'user', 'a message of some length ' || i, ? FROM n`,
  )
    .bind(rows, conversationId, now)
    .run();
}

/** A few pages per step: each step writes its own objects, so frame lists and digests pile up. */
const budget = { queries: 8, r2Calls: 14, wallMs: 25_000 };

async function backupInSmallSteps(at: number) {
  const local = await runLocally({ definition: backupJobDefinition, input: { requestedAt: at }, now: at, budget });
  expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
  const counts = JSON.parse(local.run?.counts ?? "{}") as { backup: string; steps: number; max_queries_per_step: number };
  return { ...counts, largestState: Math.max(...local.resultBytes) };
}

describe("backup state between steps", () => {
  it("stays the same size when the data triples, and the backup still verifies", async () => {
    const video = await seedVideo();
    const { id: conversation } = await seedConversation(video.id);
    await addMessages(conversation, 20_000);
    const small = await backupInSmallSteps(now + 60_000);
    await addMessages(conversation, 40_000);
    const large = await backupInSmallSteps(now + 120_000);

    // 60,000 messages are 12 pages of 5,000 rows: many steps, none over the budget.
    expect(large.steps).toBeGreaterThan(small.steps);
    expect(large.max_queries_per_step).toBeLessThanOrEqual(budget.queries);
    // Counters gain a digit at most; frames and digests would add kilobytes.
    expect(large.largestState, `${small.largestState} → ${large.largestState} bytes`).toBeLessThanOrEqual(
      small.largestState + 64,
    );
    expect(large.largestState).toBeLessThan(64 * 1024);

    for (const id of [small.backup, large.backup]) {
      const verified = await at(now, "POST", `/admin/backups/${id}/verify`);
      expect(verified.body).toMatchObject({ ok: true, problems: [] });
      expect(await env.BACKUPS.head(stagingKey(id, "objects"))).toBeNull();
    }
    const manifest = (await at(now, "GET", `/admin/backups/${large.backup}`)).body;
    const messages = manifest.tables.find((table: { name: string }) => table.name === "messages");
    expect(messages.rows).toBe(60_000);
    // Written over more than one step: the second step read back what the first had staged.
    expect(manifest.objects.filter((object: { table: string | null }) => object.table === "messages").length).toBeGreaterThan(1);
  }, 120_000);

  it("runs to completion with the free budget under the free plan's limits, and verifies", async () => {
    const video = await seedVideo();
    const { id: conversation } = await seedConversation(video.id);
    await addMessages(conversation, 30_000);
    const requestedAt = now + 180_000;
    const local = await runLocally({
      definition: backupJobDefinition,
      input: { requestedAt },
      now: requestedAt,
      bindings: { ...env, KEEPER_PLATFORM_LIMITS: "free", KEEPER_JOB_BUDGET: "free" } as unknown as Env,
    });
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = JSON.parse(local.run?.counts ?? "{}");
    expect(counts.max_queries_per_step).toBeLessThanOrEqual(budgetProfiles.free.queries);
    expect(counts.max_r2_calls_per_step).toBeLessThanOrEqual(budgetProfiles.free.r2Calls);
    expect((await at(now, "POST", `/admin/backups/${counts.backup}/verify`)).body).toMatchObject({ ok: true, problems: [] });
  }, 60_000);
});
