import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { at, atUntilDone } from "../archival/support";
import { restoreWith } from "../backups/support";
import { seedContext, seedConversation, seedVideo } from "../support/factories";
import { tokens } from "../support/http";

/**
 * A D1 error at every statement position of a purge and of a restore: whatever position fails,
 * the system is left consistent, and running the same operation again finishes the work.
 */

/** Runs `action` right before the `at`-th D1 call (statement or batch) of whoever uses the binding. */
function interleavingD1(d1: D1Database, at: number, action: () => Promise<unknown>): { d1: D1Database; executed: () => number } {
  let executed = 0;
  const before = async () => {
    executed++;
    if (executed === at) await action();
  };
  const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args));
        if (["run", "all", "first", "raw"].includes(String(property))) {
          return async (...args: unknown[]) => {
            await before();
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
  const wrapped = {
    prepare: (sql: string) => wrapStatement(d1.prepare(sql)),
    batch: async (statements: D1PreparedStatement[]) => {
      await before();
      return d1.batch(statements);
    },
    exec: (sql: string) => d1.exec(sql),
    dump: () => d1.dump(),
    withSession: (c?: string) => d1.withSession(c),
  };
  return { d1: wrapped as unknown as D1Database, executed: () => executed };
}

/** A binding whose `failAt`-th statement execution (run/all/first/raw, or a batch) throws. */
function failingD1(d1: D1Database, failAt: number): { d1: D1Database; executed: () => number } {
  return interleavingD1(d1, failAt, async () => {
    throw new Error(`D1_ERROR: injected failure at statement ${failAt}`);
  });
}

const admin = { Authorization: `Bearer ${tokens.admin}`, "Content-Type": "application/json" };
const now = Date.UTC(2031, 4, 4);
const count = async (sql: string, ...params: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...params)
      .first<{ n: number }>()
  )?.n ?? 0;

describe("D1 failure at every statement of a purge", () => {
  it("leaves the video soft-deleted or gone — never half-visible — and a retry finishes", async () => {
    // How many statements does a clean purge execute?
    const probe = await seedVideo({ deletedAt: now - 1 });
    await seedContext(probe.id);
    await seedConversation(probe.id, { messages: 2 });
    let probeD1: ReturnType<typeof failingD1> | undefined;
    const counting = createApp({
      now: () => new Date(now),
      wrapD1: (d1) => {
        probeD1 = failingD1(d1, Number.POSITIVE_INFINITY);
        return probeD1.d1;
      },
    });
    expect(
      (
        await counting.request(
          `/admin/archival/videos/${probe.id}/purge`,
          { method: "POST", headers: admin, body: '{"confirm":true}' },
          env,
        )
      ).status,
    ).toBe(200);
    const total = probeD1?.executed() ?? 0;
    expect(total).toBeGreaterThan(5);

    for (let k = 1; k <= total; k++) {
      const video = await seedVideo({ deletedAt: now - 1 });
      await seedContext(video.id);
      await seedConversation(video.id, { messages: 2 });
      const failing = createApp({ now: () => new Date(now), wrapD1: (d1) => failingD1(d1, k).d1 });
      const res = await failing.request(
        `/admin/archival/videos/${video.id}/purge`,
        { method: "POST", headers: admin, body: '{"confirm":true}' },
        env,
      );
      expect(res.status, `statement ${k}`).toBeGreaterThanOrEqual(200);
      const exists = await count("SELECT count(*) AS n FROM videos WHERE id = ?", video.id);
      if (exists === 1) {
        expect(
          await count("SELECT count(*) AS n FROM videos WHERE id = ? AND deleted_at IS NOT NULL", video.id),
          `statement ${k}`,
        ).toBe(1);
        const retry = await at(now, "POST", `/admin/archival/videos/${video.id}/purge`, { body: { confirm: true } });
        expect(retry.status, `retry after statement ${k}`).toBe(200);
      }
      expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", video.id)).toBe(0);
      expect(await count("SELECT count(*) AS n FROM video_context WHERE video_id = ?", video.id)).toBe(0);
      expect(await count("SELECT count(*) AS n FROM conversations WHERE video_id = ?", video.id)).toBe(0);
      expect(
        await count("SELECT count(*) AS n FROM keeper_audit_log WHERE action = 'archival.purge' AND target = ?", video.id),
      ).toBe(1);
    }
  }, 120_000);
});

