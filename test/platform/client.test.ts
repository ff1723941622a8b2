import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createKeeperClient } from "../../client/index.ts";
import { seedVideo } from "../support/factories";
import { tokens } from "../support/http";

/** The exported client (d1-keeper/client) against the real Worker: typed calls, bearer token, problems. */
const through = (request: Request) => exports.default.fetch(request);

describe("createKeeperClient", () => {
  it("creates and reads a video with the token it was given", async () => {
    const client = createKeeperClient({ baseUrl: "https://keeper.test/", token: tokens.write, fetch: through });
    const created = await client.POST("/v1/videos", {
      body: { filename: "client.mp4", file_path: "/media/client.mp4", duration: 12.5, category: "lecture", tags: ["typed"] },
    });
    expect(created.response.status).toBe(201);
    const id = created.data?.id ?? "";
    const read = await client.GET("/v1/videos/{id}", { params: { path: { id } } });
    expect(read.data).toMatchObject({ id, filename: "client.mp4", duration: 12.5, tags: ["typed"] });
  });

  it("passes query parameters and returns problem+json errors as `error`", async () => {
    const video = await seedVideo();
    const reader = createKeeperClient({ baseUrl: "https://keeper.test", token: tokens.read, fetch: through });
    const page = await reader.GET("/v1/videos", { params: { query: { limit: 200 } } });
    expect(page.data?.items.some((item) => item.id === video.id)).toBe(true);
    const refused = await reader.POST("/v1/videos", { body: { filename: "x.mp4", file_path: "/x.mp4", duration: 1 } });
    expect(refused.response.status).toBe(403);
    expect(refused.error).toMatchObject({ status: 403, type: "urn:d1-keeper:problem:forbidden" });
    const anonymous = createKeeperClient({ baseUrl: "https://keeper.test", fetch: through });
    expect((await anonymous.GET("/v1/videos")).response.status).toBe(401);
  });
});
