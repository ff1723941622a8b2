import { describe, expect, it } from "vitest";
import { tableDigest } from "../../src/backups/digest";
import type { ManifestObject, ManifestTable } from "../../src/backups/manifest";
import { emptyTally, tallyPage, tallyProblems } from "../../src/backups/verify.service";

/** A table of `objects` objects of `pagesEach` pages of 5,000 rows, page digests "p0", "p1", … */
function backupOf(objects: number, pagesEach: number, recorded = true) {
  const pages = Array.from({ length: objects * pagesEach }, (_, i) => `p${i}`);
  const list: ManifestObject[] = Array.from({ length: objects }, (_, k) => ({
    key: `backups/x/000${k}-t.sql.zst`,
    kind: "data",
    table: "t",
    rows: pagesEach * 5000,
    bytes: 1,
    sql_bytes: 1,
    sha256: "0",
    frames: [1],
    ...(recorded ? { pages_sha256: tableDigest(pages.slice(k * pagesEach, (k + 1) * pagesEach)) } : {}),
  }));
  const table = { name: "t", rows: pages.length * 5000, sha256: tableDigest(pages) } as ManifestTable;
  return { pages, objects: list, table };
}

describe("a table's page tally", () => {
  it("checks each object's pages as it completes and keeps fewer digests than one object has pages", async () => {
    const { pages, objects, table } = backupOf(4, 50);
    const tally = emptyTally();
    let most = 0;
    for (const page of pages) {
      tally.rows += 5000;
      expect(tallyPage(tally, page, 5000, objects)).toBeNull();
      most = Math.max(most, tally.pageDigests.length);
    }
    // The 50th page completes the object: its digests are checked and let go at once.
    expect(most).toBe(49);
    expect(tallyProblems(table, tally, objects)).toEqual([]);
  });

  it("names the object whose pages differ, and a table with rows beyond its objects", async () => {
    const { pages, objects, table } = backupOf(3, 2);
    const tally = emptyTally();
    const problems = pages.map((page, i) => {
      tally.rows += 5000;
      return tallyPage(tally, i === 3 ? "changed" : page, 5000, objects);
    });
    expect(problems).toEqual([
      null,
      null,
      null,
      `${objects[1].key}: the values do not match the digest of its pages`,
      null,
      null,
    ]);
    expect(tallyPage(tally, "extra", 1, objects)).toBe("table t: more rows than its objects hold");
    const short = emptyTally();
    short.rows = table.rows;
    for (const page of pages.slice(0, 4)) tallyPage(short, page, 5000, objects);
    expect(tallyProblems(table, short, objects)).toEqual([
      "table t: the values in its objects do not match the manifest's digest",
    ]);
  });

  it("checks a backup that recorded no object digests by the table's digest at the end", async () => {
    const { pages, objects, table } = backupOf(2, 3, false);
    const tally = emptyTally();
    for (const page of pages) {
      tally.rows += 5000;
      tallyPage(tally, page, 5000, objects);
    }
    expect(tally.pageDigests).toHaveLength(6);
    expect(tallyProblems(table, tally, objects)).toEqual([]);
    tally.pageDigests[5] = "changed";
    expect(tallyProblems(table, tally, objects)).toHaveLength(1);
  });
});
