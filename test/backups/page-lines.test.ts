import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { digestPage, PAGE_ROWS, pageDigest, readPage, readPageLines, rowLine } from "../../src/backups/digest";
import { renderLines, renderPage } from "../../src/backups/sql-render";

const table = { name: "page_lines_values", columns: ["id", "v"], rowidAlias: "id" };

/** Every kind of value readPage treats specially, between plain ones. */
const values = [
  "'plain'",
  "'two\nlines'",
  "CAST(X'61FF62' AS TEXT)",
  "'tab\there'",
  "char(65533)",
  "CAST(X'610062' AS TEXT)",
  "X'00FF'",
  "1.2345678901234567e-10",
  "9223372036854775807",
  "NULL",
  "'it''s'",
  "'日本語'",
];

async function seed(rows: string[]) {
  await env.DB.prepare(`DROP TABLE IF EXISTS ${table.name}`).run();
  await env.DB.prepare(`CREATE TABLE ${table.name} (id INTEGER PRIMARY KEY, v)`).run();
  await env.DB.batch(rows.map((value, i) => env.DB.prepare(`INSERT INTO ${table.name} (id, v) VALUES (${i + 1}, ${value})`)));
}

describe("a page read as lines written by SQLite", () => {
  it("gives readPage's lines, digest and statements for every kind of value, or hands the page back to it", async () => {
    await seed(values.flatMap((value) => ["'before'", value, "'after'"]));
    const bounds = { after: null, upTo: null };
    const reference = await readPage(env.DB, table, bounds);
    const lines = reference.map((row) => rowLine(row.literals));
    for (let i = 0; i < values.length; i++) {
      // One special value at a time, with the plain rows around it.
      const around = { after: String(3 * i), upTo: String(3 * i + 3) };
      const expected = (await readPage(env.DB, table, around)).map((row) => rowLine(row.literals));
      const page = await readPageLines(env.DB, table, around);
      if (page === null) {
        // Only text that is not valid UTF-8 is left to readPage.
        expect(values[i]).toBe("CAST(X'61FF62' AS TEXT)");
        continue;
      }
      expect(page.text.split("\n"), values[i]).toEqual(expected);
      expect(renderLines(table.name, ["id", "v"], page.text)).toBe(
        renderPage(table.name, ["id", "v"], await readPage(env.DB, table, around)).sql,
      );
    }
    const whole = await digestPage(env.DB, table, bounds);
    expect(whole).toEqual({ rows: lines.length, digest: pageDigest(lines), lastRowid: String(lines.length) });
    expect(lines.length).toBeLessThan(PAGE_ROWS);
  });

  it("splits statements at the same rows as renderPage", async () => {
    const long = `'${"x".repeat(30_000)}'`;
    await seed([long, long, long, long, "'日本語'", long]);
    const page = await readPageLines(env.DB, table, { after: null, upTo: null });
    const sql = renderLines(table.name, ["id", "v"], page?.text ?? "");
    expect(sql).toBe(renderPage(table.name, ["id", "v"], await readPage(env.DB, table, { after: null, upTo: null })).sql);
    expect(sql?.match(/^INSERT/gm)?.length).toBe(2);
  });
});
