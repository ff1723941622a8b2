import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/client";
import type { videoContext } from "../../src/db/schema";
import { encodeCursor } from "../../src/platform/cursor";
import { listContext } from "../../src/videos/context.service";
import { presentContext } from "../../src/videos/present";
import { contextListStatement, listContextQuery } from "../../src/videos/queries";
import { contextOn } from "../migrations/support";
import { seedContext, seedVideo } from "../support/factories";

/** Each shape of the context list's filters: with or without a type, with or without a cursor. */
const shapes = [
  { name: "video only", input: { videoId: "vid-a", limit: 51 } },
  { name: "by type", input: { videoId: "vid-b", contextType: "scene", limit: 11 } },
  { name: "after a cursor", input: { videoId: "vid-c", afterId: 7, limit: 3 } },
  { name: "by type after a cursor", input: { videoId: "vid-d", contextType: "custom.note", afterId: 0, limit: 2 } },
];

/** Drizzle's row of video_context as D1 returns it, the shape the data API presents. */
const asStored = (row: typeof videoContext.$inferSelect) => ({
  id: row.id,
  video_id: row.videoId,
  context_type: row.contextType,
  tool_name: row.toolName,
  timestamp: row.timestamp,
  data: row.data,
  confidence: row.confidence,
  created_at: row.createdAt,
  updated_at: row.updatedAt,
});

describe("the context list's SQL, built once per shape of the filters", () => {
  const db = openDatabase(env.DB);

  it.each(shapes)("$name: the SQL and values are what Drizzle builds for the same input", ({ input }) => {
    // Twice: the second answer comes from the per-isolate cache, with other values bound.
    expect(contextListStatement(input)).toEqual(listContextQuery(db, input).toSQL());
    const other = { ...input, videoId: `${input.videoId}-2`, limit: input.limit + 1 };
    expect(contextListStatement(other)).toEqual(listContextQuery(db, other).toSQL());
  });

  it.each(shapes)("$name: the service answers with the rows Drizzle's query returns", async ({ input }) => {
    const { id: videoId } = await seedVideo();
    const seeded = [];
    for (const contextType of ["scene", "custom.note", "scene", "scene", "custom.note"]) {
      seeded.push(await seedContext(videoId, { contextType }));
    }
    const afterId = "afterId" in input ? seeded[1].id : undefined;
    const cursor = afterId === undefined ? undefined : encodeCursor([afterId]);
    const page = await listContext({
      ctx: contextOn(env.DB),
      input: { videoId, contextType: input.contextType, cursor, limit: 2 },
    });
    const expected = await listContextQuery(db, { videoId, contextType: input.contextType, afterId, limit: 3 });
    expect(expected.length).toBeGreaterThan(0);
    expect(page.items).toEqual(expected.slice(0, 2).map((row) => presentContext(asStored(row))));
  });
});
