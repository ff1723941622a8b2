import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { digestTable } from "../../src/backups/digest";
import { introspect } from "../../src/backups/introspect";
import { OBJECT_START, objectStatements, type StatementPosition } from "../../src/backups/object-statements";
import { parseConfig } from "../../src/platform/config";
import { createContext } from "../../src/platform/context";
import { at } from "../archival/support";
import { replacingMethod, slowed } from "../support/bindings";
import { seedContext, seedConversation, seedVideo } from "../support/factories";
import { appTables, backupNow, manifestOf, now, objectSql, restoreWith, statementsOf } from "./support";

async function seedSome(n: number) {
  for (let i = 0; i < n; i++) {
    const video = await seedVideo({ tags: ["t"] });
    await seedContext(video.id, { timestamp: i });
    if (i % 3 === 0) await seedConversation(video.id, { messages: 3 });
  }
}

async function digests(d1: D1Database) {
  const tables = (await introspect(d1)).tables.filter((t) => appTables.includes(t.name));
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t.name, await digestTable(d1, t)] as const)));
}

/** SCRATCH_DB whose n-th batch is written and then reported failed: the commit happened, the caller never hears of it. */
function committingThenFailing(d1: D1Database, failOn: number) {
  let batches = 0;
  return replacingMethod(d1, "batch", (original) => async (...args) => {
    batches++;
    const result = await original(...args);
    if (batches === failOn) throw new Error("the connection dropped after the commit (injected)");
    return result;
  });
}

