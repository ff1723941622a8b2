import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/client";
import { hotQueries } from "../../src/videos/queries";

/** Every list query the data API runs must be served by an index: no table scan, no sort step. */
describe("query plans of the data API's list queries", () => {
  const db = openDatabase(env.DB);
  for (const { name, query } of hotQueries(db)) {
    it(name, async () => {
      const { sql, params } = query.toSQL();
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      const plan = results.map((row) => row.detail);
      expect(
        plan.some((step) => /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(step)),
        plan.join(" | "),
      ).toBe(true);
      expect(
        plan.filter((step) => /^SCAN /.test(step) && !/USING/.test(step)),
        plan.join(" | "),
      ).toEqual([]);
      expect(
        plan.filter((step) => /TEMP B-TREE/.test(step)),
        plan.join(" | "),
      ).toEqual([]);
    });
  }
});

describe("schema.ts and the migrations agree", () => {
  it("drizzle-kit would generate nothing", () => {
    expect(env.SCHEMA_DRIFT).toEqual([]);
  });
});
