import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { components } from "../../client/keeper-api";
import { listManifestKeys } from "../../src/archival/reindex.service";
import { contextOn } from "../migrations/support";
import { seedConversation, seedVideo } from "../support/factories";
import { at, atUntilDone, auditActions, count, DAY } from "./support";

type Entry = components["schemas"]["ReindexResult"]["inserted"][number];

const indexedOf = (videoId: string) =>
  count("SELECT count(*) AS n FROM keeper_archived_conversations WHERE video_id = ?", videoId);

describe("archive reindex", () => {
  it("rebuilds a lost index from the manifests in R2, dry run first, and restore works again", async () => {
    const now = Date.UTC(2033, 2, 15);
    const video = await seedVideo();
    const first = await seedConversation(video.id, { updatedAt: now - 40 * DAY, messages: 3 });
    const second = await seedConversation(video.id, { updatedAt: now - 50 * DAY, messages: 2 });
    const run = await atUntilDone(now, "/admin/archival/archive-conversations", { body: { archiveDays: 30, confirm: true } });
    expect(run.body.run.status).toBe("succeeded");
    const before = (await at(now, "GET", `/admin/archival/archived-conversations?video_id=${video.id}`, { token: "read" })).body
      .items as (Entry & { restored_at: string | null })[];
    expect(before.map((item) => item.conversation_id).sort()).toEqual([first.id, second.id].sort());

    // The index is lost (as after `keeper migrate rollback --to 0` and re-applying); the archives stay in R2.
    await env.DB.prepare("DELETE FROM keeper_archived_conversations WHERE video_id = ?").bind(video.id).run();
    expect((await at(now, "POST", `/admin/archival/archived-conversations/${first.id}/restore`)).status).toBe(404);

    const later = now + DAY;
    expect((await at(later, "POST", "/admin/archival/reindex", { body: {} })).status).toBe(428);

    const dry = await at(later, "POST", "/admin/archival/reindex", { body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    const planned = (dry.body.inserted as Entry[]).filter((entry) => entry.video_id === video.id);
    // The same entries the archive run wrote, bar restored_at (the manifest's time stands for archived_at).
    expect(planned.sort((a, b) => a.conversation_id.localeCompare(b.conversation_id))).toEqual(
      before.map(({ restored_at: _, ...entry }) => entry).sort((a, b) => a.conversation_id.localeCompare(b.conversation_id)),
    );
    expect(await indexedOf(video.id)).toBe(0);

    const done = await at(later, "POST", "/admin/archival/reindex", { body: { confirm: true } });
    expect(done.status).toBe(200);
    expect((done.body.inserted as Entry[]).map((entry) => entry.conversation_id)).toEqual(
      expect.arrayContaining([first.id, second.id]),
    );
    expect(await indexedOf(video.id)).toBe(2);
    expect(await auditActions("archives/conversations/")).toContain("archival.reindex");

    const restored = await at(later, "POST", `/admin/archival/archived-conversations/${first.id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body.messages).toBe(3);
    expect(await count("SELECT count(*) AS n FROM messages WHERE conversation_id = ?", first.id)).toBe(3);

    // Again: nothing is missing any more, and the restored entry keeps its restored_at.
    const again = await at(later, "POST", "/admin/archival/reindex", { body: { confirm: true } });
    expect(again.status).toBe(200);
    expect((again.body.inserted as Entry[]).filter((entry) => entry.video_id === video.id)).toEqual([]);
    expect(await indexedOf(video.id)).toBe(2);
    expect(await count("SELECT restored_at AS n FROM keeper_archived_conversations WHERE conversation_id = ?", first.id)).toBe(
      later,
    );
  });

  it("does not index a conversation that is in D1, and skips an archive that does not match its manifest", async () => {
    const now = Date.UTC(2034, 5, 1);
    const video = await seedVideo();
    const archived = await seedConversation(video.id, { updatedAt: now - 40 * DAY, messages: 1 });
    await atUntilDone(now, "/admin/archival/archive-conversations", { body: { archiveDays: 30, confirm: true } });
    const [entry] = (await at(now, "GET", `/admin/archival/archived-conversations?conversation_id=${archived.id}`)).body
      .items as Entry[];
    expect((await at(now, "POST", `/admin/archival/archived-conversations/${archived.id}/restore`)).status).toBe(200);
    await env.DB.prepare("DELETE FROM keeper_archived_conversations WHERE video_id = ?").bind(video.id).run();

    const dry = await at(now, "POST", "/admin/archival/reindex", { body: { dryRun: true } });
    expect((dry.body.inserted as Entry[]).map((e) => e.conversation_id)).not.toContain(archived.id);
    expect(dry.body.in_d1).toBeGreaterThanOrEqual(1);

    // A swapped archive object: its manifest's sha256 no longer matches, so it is reported, not indexed.
    await env.DB.prepare("DELETE FROM conversations WHERE id = ?").bind(archived.id).run();
    await env.BACKUPS.put(entry.archive_key, "not the archive");
    const swapped = await at(now, "POST", "/admin/archival/reindex", { body: { dryRun: true } });
    expect((swapped.body.inserted as Entry[]).map((e) => e.conversation_id)).not.toContain(archived.id);
    expect(swapped.body.unreadable).toContainEqual({
      manifest: `${entry.archive_key}.manifest.json`,
      reason: expect.stringContaining("sha256"),
    });
  });

  it("follows R2's cursor past the first page of manifests", async () => {
    for (const name of ["a", "b", "c"]) {
      const key = `archives/conversations/2035/01/01/paging-${name}.jsonl.gz`;
      await env.BACKUPS.put(key, "archive");
      await env.BACKUPS.put(`${key}.manifest.json`, "{}");
    }
    const ctx = contextOn(env.DB);
    const all = await listManifestKeys(ctx);
    expect(all.filter((key) => key.includes("/paging-"))).toHaveLength(3);
    expect(all.every((key) => key.endsWith(".manifest.json"))).toBe(true);
    // Pages of one key (two with the archive objects between): only the cursor reaches the rest.
    expect(await listManifestKeys(ctx, 1)).toEqual(all);
  });
});
