import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoFromEpochMs, maxEpochMs } from "../../src/platform/iso-time";
import { presentMemory } from "../../src/videos/present";

/** Times where a formatting rule changes: the range's ends, year 0 and 9999, the epoch, day and leap-day edges. */
const edges = [
  -maxEpochMs,
  maxEpochMs,
  -maxEpochMs + 0.5,
  maxEpochMs - 0.5,
  0,
  -0,
  -0.5,
  0.5,
  -1,
  1,
  -1.5,
  -999.999,
  Date.UTC(0, 0, 1) - 1, // the last millisecond of year -1
  Date.UTC(0, 0, 1),
  Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1, // year 10000
  Date.UTC(2000, 1, 29),
  Date.UTC(1900, 2, 1) - 1,
  Date.UTC(-400, 1, 29, 12),
  86_400_000 * 1e8 - 1,
  -86_400_000 * 1e8 + 1,
];

describe("isoFromEpochMs", () => {
  it.each(edges)("formats %d as Date's toISOString does", (ms) => {
    expect(isoFromEpochMs(ms)).toBe(new Date(ms).toISOString());
  });

  it("equals toISOString for every whole millisecond in Date's range", () => {
    fc.assert(
      fc.property(fc.integer({ min: -maxEpochMs, max: maxEpochMs }), (ms) => {
        expect(isoFromEpochMs(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it("equals toISOString for fractional and negative times near the epoch and the range's ends", () => {
    const near = (center: number, radius: number) =>
      fc.double({ min: center - radius, max: center + radius, noNaN: true }).filter((ms) => Math.abs(ms) <= maxEpochMs);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: -maxEpochMs, max: maxEpochMs, noNaN: true }),
          near(0, 1e6),
          near(-maxEpochMs, 1e6),
          near(maxEpochMs, 1e6),
          near(Date.UTC(0, 0, 1), 1e9),
        ),
        (ms) => {
          expect(isoFromEpochMs(ms)).toBe(new Date(ms).toISOString());
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

describe("stored times outside Date's range", () => {
  const memoryRow = (createdAt: number) => ({
    id: 1,
    videoId: "v",
    timestamp: 0,
    content: "c",
    metadata: null,
    createdAt,
  });

  it.each([maxEpochMs, -maxEpochMs])("shows %d, an end of the range, as a time", (ms) => {
    const entry = presentMemory(memoryRow(ms));
    expect(entry.created_at).toBe(new Date(ms).toISOString());
    expect(entry.stored_problems).toBeUndefined();
  });

  it.each([maxEpochMs + 1, -maxEpochMs - 1, Number.POSITIVE_INFINITY])("shows %d as the epoch with a stored problem", (ms) => {
    const entry = presentMemory(memoryRow(ms));
    expect(entry.created_at).toBe("1970-01-01T00:00:00.000Z");
    expect(entry.stored_problems).toEqual([
      { field: "created_at", problem: "not a time in milliseconds since the epoch", raw: String(ms) },
    ]);
  });
});
