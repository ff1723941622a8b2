import { describe, expect, it } from "vitest";
import { seedConversation, seedVideo } from "../support/factories";
import { at, atUntilDone, count, DAY } from "./support";

/**
 * The real loss: `migrate rollback --to 0` drops keeper_archived_conversations with the archival
 * migration, and re-applying brings the table back empty. This file's database is its own copy,
 * so rolling it back disturbs no other test.
 */
describe("archive reindex after a rollback to 0", () => {
  it("finds the archives in R2 again, and they can be restored", async () => {
    const now = Date.UTC(2036, 3, 1);
    const video = await seedVideo();
    const first = await seedConversation(video.id, { updatedAt: now - 40 * DAY, messages: 2 });
    const second = await seedConversation(video.id, { updatedAt: now - 60 * DAY, messages: 1 });
    const run = await atUntilDone(now, "/admin/archival/archive-conversations", { body: { archiveDays: 30, confirm: true } });
    expect(run.body.run.status).toBe("succeeded");

    const rollback = await at(now, "POST", "/admin/migrations/rollback", { body: { to: 0, confirm: true } });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(200);
    const apply = await at(now, "POST", "/admin/migrations/apply", { body: {} });
    expect(apply.status, JSON.stringify(apply.body)).toBe(200);
    expect(await count("SELECT count(*) AS n FROM keeper_archived_conversations")).toBe(0);
    expect((await at(now, "POST", `/admin/archival/archived-conversations/${first.id}/restore`)).status).toBe(404);

    const dry = await at(now, "POST", "/admin/archival/reindex", { body: { dryRun: true } });
    const ours = (entries: { conversation_id: string; video_id: string }[]) =>
      entries.filter((entry) => entry.video_id === video.id).map((entry) => entry.conversation_id);
    expect(ours(dry.body.inserted).sort()).toEqual([first.id, second.id].sort());
    expect(await count("SELECT count(*) AS n FROM keeper_archived_conversations")).toBe(0);

    const done = await at(now, "POST", "/admin/archival/reindex", { body: { confirm: true } });
    expect(done.status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM keeper_archived_conversations WHERE video_id = ?", video.id)).toBe(2);
    const restored = await at(now, "POST", `/admin/archival/archived-conversations/${second.id}/restore`);
    expect(restored.status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", second.id)).toBe(1);
    expect(ours((await at(now, "POST", "/admin/archival/reindex", { body: { confirm: true } })).body.inserted)).toEqual([]);
  });
});
