import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyPolicies, RETENTION_JOB } from "../../src/archival/policies.service";
import worker from "../../src/index";
import { seedConversation, seedVideo, tableCounts } from "../support/factories";
import { call, json } from "../support/http";
import { contextAt, countWhere, DAY } from "./support";

const NOW = Date.UTC(2101, 5, 1);

describe("retention policies", () => {
  it("touches only rows past each cutoff, per category, and a second run changes nothing", async () => {
    const pastWindow = await seedVideo({ deletedAt: NOW - 8 * DAY });
    const insideWindow = await seedVideo({ deletedAt: NOW - 6 * DAY });
    const shortCategory = await seedVideo({ deletedAt: NOW - 3 * DAY, category: "surveillance" });
    const live = await seedVideo({ createdAt: NOW - 900 * DAY });
    const oldConversation = await seedConversation(live.id, { updatedAt: NOW - 31 * DAY, messages: 1 });
    const newConversation = await seedConversation(live.id, { updatedAt: NOW - 29 * DAY, messages: 1 });
    const ctx = contextAt(NOW);

    const first = await applyPolicies({
      ctx,
      input: { trigger: "manual", confirm: true, deleteDaysByCategory: { surveillance: 2 }, optimize: false },
    });
    expect(first.status).toBe("succeeded");
    const exists = (id: string) => countWhere("SELECT count(*) AS n FROM videos WHERE id = ?", id);
    expect(await exists(pastWindow.id)).toBe(0);
    expect(await exists(shortCategory.id)).toBe(0);
    expect(await exists(insideWindow.id)).toBe(1);
    expect(await exists(live.id)).toBe(1);
    expect(await countWhere("SELECT count(*) AS n FROM conversations WHERE id = ?", oldConversation.id)).toBe(0);
    expect(await countWhere("SELECT count(*) AS n FROM conversations WHERE id = ?", newConversation.id)).toBe(1);

    const before = await tableCounts();
    const second = await applyPolicies({
      ctx,
      input: { trigger: "manual", confirm: true, deleteDaysByCategory: { surveillance: 2 }, optimize: false },
    });
    expect(second.counts).toMatchObject({ conversations_archived: 0, videos_purged: 0, orphan_rows_deleted: 0 });
    const after = await tableCounts();
    expect({ ...after, keeper_audit_log: 0 }).toEqual({ ...before, keeper_audit_log: 0 });
  });

  it("two concurrent runs: exactly one works, the other is refused (manual 423) or skipped (cron)", async () => {
    const ctx = contextAt(NOW);
    const results = await Promise.allSettled([
      applyPolicies({ ctx, input: { trigger: "manual", confirm: true, optimize: false } }),
      applyPolicies({ ctx, input: { trigger: "manual", confirm: true, optimize: false } }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect((rejected as PromiseRejectedResult).reason.code).toBe("LOCKED");

    const cron = await Promise.all([
      applyPolicies({ ctx, input: { trigger: "cron", confirm: true, optimize: false } }),
      applyPolicies({ ctx, input: { trigger: "cron", confirm: true, optimize: false } }),
    ]);
    expect(cron.map((run) => run.status).sort()).toEqual(["skipped", "succeeded"]);
  });

  it("runs from the Worker's scheduled handler on 30 3 * * * and records a run", async () => {
    const controller = createScheduledController({ cron: "30 3 * * *", scheduledTime: Date.now() });
    const before = await countWhere(
      "SELECT count(*) AS n FROM keeper_job_runs WHERE job = ? AND trigger = 'cron'",
      RETENTION_JOB,
    );
    const execution = createExecutionContext();
    await worker.scheduled(controller, env, execution);
    await waitOnExecutionContext(execution);
    const after = await countWhere("SELECT count(*) AS n FROM keeper_job_runs WHERE job = ? AND trigger = 'cron'", RETENTION_JOB);
    expect(after).toBe(before + 1);
  });

  it("status previews each policy and shows the last run; bad input is rejected with no change", async () => {
    await seedVideo({ deletedAt: Date.now() - 30 * DAY });
    const status = await json<{ would: { purge_videos: { count: number } }; last_run: unknown }>(
      await call("GET", "/admin/archival/status?delete_days=7"),
    );
    expect(status.would.purge_videos.count).toBeGreaterThanOrEqual(1);
    expect((await call("GET", "/admin/archival/status?delete_days=-1")).status).toBe(400);
    const before = await tableCounts();
    expect((await call("POST", "/admin/archival/apply-policies", { body: { delete_days: -3, confirm: true } })).status).toBe(422);
    expect((await call("POST", "/admin/archival/apply-policies", { body: {} })).status).toBe(428);
    const dry = await call("POST", "/admin/archival/apply-policies", { body: { dry_run: true } });
    expect(dry.status).toBe(200);
    expect(await tableCounts()).toEqual(before);
  });
});
