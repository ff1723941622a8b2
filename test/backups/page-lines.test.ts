import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  digestPage,
  LINES_MAX_BYTES,
  PAGE_QUERIES,
  PAGE_ROWS,
  pageDigest,
  readPage,
  readPageLines,
  rowLine,
} from "../../src/backups/digest";
import { renderLines, renderPage } from "../../src/backups/sql-render";
import { countD1Calls } from "../../src/maintenance/budget";
import { refuseOversizedValues } from "../../src/maintenance/platform-limits";

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
    const reference = (await readPage(env.DB, table, bounds)).rows;
    const lines = reference.map((row) => rowLine(row.literals));
    for (let i = 0; i < values.length; i++) {
      // One special value at a time, with the plain rows around it.
      const around = { after: String(3 * i), upTo: String(3 * i + 3) };
      const expected = (await readPage(env.DB, table, around)).rows.map((row) => rowLine(row.literals));
      const page = await readPageLines(env.DB, table, around);
      if (page === null) {
        // Only text that is not valid UTF-8 is left to readPage.
        expect(values[i]).toBe("CAST(X'61FF62' AS TEXT)");
        continue;
      }
      expect(page.text.split("\n"), values[i]).toEqual(expected);
      expect(renderLines(table.name, ["id", "v"], page.text)).toBe(
        renderPage(table.name, ["id", "v"], (await readPage(env.DB, table, around)).rows).sql,
      );
    }
    const whole = await digestPage(env.DB, table, bounds);
    expect(whole).toEqual({ rows: lines.length, digest: pageDigest(lines), lastRowid: String(lines.length) });
    expect(lines.length).toBeLessThan(PAGE_ROWS);
  });

  it("sees every character SQLite's quote() leaves raw that a line must not hold, one by one", async () => {
    // Every control character (a raw "\n" breaks the line count), DEL and U+FFFD, in text.
    const codes = [...Array.from({ length: 0x20 }, (_, code) => code), 0x7f, 0xfffd];
    await seed(codes.map((code) => `'a' || char(${code}) || 'b'`));
    for (let i = 0; i < codes.length; i++) {
      const around = { after: String(i), upTo: String(i + 1) };
      const expected = (await readPage(env.DB, table, around)).rows.map((row) => rowLine(row.literals));
      expect(expected[0], `char ${codes[i]}`).toMatch(/^\(\d+, CAST\(X'61[0-9A-F]+62' AS TEXT\)\)$/);
      expect((await readPageLines(env.DB, table, around))?.text.split("\n"), `char ${codes[i]}`).toEqual(expected);
    }
  });

  it("splits statements at the same rows as renderPage", async () => {
    const long = `'${"x".repeat(30_000)}'`;
    await seed([long, long, long, long, "'日本語'", long]);
    const page = await readPageLines(env.DB, table, { after: null, upTo: null });
    const sql = renderLines(table.name, ["id", "v"], page?.text ?? "");
    expect(sql).toBe(renderPage(table.name, ["id", "v"], (await readPage(env.DB, table, { after: null, upTo: null })).rows).sql);
    expect(sql?.match(/^INSERT/gm)?.length).toBe(2);
  });

  it("reads a page whose lines join past 1,900,000 bytes value by value, whether D1 refuses the join (production) or not (local)", async () => {
    const long = `'${"x".repeat(90_000)}'`;
    await seed(Array.from({ length: 30 }, () => long));
    const bounds = { after: null, upTo: null };
    // 2.7 MB of lines: production D1 refuses to build the joined value; local D1 builds it.
    expect(await readPageLines(refuseOversizedValues(env.DB), table, bounds)).toBeNull();
    expect(await readPageLines(env.DB, table, bounds)).toBeNull();
    const reference = (await readPage(env.DB, table, bounds)).rows.map((row) => rowLine(row.literals));
    expect(await digestPage(refuseOversizedValues(env.DB), table, bounds)).toEqual({
      rows: 30,
      digest: pageDigest(reference),
      lastRowid: "30",
    });
    // Too long and holding a raw control character: handed back after one query, not asked again.
    await seed(Array.from({ length: 30 }, () => `'${"x".repeat(90_000)}' || char(9)`));
    let queries = 0;
    const counted = countD1Calls(env.DB, () => queries++);
    expect(await readPageLines(counted, table, bounds)).toBeNull();
    expect(queries).toBe(1);
    await seed(Array.from({ length: 30 }, () => long));
    // Within the limit the page is still one joined read.
    const within = await readPageLines(refuseOversizedValues(env.DB), table, { after: null, upTo: "20" });
    expect(within?.rows).toBe(20);
    expect(within?.text.length).toBeLessThanOrEqual(LINES_MAX_BYTES);
  });

  it("fetches long values in hex pieces and re-read text in one batch: two D1 queries for the page, none over 2,000,000 bytes", async () => {
    const invalid = (i: number) => `CAST(X'61FF${i.toString(16).padStart(2, "0")}' AS TEXT)`;
    await seed([
      "randomblob(1500000)",
      ...Array.from({ length: 20 }, (_, i) => invalid(i)),
      `replace(hex(zeroblob(600000)), '00', '''x')`,
      "CAST(randomblob(1200000) AS TEXT)",
      "'plain'",
    ]);
    let queries = 0;
    const limited = countD1Calls(refuseOversizedValues(env.DB), () => queries++);
    const page = await readPage(limited, table, { after: null, upTo: null });
    expect(queries).toBe(2);
    expect(PAGE_QUERIES).toBeGreaterThanOrEqual(2 * 2 + 2);
    const exact = await env.DB.prepare(`SELECT typeof(v) AS type, hex(v) AS hex FROM ${table.name} ORDER BY id`).all<{
      type: string;
      hex: string;
    }>();
    expect(page.rows).toHaveLength(exact.results.length);
    for (let i = 0; i < exact.results.length; i++) {
      const { type, hex } = exact.results[i];
      const literal = page.rows[i].literals[1];
      if (type === "blob") expect(literal).toBe(`X'${hex}'`);
      else if (literal.startsWith("CAST(X'")) expect(literal).toBe(`CAST(X'${hex}' AS TEXT)`);
      // Valid text without control characters stays a quoted literal of the same bytes.
      else
        expect(new TextEncoder().encode(literal.slice(1, -1).replaceAll("''", "'"))).toEqual(
          new Uint8Array(hex.match(/../g)?.map((byte) => Number.parseInt(byte, 16)) ?? []),
        );
    }
    expect(page.rows[21].literals[1].startsWith("'''x")).toBe(true);
  });
});
