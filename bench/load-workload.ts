import type autocannon from "autocannon";

/**
 * What `npm run bench:load` and `npm run bench:profile` send: a page of one video's context (the
 * hot read) and one memory entry (the write), to keeper's data API or to the bare peer's routes,
 * on a dataset of `loadDatasetSize(scale)`.
 */
export type Scenario = "read" | "write";

export const readVideo = "vid-0000042";
export const writeVideo = "vid-0000100";
const writeBody = JSON.stringify({ timestamp: 1.5, content: "load test memory entry" });

export const loadDatasetSize = (scale: number) => ({
  videos: Math.max(200, Math.round(2000 * scale)),
  context: Math.max(1000, Math.round(100_000 * scale)),
  memory: 0,
  conversations: 0,
  messages: 0,
  deletedEvery: 0,
});

/** One scenario's request, to keeper's data API (`api: "keeper"`) or the bare Worker's routes. */
export function workloadRequest(api: "keeper" | "bare", scenario: Scenario, url: string, token: string): autocannon.Options {
  const auth = { Authorization: `Bearer ${token}` };
  if (scenario === "read") {
    return api === "keeper"
      ? { url: `${url}/v1/videos/${readVideo}/context?limit=50`, headers: auth }
      : { url: `${url}/context/${readVideo}` };
  }
  const json = { "Content-Type": "application/json" };
  return api === "keeper"
    ? { url: `${url}/v1/videos/${writeVideo}/memory`, method: "POST", body: writeBody, headers: { ...auth, ...json } }
    : { url: `${url}/memory/${writeVideo}`, method: "POST", body: writeBody, headers: json };
}
