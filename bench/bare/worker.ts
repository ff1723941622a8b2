/**
 * The peer for `npm run bench:load` (and the in-D1 purge floor of the archival benchmark): a bare Hono route doing exactly the SQL keeper's data API runs
 * for the same request, with no auth, validation, monitoring or error mapping. The load benchmark
 * serves it twice, with keeper's static assets (wrangler.assets.toml, the floor) and without
 * (wrangler.toml); keeper's figures are reported as a fraction of each, measured in the same run,
 * every peer on its own copy of the same local D1.
 */
import { Hono } from "hono";

const app = new Hono<{ Bindings: { DB: D1Database } }>();

app.get("/context/:id", async (c) => {
  const { results } = await c.env.DB.prepare("SELECT * FROM video_context WHERE video_id = ? ORDER BY id LIMIT 51")
    .bind(c.req.param("id"))
    .all();
  return c.json({ items: results.slice(0, 50) });
});

app.post("/memory/:id", async (c) => {
  const body = await c.req.json<{ timestamp: number; content: string }>();
  const row = await c.env.DB.prepare(
    "INSERT INTO memory (video_id, timestamp, content, metadata, created_at) SELECT ?, ?, ?, NULL, ? WHERE EXISTS (SELECT 1 FROM videos WHERE id = ? AND deleted_at IS NULL) RETURNING *",
  )
    .bind(c.req.param("id"), body.timestamp, body.content, Date.now(), c.req.param("id"))
    .first();
  return c.json(row, 201);
});

// Not measured: lets the benchmark check that every 2xx write of this peer is a stored row.
app.get("/memory/:id/count", async (c) => {
  const row = await c.env.DB.prepare("SELECT count(*) AS count FROM memory WHERE video_id = ?")
    .bind(c.req.param("id"))
    .first<{ count: number }>();
  return c.json({ count: row?.count ?? 0 });
});

// For `npm run bench -- archival`: the purge floor inside local D1 itself — the same one cascading
// DELETE the sqlite3 floor runs, sent as one statement through the binding. Only the request is timed.
app.post("/purge-deleted", async (c) => {
  const result = await c.env.DB.prepare("DELETE FROM videos WHERE deleted_at IS NOT NULL").run();
  return c.json({ changes: result.meta.changes });
});

export default app;