describe("a restore at every statement of a purge", () => {
  it("either the restore wins whole (purge 409, every row kept) or the purge does (restore 409, nothing left)", async () => {
    const rowsOf = async (id: string) => ({
      videos: await count("SELECT count(*) AS n FROM videos WHERE id = ?", id),
      context: await count("SELECT count(*) AS n FROM video_context WHERE video_id = ?", id),
      conversations: await count("SELECT count(*) AS n FROM conversations WHERE video_id = ?", id),
      messages: await count(
        "SELECT count(*) AS n FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE video_id = ?)",
        id,
      ),
    });
    const seedFamily = async () => {
      const video = await seedVideo({ deletedAt: now - 1 });
      await seedContext(video.id);
      await seedConversation(video.id, { messages: 2 });
      return video;
    };
    const probe = await seedFamily();
    let counted: ReturnType<typeof interleavingD1> | undefined;
    const counting = createApp({
      now: () => new Date(now),
      wrapD1: (d1) => {
        counted = interleavingD1(d1, Number.POSITIVE_INFINITY, async () => {});
        return counted.d1;
      },
    });
    const purgeBody = { method: "POST", headers: admin, body: '{"confirm":true}' };
    expect((await counting.request(`/admin/archival/videos/${probe.id}/purge`, purgeBody, env)).status).toBe(200);
    const statements = counted?.executed() ?? 0;
    expect(statements).toBeGreaterThan(5);

    for (let k = 1; k <= statements; k++) {
      const video = await seedFamily();
      const seeded = await rowsOf(video.id);
      let restoreStatus = 0;
      const app = createApp({
        now: () => new Date(now),
        wrapD1: (d1) =>
          interleavingD1(d1, k, async () => {
            restoreStatus = (await at(now, "POST", `/admin/archival/videos/${video.id}/restore`)).status;
          }).d1,
      });
      const purgeStatus = (await app.request(`/admin/archival/videos/${video.id}/purge`, purgeBody, env)).status;
      const context = `restore before statement ${k}: restore ${restoreStatus}, purge ${purgeStatus}`;
      if (restoreStatus === 200) {
        expect(purgeStatus, context).toBe(409);
        expect(await rowsOf(video.id), context).toEqual(seeded);
        expect(await count("SELECT count(*) AS n FROM videos WHERE id = ? AND deleted_at IS NULL", video.id), context).toBe(1);
      } else {
        expect(restoreStatus, context).toBe(409);
        expect(purgeStatus, context).toBe(200);
        expect(await rowsOf(video.id), context).toEqual({ videos: 0, context: 0, conversations: 0, messages: 0 });
      }
      expect(
        await count("SELECT count(*) AS n FROM keeper_audit_log WHERE action = 'archival.restore' AND target = ?", video.id),
        context,
      ).toBe(restoreStatus === 200 ? 1 : 0);
    }
  }, 120_000);
});

describe("D1 failure at every statement of a restore", () => {
  it("the restore rides out a failed statement wherever it falls and ends verified, its lease given back", async () => {
    for (let i = 0; i < 5; i++) await seedContext((await seedVideo()).id);
    const id = (await atUntilDone(now, "/admin/backups", { body: {} })).body.run.counts.backup as string;
    for (let k = 1; k <= 12; k++) {
      const faulty = failingD1(env.SCRATCH_DB, k);
      const result = await restoreWith(id, { target: "scratch", force: true }, { SCRATCH_DB: faulty.d1 });
      expect(faulty.executed(), `statement ${k} was reached`).toBeGreaterThanOrEqual(k);
      expect(result.run?.status, `statement ${k}: ${result.run?.error}`).toBe("succeeded");
      expect(result.counts?.verified, `statement ${k}`).toBe(true);
      const lease = await count("SELECT count(*) AS n FROM keeper_leases WHERE name IN ('scratch-db', 'backups.restore')");
      expect(lease, `leases released after statement ${k}`).toBe(0);
    }
  }, 120_000);
});

describe("a backup while retention deletes", () => {
  it("both finish, the backup verifies, and retention removed only what it selected", async () => {
    const t = Date.UTC(2031, 6, 1);
    const due = await seedVideo({ deletedAt: t - 30 * 86_400_000 });
    const live = await seedVideo();
    for (let i = 0; i < 20; i++) await seedContext(live.id, { timestamp: i });
    const [backup, retention] = await Promise.all([
      atUntilDone(t, "/admin/backups", { body: {} }),
      atUntilDone(t, "/admin/archival/apply-policies", { body: { confirm: true, optimize: false } }),
    ]);
    expect(backup.body.run.status).toBe("succeeded");
    expect(retention.body.run.status).toBe("succeeded");
    expect((await at(t, "POST", `/admin/backups/${backup.body.run.counts.backup}/verify`)).body.ok).toBe(true);
    expect(await count("SELECT count(*) AS n FROM videos WHERE id = ?", due.id)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM video_context WHERE video_id = ?", live.id)).toBe(20);
  });
});
