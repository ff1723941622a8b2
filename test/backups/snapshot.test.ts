import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { at } from "../archival/support";
import { seedContext, seedVideo } from "../support/factories";
import { backupWith, now, restore } from "./support";

/**
 * The main database with a write before every page a backup reads: each page read first inserts a
 * new video and its context; just before video_context is read, one video that existed at the start
 * is deleted (its contexts go by cascade) and another context is edited.
 */
function writingDuringPages(victim: string, edited: number) {
  let pages = 0;
  const write = async (sql: string) => {
    pages++;
    const video = await seedVideo();
    await seedContext(video.id, { data: { description: `written during page ${pages}` } });
    if (sql.includes('FROM "video_context"')) {
      await env.DB.prepare("DELETE FROM videos WHERE id = ?").bind(victim).run();
      await env.DB.prepare("UPDATE video_context SET data = ? WHERE id = ?").bind('{"description":"edited"}', edited).run();
    }
  };
  const binding = new Proxy(env.DB, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property !== "prepare") return typeof value === "function" ? value.bind(target) : value;
      return (sql: string) => {
        const statement = target.prepare(sql);
        // A page read: value by value (readPage) or as lines (readPageLines).
        if (!/^(SELECT (NULL, )?quote\(rowid\)|WITH sized AS|SELECT count\(\*\), quote\(max\(r\)\))/.test(sql)) return statement;
        return {
          bind: (...values: unknown[]) => ({
            raw: async () => {
              await write(sql);
              return statement.bind(...values).raw();
            },
          }),
        };
      };
    },
  });
  return { binding, pages: () => pages };
}

const ids = async (d1: D1Database, sql: string) => (await d1.prepare(sql).raw()).map((row) => String(row[0])).sort();

describe("a backup taken under writes", () => {
  it("holds the rows that existed when it started, minus those deleted before their table was read, and restores with no foreign key violation", async () => {
    const videos = [];
    for (let i = 0; i < 4; i++) {
      const video = await seedVideo();
      await seedContext(video.id);
      await seedContext(video.id);
      videos.push(video.id);
    }
    const edited = (
      await env.DB.prepare("SELECT id FROM video_context WHERE video_id = ? LIMIT 1").bind(videos[1]).first<{ id: number }>()
    )?.id as number;
    const videosAtStart = await ids(env.DB, "SELECT id FROM videos");
    const contextsAtStart = await ids(env.DB, "SELECT id FROM video_context");
    const victimContexts = await ids(env.DB, `SELECT id FROM video_context WHERE video_id = '${videos[0]}'`);

    const writer = writingDuringPages(videos[0], edited);
    const backup = await backupWith({ DB: writer.binding });
    expect(backup.complete, JSON.stringify(backup.run)).toBe(true);
    expect(writer.pages()).toBeGreaterThanOrEqual(3);
    expect(await ids(env.DB, `SELECT id FROM videos WHERE id = '${videos[0]}'`)).toEqual([]);
    expect((await at(now, "POST", `/admin/backups/${backup.id}/verify`)).body.ok).toBe(true);

    const restored = await restore(backup.id, { target: "scratch", force: true });
    expect(restored.body, JSON.stringify(restored.body).slice(0, 400)).toMatchObject({
      verified: true,
      foreign_key_violations: 0,
    });
    expect((await env.SCRATCH_DB.prepare("PRAGMA foreign_key_check").all()).results).toEqual([]);
    expect(await ids(env.SCRATCH_DB, "SELECT id FROM videos")).toEqual(videosAtStart);
    expect(await ids(env.SCRATCH_DB, "SELECT id FROM video_context")).toEqual(
      contextsAtStart.filter((id) => !victimContexts.includes(id)),
    );
    const data = await env.SCRATCH_DB.prepare("SELECT data FROM video_context WHERE id = ?")
      .bind(edited)
      .first<{ data: string }>();
    expect(data?.data).toBe('{"description":"edited"}');
  });
});
