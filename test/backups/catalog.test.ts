import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { idSecondMs, listBackups, newestBackups } from "../../src/backups/catalog.service";
import { BACKUP_PREFIX, MANIFEST_NAME, manifestKey } from "../../src/backups/manifest";
import { deletePrefix } from "../../src/platform/r2";
import { contextOn } from "../migrations/support";
import { replacingMethod } from "../support/bindings";
import { tokens } from "../support/http";
import { backupNow, manifestOf } from "./support";

const base = Date.UTC(2041, 4, 6, 7, 8, 0);

/** A backup id as create.service writes it: its second, then four hex digits. */
const idAt = (ms: number, suffix: number) =>
  `${new Date(ms)
    .toISOString()
    .replaceAll(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${suffix.toString(16).padStart(4, "0")}`;

const backup = fc.record({
  second: fc.integer({ min: 0, max: 6 }),
  suffix: fc.integer({ min: 0, max: 0xffff }),
  // created_at is read from the clock just after the id: up to 2 s later here.
  lateMs: fc.integer({ min: 0, max: 1999 }),
  complete: fc.boolean(),
});

describe("the newest backups", () => {
  it("are the first of the whole list, read newest id first, with seconds shared and ids out of created_at order", async () => {
    const ctx = contextOn(env.DB);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(backup, { minLength: 1, maxLength: 12, selector: (b) => `${b.second}-${b.suffix}` }),
        fc.integer({ min: 1, max: 5 }),
        async (backups, limit) => {
          await deletePrefix(env.BACKUPS, BACKUP_PREFIX);
          for (const b of backups) {
            const id = idAt(base + b.second * 1000, b.suffix);
            const createdAt = new Date(base + b.second * 1000 + b.lateMs).toISOString();
            // An incomplete backup has objects but no manifest yet.
            if (b.complete) await env.BACKUPS.put(manifestKey(id), JSON.stringify({ id, created_at: createdAt }));
            else await env.BACKUPS.put(`${BACKUP_PREFIX}${id}/0001-videos.sql.zst`, "partial");
          }
          const all = await listBackups({ ctx });
          const newest = await newestBackups({ ctx, input: { limit } });
          expect(newest.map((m) => m.id)).toEqual(all.slice(0, limit).map((m) => m.id));
        },
      ),
      { numRuns: 40 },
    );
    await deletePrefix(env.BACKUPS, BACKUP_PREFIX);
  });

  it("rely on a backup's created_at coming less than 2 s after its id's second, as the backup job writes them", async () => {
    const { id } = await backupNow();
    const manifest = await manifestOf(id);
    const late = Date.parse(manifest.created_at) - idSecondMs(id);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(2_000);
    await deletePrefix(env.BACKUPS, BACKUP_PREFIX);
  });

  it("GET /admin/backups?limit=N lists the newest N, reading only their manifests; without it, all", async () => {
    await deletePrefix(env.BACKUPS, BACKUP_PREFIX);
    const ids = Array.from({ length: 8 }, (_, day) => idAt(base + day * 86_400_000, 0xb000 + day));
    for (const [day, id] of ids.entries()) {
      const created_at = new Date(base + day * 86_400_000).toISOString();
      await env.BACKUPS.put(manifestKey(id), JSON.stringify({ id, created_at, tables: [], totals: {}, bookmark: {} }));
    }
    let manifestReads = 0;
    const counted = replacingMethod(env.BACKUPS, "get", (original) => (...args) => {
      if (String(args[0]).endsWith(`/${MANIFEST_NAME}`)) manifestReads++;
      return original(...args);
    });
    const list = (query: string) =>
      createApp().request(
        `/admin/backups${query}`,
        { headers: { Authorization: `Bearer ${tokens.read}` } },
        {
          ...env,
          BACKUPS: counted,
        },
      );
    const newest = await list("?limit=3");
    expect(newest.status).toBe(200);
    expect((await newest.json<{ items: { id: string }[] }>()).items.map((item) => item.id)).toEqual(ids.slice(-3).reverse());
    expect(manifestReads).toBe(3);
    const all = await list("");
    expect((await all.json<{ items: unknown[] }>()).items).toHaveLength(8);
    for (const bad of ["?limit=0", "?limit=1001", "?limit=2.5", "?limit=0x10"]) expect((await list(bad)).status, bad).toBe(400);
    await deletePrefix(env.BACKUPS, BACKUP_PREFIX);
  });
});
