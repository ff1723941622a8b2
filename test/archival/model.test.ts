import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { restoreVideo, softDeleteVideo } from "../../src/archival/lifecycle.service";
import { applyPolicies } from "../../src/archival/policies.service";
import { purgeVideo } from "../../src/archival/purge.service";
import { seedVideo } from "../support/factories";
import { contextAt, countWhere, DAY } from "./support";

type Op = { kind: "softDelete" | "restore" | "purge"; video: number } | { kind: "policies" } | { kind: "advance"; hours: number };

const VIDEOS = 4;
const DELETE_DAYS = 7;

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("softDelete", "restore", "purge"), video: fc.nat(VIDEOS - 1) }) as fc.Arbitrary<Op>,
  fc.constant({ kind: "policies" } as Op),
  fc.record({ kind: fc.constant("advance"), hours: fc.integer({ min: 1, max: 24 * 10 }) }) as fc.Arbitrary<Op>,
);

describe("retention model", () => {
  it("never loses a live video or one inside its retention window", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        run++;
        let now = Date.UTC(2102, 0, 1) + run * 1000 * DAY;
        const ctx = contextAt(() => now);
        // Model: id → deleted_at (null = live); absent = permanently deleted.
        const model = new Map<string, number | null>();
        const ids: string[] = [];
        for (let i = 0; i < VIDEOS; i++) {
          const { id } = await seedVideo({ createdAt: now });
          ids.push(id);
          model.set(id, null);
        }
        for (const step of ops) {
          if (step.kind === "advance") {
            now += step.hours * 3_600_000;
            continue;
          }
          if (step.kind === "policies") {
            await applyPolicies({ ctx, input: { trigger: "manual", confirm: true, deleteDays: DELETE_DAYS, optimize: false } });
            for (const [id, deletedAt] of model) {
              if (deletedAt !== null && deletedAt < now - DELETE_DAYS * DAY) model.delete(id);
            }
          } else {
            const id = ids[step.video];
            const state = model.get(id);
            if (state === undefined) continue;
            if (step.kind === "softDelete") {
              await softDeleteVideo({ ctx, input: { id } });
              if (state === null) model.set(id, now);
            } else if (step.kind === "restore") {
              await restoreVideo({ ctx, input: { id } });
              model.set(id, null);
            } else if (state !== null) {
              await purgeVideo({ ctx, input: { id, dryRun: false, confirm: true } });
              model.delete(id);
            } else {
              await expect(purgeVideo({ ctx, input: { id, dryRun: false, confirm: true } })).rejects.toMatchObject({
                code: "CONFLICT",
              });
            }
          }
          for (const id of ids) {
            const row = await countWhere("SELECT count(*) AS n FROM videos WHERE id = ?", id);
            const expected = model.has(id) ? 1 : 0;
            expect(row, `video ${id} after ${step.kind}`).toBe(expected);
            if (model.has(id)) {
              const live = await countWhere("SELECT count(*) AS n FROM videos WHERE id = ? AND deleted_at IS NULL", id);
              expect(live).toBe(model.get(id) === null ? 1 : 0);
            }
          }
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
