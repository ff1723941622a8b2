import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { seedVideo } from "../support/factories";
import { tokens } from "../support/http";

const DAY = 86_400_000;

describe("integrity: videos overdue for purge", () => {
  it("uses the configured purge window and each category's own", async () => {
    const retention = {
      RETENTION_DELETE_DAYS: "3",
      RETENTION_CATEGORY_OVERRIDES: JSON.stringify({ surveillance: { deleteDays: 1 }, archive: { deleteDays: 30 } }),
    };
    const overdue = async () => {
      const res = await createApp().request(
        "/admin/health/integrity",
        { headers: { Authorization: `Bearer ${tokens.read}` } },
        { ...env, ...retention },
      );
      expect(res.status).toBe(200);
      return (await res.json<{ invariants: { videos_overdue_for_purge: number } }>()).invariants.videos_overdue_for_purge;
    };
    const before = await overdue();
    const now = Date.now();
    await seedVideo({ deletedAt: now - 5 * DAY }); // past the 3-day default (not past a hard-coded 7)
    await seedVideo({ deletedAt: now - 2 * DAY }); // within it
    await seedVideo({ category: "surveillance", deletedAt: now - 2 * DAY }); // past its own 1 day
    await seedVideo({ category: "archive", deletedAt: now - 20 * DAY }); // within its own 30 days
    await seedVideo({ category: "constructor", deletedAt: now - 5 * DAY }); // no window of its own: the default
    expect((await overdue()) - before).toBe(3);
  });
});
