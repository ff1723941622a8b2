import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { type Database, openDatabase } from "../../src/db/client";
import { seedContext, seedVideo } from "../support/factories";
import { tokens } from "../support/http";

/** An app whose requests count the Drizzle clients they open. */
function countingApp() {
  const opened: D1Database[] = [];
  const app = createApp({
    openDatabase: (d1): Database => {
      opened.push(d1);
      return openDatabase(d1);
    },
  });
  const request = (method: string, path: string, body?: unknown) =>
    app.request(
      path,
      {
        method,
        headers: { Authorization: `Bearer ${tokens.admin}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      env,
    );
  return { opened, request };
}

describe("the request's Drizzle client", () => {
  it("is not opened by the routes that run their SQL directly (the context list, adding memory)", async () => {
    const { id } = await seedVideo();
    await seedContext(id);
    const { opened, request } = countingApp();
    expect((await request("GET", `/v1/videos/${id}/context?limit=50`)).status).toBe(200);
    expect((await request("POST", `/v1/videos/${id}/memory`, { timestamp: 1.5, content: "a note" })).status).toBe(201);
    expect(opened).toEqual([]);
  });

  it("is opened once for a request that uses it, however often it does", async () => {
    const { id } = await seedVideo();
    const { opened, request } = countingApp();
    expect((await request("GET", `/v1/videos/${id}`)).status).toBe(200);
    // An empty memory list uses it twice: for the page, then to ask whether the video exists.
    expect((await request("GET", `/v1/videos/${id}/memory`)).status).toBe(200);
    expect(opened).toHaveLength(2);
  });
});
