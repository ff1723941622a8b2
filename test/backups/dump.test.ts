import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { zstdDecompressSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { openDump } from "../../src/backups/download.service";
import { resetDatabase } from "../../src/migrations/scratch-schema";
import { at } from "../archival/support";
import { contextOn } from "../migrations/support";
import { seedContext, seedConversation, seedVideo } from "../support/factories";
import { appTables, backupNow, exactRows, now, restore, statementsOf } from "./support";

/** The SQL of a download, decompressed frame by frame as `zstd -d` would. */
async function downloadSql(id: string, dataOnly: boolean) {
  const dump = await openDump({ ctx: contextOn(env.DB), input: { id, dataOnly } });
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  let sql = "";
  for await (const part of dump.parts) {
    const bytes = part.bytes instanceof Uint8Array ? part.bytes : new Uint8Array(await new Response(part.bytes).arrayBuffer());
    let offset = 0;
    for (const length of part.frames) {
      sql += decoder.decode(zstdDecompressSync(bytes.subarray(offset, offset + length)), { stream: true });
      offset += length;
    }
  }
  return sql + decoder.decode();
}

const sequences = async (d1: D1Database) =>
  (
    await d1
      .prepare("SELECT name, seq FROM sqlite_sequence WHERE name IN ('memory', 'video_context', 'messages') ORDER BY name")
      .all()
  ).results;

describe("dumps", () => {
  it("sqlite_sequence is restored, so AUTOINCREMENT ids are not handed out again", async () => {
    const video = await seedVideo();
    for (let i = 0; i < 3; i++) await seedContext(video.id);
    await env.DB.prepare("DELETE FROM video_context WHERE id = (SELECT max(id) FROM video_context)").run();
    const backup = await backupNow();
    const restored = await restore(backup.id, { target: "scratch", force: true });
    expect(restored.body.verified).toBe(true);
    expect(await sequences(env.SCRATCH_DB)).toEqual(await sequences(env.DB));
    const next = (d1: D1Database) =>
      d1
        .prepare(
          "INSERT INTO video_context (video_id, context_type, tool_name, data, created_at, updated_at) VALUES (?, 'scene', 'next', '{\"description\":\"next\"}', 1, 1) RETURNING id",
        )
        .bind(video.id)
        .first<{ id: number }>();
    expect((await next(env.SCRATCH_DB))?.id).toBe((await next(env.DB))?.id);
  });

  it("a data-only dump replays into a database that the migrations created", async () => {
    const video = await seedVideo();
    await seedContext(video.id, { data: { description: "line one\nline two; it's" } });
    await seedConversation(video.id, { messages: 3 });
    const backup = await backupNow();
    const sql = await downloadSql(backup.id, true);
    expect(sql).not.toContain("CREATE TABLE");
    expect(sql).not.toContain('INSERT INTO "d1_migrations"');

    await resetDatabase(env.SCRATCH_DB);
    await applyD1Migrations(env.SCRATCH_DB, env.TEST_MIGRATIONS);
    // What `wrangler d1 execute --file` does: the file's statements in order.
    for (const statement of statementsOf(sql)) await env.SCRATCH_DB.prepare(statement).run();
    for (const table of appTables) {
      const columns = (await env.DB.prepare(`PRAGMA table_info(${table})`).all<{ name: string }>()).results.map((c) => c.name);
      expect(await exactRows(env.SCRATCH_DB, table, columns), table).toEqual(await exactRows(env.DB, table, columns));
    }
    expect(await sequences(env.SCRATCH_DB)).toEqual(await sequences(env.DB));
    expect((await env.SCRATCH_DB.prepare("PRAGMA foreign_key_check").all()).results).toEqual([]);
  });

  it("the whole dump holds schema, rows, sqlite_sequence and indexes; a bad dataOnly flag is a 400", async () => {
    await seedVideo();
    const backup = await backupNow();
    const sql = await downloadSql(backup.id, false);
    expect(sql).toContain("CREATE TABLE");
    expect(sql).toContain("INSERT INTO sqlite_sequence");
    expect(sql).toContain("CREATE INDEX");
    expect((await at(now, "GET", `/admin/backups/${backup.id}/download?dataOnly=maybe`)).status).toBe(400);
  });
});
