import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  ARCHIVE_PREFIX,
  type ArchiveManifest,
  archiveConversations,
  listArchivedConversations,
  restoreConversation,
} from "../../src/archival/conversation-archive.service";
import { seedConversation, seedVideo, tableCounts } from "../support/factories";
import { call } from "../support/http";
import { contextAt, countWhere, DAY, failingOnPut } from "./support";

// A fixed "now" far in the future, so only this file's deliberately old rows fall past the cutoff.
const NOW = Date.UTC(2100, 0, 1);

describe("conversation archive", () => {
  it("archives only conversations past the cutoff, verifies, deletes, and can find and restore them", async () => {
    const { id: videoId } = await seedVideo();
    const old = await seedConversation(videoId, { updatedAt: NOW - 31 * DAY, messages: 3 });
    const recent = await seedConversation(videoId, { updatedAt: NOW - 29 * DAY, messages: 2 });
    const ctx = contextAt(NOW);

    const preview = await archiveConversations({ ctx, input: { olderThanDays: 30, dryRun: true, confirm: false } });
    expect(preview.would_archive?.conversations).toBeGreaterThanOrEqual(1);
    expect(await countWhere("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(1);

    const result = await archiveConversations({ ctx, input: { olderThanDays: 30, dryRun: false, confirm: true } });
    expect(result.archived).toBeGreaterThanOrEqual(1);
    expect(await countWhere("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(0);
    expect(await countWhere("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", old.id)).toBe(0);
    expect(await countWhere("SELECT count(*) AS n FROM conversations WHERE id = ?", recent.id)).toBe(1);

    const found = await listArchivedConversations({ ctx, input: { videoId, limit: 10 } });
    expect(found.items.map((c) => c.id)).toEqual([old.id]);
    const manifestObject = await env.BACKUPS.get(`${found.items[0].object}.manifest.json`);
    const manifest = (await manifestObject?.json()) as ArchiveManifest;
    expect(manifest.object.startsWith(ARCHIVE_PREFIX)).toBe(true);
    expect(manifest.count).toBe(manifest.conversations.length);
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);

    const second = await archiveConversations({ ctx, input: { olderThanDays: 30, dryRun: false, confirm: true } });
    expect(second.archived).toBe(0);

    const restored = await restoreConversation({ ctx, input: { id: old.id } });
    expect(restored.messages).toBe(3);
    expect(await countWhere("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", old.id)).toBe(3);
    const again = await call("POST", `/admin/archival/conversations/${old.id}/restore`);
    expect(again.status).toBe(409);
  });

  for (const k of [1, 2]) {
    it(`an R2 failure on put #${k} leaves every conversation in D1`, async () => {
      const { id: videoId } = await seedVideo();
      const old = await seedConversation(videoId, { updatedAt: NOW - 400 * DAY, messages: 2 });
      const ctx = contextAt(NOW, { backups: failingOnPut(env.BACKUPS, k) });
      await expect(archiveConversations({ ctx, input: { olderThanDays: 30, dryRun: false, confirm: true } })).rejects.toThrow(
        /simulated R2 failure/,
      );
      expect(await countWhere("SELECT count(*) AS n FROM conversations WHERE id = ?", old.id)).toBe(1);
      expect(await countWhere("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", old.id)).toBe(2);
    });
  }

  it("rejects negative days and a missing confirmation over HTTP, changing nothing", async () => {
    const before = await tableCounts();
    const negative = await call("POST", "/admin/archival/conversations/archive", {
      body: { older_than_days: -1, confirm: true },
    });
    expect(negative.status).toBe(422);
    const unconfirmed = await call("POST", "/admin/archival/conversations/archive", { body: { older_than_days: 30 } });
    expect(unconfirmed.status).toBe(428);
    expect((await call("POST", "/admin/archival/conversations/nope/restore")).status).toBe(404);
    expect(await tableCounts()).toEqual(before);
  });
});
