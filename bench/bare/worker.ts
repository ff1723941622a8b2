/**
 * The peer for `npm run bench:load`: a bare Hono route doing exactly the SQL keeper's data API runs
 * for the same request, with no auth, validation, monitoring or error mapping. Keeper's figures are
 * reported as a fraction of this one's, measured in the same run on a copy of the same local D1.
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

export default app;
