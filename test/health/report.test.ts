import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { seedJobRun, seedSlowQueries } from "../support/factories";
import { tokens } from "../support/http";

/**
 * A D1 binding that counts round trips: each first/all/run/raw of a statement and each batch is one.
 */
function countingD1(d1: D1Database) {
  const counter = { roundTrips: 0 };
  class CountedStatement {
    readonly inner: D1PreparedStatement;
    constructor(inner: D1PreparedStatement) {
      this.inner = inner;
    }
    bind(...values: unknown[]) {
      return new CountedStatement(this.inner.bind(...values));
    }
    first(column?: string) {
      counter.roundTrips++;
      return column === undefined ? this.inner.first() : this.inner.first(column);
    }
    all() {
      counter.roundTrips++;
      return this.inner.all();
    }
    run() {
      counter.roundTrips++;
      return this.inner.run();
    }
    raw(options?: { columnNames?: boolean }) {
      counter.roundTrips++;
      return options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw();
    }
  }
  const binding = {
    prepare: (sql: string) => new CountedStatement(d1.prepare(sql)),
    batch: (statements: unknown[]) => {
      counter.roundTrips++;
      return d1.batch(statements.map((s) => (s instanceof CountedStatement ? s.inner : (s as D1PreparedStatement))));
    },
    exec: (query: string) => {
      counter.roundTrips++;
      return d1.exec(query);
    },
  };
  return { binding: binding as unknown as D1Database, counter };
}

const HOUR = 3_600_000;

describe("health report", () => {
  it("answers in at most 5 D1 round trips and says what the seeded state implies", async () => {
    // Far past every other test's rows, so the windows see only what this test seeds.
    const now = Date.UTC(2101, 0, 10);
    await env.DB.batch(
      [now - 48 * HOUR, now - 2 * HOUR].map((at, i) =>
        env.DB.prepare(
          `INSERT INTO keeper_health_snapshots (at, size_bytes, row_counts, quick_check, foreign_key_violations) VALUES (?, ?, '{"videos":3}', '["ok"]', '{"memory":2}')`,
        ).bind(at, 1_000_000 + i * 200_000),
      ),
    );
    await seedSlowQueries(now - HOUR, 12);
    await seedJobRun({ job: "backups.create", status: "succeeded", startedAt: now - 4 * HOUR, finishedAt: now - 3 * HOUR });
    await seedJobRun({ job: "backups.create", status: "failed", startedAt: now - 2 * HOUR, finishedAt: now - 2 * HOUR });
    await seedJobRun({ job: "archival.purge", status: "failed", startedAt: now - 30 * HOUR, finishedAt: now - 30 * HOUR });

    const { binding, counter } = countingD1(env.DB);
    const app = createApp({ now: () => new Date(now), wrapD1: () => binding });
    const response = await app.request("/admin/health", { headers: { Authorization: `Bearer ${tokens.read}` } }, env);
    expect(response.status).toBe(200);
    expect(counter.roundTrips).toBeLessThanOrEqual(5);

    const report = await response.json<{
      facts: Record<string, unknown>;
      checks: { name: string; penalty: number }[];
      snapshot: { at: string } | null;
      size: { row_counts: Record<string, number> | null };
      growth: { bytes_per_day_last_week: number | null };
    }>();
    expect(report.facts).toMatchObject({
      integrityOk: true,
      foreignKeysOn: true,
      orphanedMemory: 2,
      orphanedContext: 0,
      slowQueries24h: 12,
      lastGoodBackupAgeHours: 3,
      failedRuns24h: 1,
      hotQueryFullScans: 0,
    });
    expect(report.snapshot?.at).toBe(new Date(now - 2 * HOUR).toISOString());
    expect(report.size.row_counts).toEqual({ videos: 3 });
    expect(report.growth.bytes_per_day_last_week).toBeCloseTo((200_000 / 46) * 24, 3);
    expect(report.checks.find((check) => check.name === "slow_queries")?.penalty).toBe(10);
  });

  it("lists every index with its columns and each hot query's plan", async () => {
    const { binding, counter } = countingD1(env.DB);
    const app = createApp({ wrapD1: () => binding });
    const response = await app.request("/admin/health/indexes", { headers: { Authorization: `Bearer ${tokens.read}` } }, env);
    const body = await response.json<{
      indexes: { name: string; table: string; columns: string[]; used_by_hot_queries: boolean }[];
      hot_queries: { name: string; plan: string[] }[];
    }>();
    expect(body.indexes.find((index) => index.name === "idx_memory_video_timestamp")).toMatchObject({
      table: "memory",
      columns: ["video_id", "timestamp"],
    });
    expect(body.hot_queries.length).toBeGreaterThan(0);
    expect(body.hot_queries.every((query) => query.plan.length > 0)).toBe(true);
    expect(counter.roundTrips).toBe(1);
  });
});
