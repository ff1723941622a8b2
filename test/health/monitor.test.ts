import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/client";
import { memory, videos } from "../../src/db/schema";
import { queryMonitor } from "../../src/health/install";
import { monitorD1, QueryRecorder } from "../../src/health/monitor";
import { parseConfig } from "../../src/platform/config";
import { seedVideo } from "../support/factories";

const HEAVY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) SELECT count(*) AS n FROM c";

async function seedMemories(videoId: string, count: number) {
  await env.DB.batch(
    Array.from({ length: count }, (_, i) =>
      env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, ?, 'm', 1)").bind(videoId, i),
    ),
  );
}

describe("query monitor: every statement, as the API runs it", () => {
  it("sees rows read by Drizzle selects, and flags a wide scan", async () => {
    const video = await seedVideo();
    await seedMemories(video.id, 1500);
    const recorder = new QueryRecorder(60_000);
    const db = openDatabase(monitorD1(env.DB, recorder));
    // Twice: the data API runs the same statements over and over, and so does this.
    for (let i = 0; i < 2; i++) {
      const found = await db
        .select({ id: memory.id, content: memory.content })
        .from(memory)
        .where(eq(memory.content, "never"))
        .limit(1);
      expect(found).toEqual([]);
      const some = await db
        .select({ content: memory.content, videoId: memory.videoId })
        .from(memory)
        .where(eq(memory.videoId, video.id))
        .limit(2);
      expect(some).toEqual([
        { content: "m", videoId: video.id },
        { content: "m", videoId: video.id },
      ]);
    }
    const scan = [...recorder.stats.values()].find((a) => a.statement.includes('where "memory"."content" = ?'));
    expect(scan?.calls).toBe(2);
    expect(scan?.rowsRead).toBeGreaterThanOrEqual(1500);
    expect(recorder.slow.some((entry) => entry.reason === "wide" && entry.statement.includes('"memory"."content" = ?'))).toBe(
      true,
    );
  });

  it("returns the right rows for a join whose columns share names", async () => {
    const video = await seedVideo();
    await seedMemories(video.id, 2);
    const db = openDatabase(monitorD1(env.DB, new QueryRecorder(60_000)));
    for (let i = 0; i < 2; i++) {
      const rows = await db
        .select({ videoId: videos.id, memoryId: memory.id, createdAt: videos.createdAt })
        .from(videos)
        .innerJoin(memory, eq(memory.videoId, videos.id))
        .where(eq(videos.id, video.id))
        .orderBy(memory.id);
      expect(rows).toHaveLength(2);
      expect(rows.every((row) => row.videoId === video.id && typeof row.memoryId === "number")).toBe(true);
      expect(rows[0].memoryId).toBeLessThan(rows[1].memoryId);
    }
  });

  it("returns every column of a SELECT * after a migration added one", async () => {
    await env.DB.exec(
      "CREATE TABLE monitor_relearn (id integer PRIMARY KEY, a text); INSERT INTO monitor_relearn VALUES (1, 'x');",
    );
    const monitored = monitorD1(env.DB, new QueryRecorder(60_000));
    const select = () => monitored.prepare("SELECT * FROM monitor_relearn").raw({ columnNames: true });
    expect(await select()).toEqual([
      ["id", "a"],
      [1, "x"],
    ]);
    expect(await select()).toEqual([
      ["id", "a"],
      [1, "x"],
    ]);
    await env.DB.exec("ALTER TABLE monitor_relearn ADD COLUMN b text DEFAULT 'y'");
    expect(await select()).toEqual([
      ["id", "a", "b"],
      [1, "x", "y"],
    ]);
    expect(await select()).toEqual([
      ["id", "a", "b"],
      [1, "x", "y"],
    ]);
    await env.DB.exec("DROP TABLE monitor_relearn");
  });

  it("times each statement of a batch on its own", async () => {
    const recorder = new QueryRecorder(50);
    const monitored = monitorD1(env.DB, recorder);
    await monitored.batch([monitored.prepare(HEAVY), ...Array.from({ length: 9 }, () => monitored.prepare("SELECT 1 AS one"))]);
    const heavy = [...recorder.stats.values()].find((a) => a.statement.startsWith("WITH RECURSIVE"));
    const quick = [...recorder.stats.values()].find((a) => a.statement === "SELECT ? AS one");
    expect(heavy?.slowCalls).toBe(1);
    expect(quick?.calls).toBe(9);
    expect(quick?.slowCalls).toBe(0);
    expect(recorder.slow.map((entry) => entry.statement)).toEqual([expect.stringMatching(/^WITH RECURSIVE/)]);
  });

  it("stamps a slow entry and its statistics with when the statement ran", async () => {
    const ranAt = Date.UTC(2040, 0, 1, 3, 10);
    const recorder = new QueryRecorder(1, () => ranAt);
    await monitorD1(env.DB, recorder).prepare(HEAVY).first();
    await env.DB.batch(recorder.statements(env.DB));
    const slow = await env.DB.prepare("SELECT at FROM keeper_query_slow WHERE statement LIKE 'WITH RECURSIVE%' AND at = ?")
      .bind(ranAt)
      .all();
    expect(slow.results).toHaveLength(1);
    const stats = await env.DB.prepare("SELECT hour FROM keeper_query_stats WHERE statement LIKE 'WITH RECURSIVE%' AND hour = ?")
      .bind(Date.UTC(2040, 0, 1, 3))
      .all();
    expect(stats.results).toHaveLength(1);
  });

  it("writes a slow entry with the request that ran it, however long the flush interval", async () => {
    const config = parseConfig({ ...(env as unknown as Record<string, unknown>), QUERY_MONITOR_FLUSH_SECONDS: "3600" });
    const at = Date.UTC(2041, 5, 1, 12);
    const request = (now: number) =>
      queryMonitor(env.DB, { env, config: { ...config, SLOW_QUERY_MS: 1 }, now: () => new Date(now) });
    const first = request(at);
    await first.d1.prepare("SELECT 1").first();
    await first.flush();
    const second = request(at + 1000);
    await second.d1.prepare(HEAVY).first();
    await second.flush();
    const written = await env.DB.prepare("SELECT at FROM keeper_query_slow WHERE statement LIKE 'WITH RECURSIVE%' AND at = ?")
      .bind(at + 1000)
      .all();
    expect(written.results).toHaveLength(1);
  });
});
