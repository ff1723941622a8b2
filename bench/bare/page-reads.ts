/**
 * For `npm run bench -- backups`: the page queries a keeper backup sends, alone — every table it
 * backs up, page by page up to its rowid high-water mark, through keeper's own readPageLines
 * (readPage where a page cannot be read as lines), with nothing done to the pages: no rendering,
 * hashing, compression or upload, no Workflow. What getting the exact values out of local D1 costs
 * by itself: the backup's ceiling on this machine.
 */
import { Hono } from "hono";
import { EXCLUDED_TABLES } from "../../src/backups/create.service";
import { readPage, readPageLines } from "../../src/backups/digest";
import { introspect, quoteIdentifier } from "../../src/backups/introspect";

const app = new Hono<{ Bindings: { DB: D1Database } }>();

app.get("/ready", (c) => c.text("ready"));

app.post("/read-pages", async (c) => {
  const schema = await introspect(c.env.DB);
  let rows = 0;
  let pages = 0;
  for (const table of schema.tables) {
    if (EXCLUDED_TABLES.includes(table.name)) continue;
    const mark = await c.env.DB.prepare(`SELECT quote(max(rowid)) AS n FROM ${quoteIdentifier(table.name)}`).first<{
      n: string;
    }>();
    if (!mark || mark.n === "NULL") continue;
    let after: string | null = null;
    for (;;) {
      const bounds = { after, upTo: mark.n };
      const lines = await readPageLines(c.env.DB, table, bounds);
      let read: { rows: number; lastRowid: string | null };
      if (lines !== null) read = lines;
      else {
        const page = await readPage(c.env.DB, table, bounds, { shorten: true });
        read = { rows: page.rows.length, lastRowid: page.rows.at(-1)?.rowid ?? null };
      }
      if (read.rows === 0 || read.lastRowid === null) break;
      rows += read.rows;
      pages++;
      after = read.lastRowid;
    }
  }
  return c.json({ rows, pages });
});

export default app;