describe("the restore job", () => {
  it("spreads check, apply and verify over many steps when the budget is small, and ends equal to the source", async () => {
    await seedSome(12);
    const backup = await backupNow();
    const local = await restoreWith(
      backup.id,
      { target: "scratch", force: true },
      {},
      { budget: { queries: 45, r2Calls: 3, wallMs: 25_000 } },
    );
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    expect(local.counts).toMatchObject({ verified: true, max_queries_per_step: expect.any(Number) });
    expect(Number(local.counts?.max_r2_calls_per_step)).toBeLessThanOrEqual(3);
    expect(Number(local.counts?.max_queries_per_step)).toBeLessThanOrEqual(45);
    expect(local.steps.length).toBeGreaterThan(8);
    expect(await digests(env.SCRATCH_DB)).toEqual(await digests(env.DB));
  });

  it("keeps no partial page between steps: a table's last object is closed in the step that checks it", async () => {
    for (const d1 of [env.DB, env.SCRATCH_DB]) await d1.prepare("DROP TABLE IF EXISTS partial_page").run();
    await env.DB.prepare("CREATE TABLE partial_page (id INTEGER PRIMARY KEY, v TEXT)").run();
    // 3,000 rows of 300 bytes: one object whose only page is partial, 900 KB of lines.
    await env.DB.prepare(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO partial_page (v) SELECT printf('%0300d', i) FROM n",
    ).run();
    const backup = await backupNow();
    // Three R2 calls a step: a check step reads the manifest and two objects, the schema's and this table's.
    const local = await restoreWith(
      backup.id,
      { target: "scratch", force: true, tables: ["partial_page"] },
      {},
      { budget: { queries: 45, r2Calls: 3, wallMs: 25_000 } },
    );
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    expect(local.counts?.verified).toBe(true);
    for (const d1 of [env.DB, env.SCRATCH_DB]) await d1.prepare("DROP TABLE IF EXISTS partial_page").run();
  });

  it("a batch that was committed but reported failed is not written twice: the step resumes from the target's own position", async () => {
    await seedSome(4);
    const backup = await backupNow();
    // Batch 1 is the schema, batch 2 the first rows (with the position after them).
    const local = await restoreWith(
      backup.id,
      { target: "scratch", force: true },
      { SCRATCH_DB: committingThenFailing(env.SCRATCH_DB, 2) },
    );
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    expect(local.counts?.verified).toBe(true);
    expect(await digests(env.SCRATCH_DB)).toEqual(await digests(env.DB));
    const leftover = await env.SCRATCH_DB.prepare(
      "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'keeper_restore_position'",
    ).first<{ n: number }>();
    expect(leftover?.n).toBe(0);
  });

  it("is refused (423) while another restore runs, and while a job the matrix names runs — into SCRATCH_DB too", async () => {
    await seedSome(1);
    const backup = await backupNow();
    for (const lease of ["backups.restore", "backups.create"]) {
      await env.DB.prepare("INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES (?, 'elsewhere', ?, ?)")
        .bind(lease, now, now + 3_600_000)
        .run();
      const refused = await at(now, "POST", `/admin/backups/${backup.id}/restore`, { body: { target: "scratch", force: true } });
      expect(refused.status, `while ${lease} is held`).toBe(423);
      await env.DB.prepare("DELETE FROM keeper_leases WHERE holder = 'elsewhere'").run();
    }
    const runs = await env.DB.prepare(
      "SELECT count(*) AS n FROM keeper_job_runs WHERE job = 'backups.restore' AND status = 'running'",
    ).first<{
      n: number;
    }>();
    expect(runs?.n).toBe(0);
  });

  it("an object read from any statement's position gives exactly the statements after it, across frames and multi-byte text", async () => {
    const video = await seedVideo();
    for (let i = 0; i < 60; i++)
      await seedContext(video.id, { timestamp: i, data: { description: `ü界${"é界".repeat(400)}${i}` } });
    const backup = await backupNow();
    const manifest = await manifestOf(backup.id);
    const object = manifest.objects.find((o: { table: string | null }) => o.table === "video_context");
    expect(object.frames.length).toBeGreaterThan(2);
    const ctx = createContext(
      env,
      parseConfig(env as unknown as Record<string, unknown>),
      {},
      {
        requestId: "t",
        principal: { actor: "test", scopes: ["admin"] },
      },
    );
    const etag = ((await env.BACKUPS.head(object.key)) as R2Object).etag;
    const all: { sql: string; next: StatementPosition }[] = [];
    for await (const statement of objectStatements(ctx, object, etag, OBJECT_START)) all.push(statement);
    expect(all.map((s) => s.sql).join("\n")).toBe(
      statementsOf(await objectSql([object]))
        .map((s) => s.replace(/\n$/, ""))
        .join("\n"),
    );
    const midFrame = all.filter((s) => s.next.offset > 0 && s.next.frame > 0);
    expect(midFrame.length).toBeGreaterThan(0);
    for (const [index, statement] of all.entries()) {
      const rest: string[] = [];
      for await (const after of objectStatements(ctx, object, etag, statement.next)) rest.push(after.sql);
      expect(rest, `after statement ${index}`).toEqual(all.slice(index + 1).map((s) => s.sql));
    }
    await env.BACKUPS.put(object.key, "changed");
    await expect(async () => {
      for await (const _ of objectStatements(ctx, object, etag, OBJECT_START));
    }).rejects.toThrow(/changed after it was checked/);
  });
  it("reports the time each phase took, and puts a slow target's time in the phases that write to it", async () => {
    await seedSome(6);
    const backup = await backupNow();
    const delay = 400;
    const local = await restoreWith(
      backup.id,
      { target: "scratch", force: true },
      { SCRATCH_DB: slowed(env.SCRATCH_DB, "batch", delay) },
    );
    expect(local.run?.status, local.run?.error ?? "").toBe("succeeded");
    const counts = local.counts as Record<string, number>;
    for (const phase of ["schema", "data", "tables"]) expect(counts[`${phase}_ms`], phase).toBeGreaterThanOrEqual(delay);
    for (const phase of ["check", "verify"]) expect(counts[`${phase}_ms`], phase).toBeLessThan(delay);
    expect(counts).not.toHaveProperty("safety_ms");
    expect(counts.check_ms + counts.schema_ms + counts.data_ms + counts.tables_ms + counts.verify_ms).toBeLessThanOrEqual(
      counts.step_ms_total,
    );
  });
});
