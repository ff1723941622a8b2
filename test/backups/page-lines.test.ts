import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { digestPage, LINES_MAX_BYTES, PAGE_ROWS, pageDigest, readPage, readPageLines, rowLine } from "../../src/backups/digest";
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

  it("never asks D1 for a value over its 2,000,000-byte limit: rows too long to join are read value by value", async () => {
    const long = `'${"x".repeat(90_000)}'`;
    await seed(Array.from({ length: 30 }, () => long));
    // Every string D1 hands back, by its UTF-8 size (local D1 does not enforce production's limit).
    let largest = 0;
    const measured = new Proxy(env.DB, {
      get(target, property) {
        if (property !== "prepare") return Reflect.get(target, property).bind?.(target) ?? Reflect.get(target, property);
        return (sql: string) => {
          const statement = target.prepare(sql);
          const bound = (s: D1PreparedStatement): D1PreparedStatement =>
            new Proxy(s, {
              get(inner, name) {
                if (name === "bind") return (...args: unknown[]) => bound(inner.bind(...args));
                if (name !== "raw") return Reflect.get(inner, name).bind?.(inner) ?? Reflect.get(inner, name);
                return async () => {
                  const rows = (await inner.raw()) as unknown[][];
                  for (const value of rows.flat())
                    if (typeof value === "string") largest = Math.max(largest, new TextEncoder().encode(value).length);
                  return rows;
                };
              },
            });
          return bound(statement);
        };
      },
    });
    const bounds = { after: null, upTo: null };
    expect(await readPageLines(measured, table, bounds)).toBeNull();
    expect(largest).toBeLessThanOrEqual(LINES_MAX_BYTES);
    const reference = (await readPage(env.DB, table, bounds)).map((row) => rowLine(row.literals));
    expect(await digestPage(env.DB, table, bounds)).toEqual({ rows: 30, digest: pageDigest(reference), lastRowid: "30" });
    // Within the limit the page is still one joined read.
    const within = await readPageLines(measured, table, { after: null, upTo: "20" });
    expect(within?.rows).toBe(20);
  });
});
