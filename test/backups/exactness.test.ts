import { env } from "cloudflare:workers";
import { zstdCompressSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { digestTable } from "../../src/backups/digest";
import { at } from "../archival/support";
import { seedVideo } from "../support/factories";
import { backupNow, exactRows, hex, manifestOf, now, objectSql, restore, statementsOf } from "./support";

const probeColumns = ["a", "b", "c", "d", "e"];
/** No declared type (so no affinity) for a, b, c; d REAL and e TEXT convert on insert, as users' columns do. */
const createProbe = `CREATE TABLE IF NOT EXISTS value_probe (id INTEGER PRIMARY KEY, a, b, c, d REAL, e TEXT)`;

/** A REAL as SQL text: SQLite parses it to whatever double it parses it to; both sides compare that. */
function realLiteral(x: number): string {
  if (x === Number.POSITIVE_INFINITY) return "9e999";
  if (x === Number.NEGATIVE_INFINITY) return "-9e999";
  const text = Object.is(x, -0) ? "-0" : String(x);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** Every SQLite storage class, written as raw SQL: what a row written around the API may hold. */
const storedValue = fc.oneof(
  fc.constant("NULL"),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.constantFrom(2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n).map(String),
  fc.double({ noNaN: true }).map(realLiteral),
  fc.constantFrom(
    "5e-324",
    "2.2250738585072014e-308",
    "1e-300",
    "1.7976931348623157e308",
    "1.2345678901234567e-10",
    "3e-20",
    "0.30000000000000004",
  ),
  // D1 ends SQL text at a NUL, so NUL reaches TEXT through the byte generator below instead.
  fc
    .string({ unit: "binary", maxLength: 30 })
    .filter((s) => !s.includes("\u0000"))
    .map((s) => `'${s.replaceAll("'", "''")}'`),
  fc.uint8Array({ maxLength: 30 }).map((bytes) => `CAST(X'${hex(bytes)}' AS TEXT)`),
  fc.constantFrom("CAST(X'41EDA08042' AS TEXT)", "CAST(X'410042' AS TEXT)", "'a' || char(10) || 'b'", "'\uFFFD'", "''"),
  fc.uint8Array({ maxLength: 30 }).map((bytes) => `X'${hex(bytes)}'`),
);

async function scratchTables() {
  const { results } = await env.SCRATCH_DB.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all<{ name: string }>();
  return results.map((row) => row.name);
}

describe("backups restore every stored value exactly", () => {
  it("property: any rows over the full value space → backup → verify → restore into SCRATCH_DB are equal by typeof/quote/hex", async () => {
    await env.DB.exec(createProbe);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(storedValue, { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 12 }),
        async (rows) => {
          await env.DB.exec("DELETE FROM value_probe");
          await env.DB.batch(
            rows.map((row) => env.DB.prepare(`INSERT INTO value_probe (a, b, c, d, e) VALUES (${row.join(", ")})`)),
          );
          const backup = await backupNow();
          expect(backup.body.complete, JSON.stringify(backup.body.run)).toBe(true);
          const verified = await at(now, "POST", `/admin/backups/${backup.id}/verify`);
          expect(verified.body, JSON.stringify(verified.body)).toMatchObject({ ok: true });
          const restored = await restore(backup.id, { target: "scratch", force: true, tables: ["value_probe"] });
          expect(restored.body, JSON.stringify(restored.body)).toMatchObject({ verified: true, run: { status: "succeeded" } });
          expect(await exactRows(env.SCRATCH_DB, "value_probe", probeColumns)).toEqual(
            await exactRows(env.DB, "value_probe", probeColumns),
          );
        },
      ),
      { numRuns: 10 },
    );
    await env.DB.exec("DROP TABLE value_probe");
    expect(await scratchTables()).toContain("value_probe");
  }, 180_000);

  it("small and extreme REALs keep every digit (1.2345678901234567e-10 and 3e-20 came back wrong)", async () => {
    const video = await seedVideo();
    const reals = ["1.2345678901234567e-10", "3e-20", "5e-324", "1e-300", "1.7976931348623157e308", "0.30000000000000004"];
    await env.DB.batch(
      reals.map((real, i) =>
        env.DB.prepare(`INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, ${real}, ?, 1)`).bind(
          video.id,
          `real ${i}`,
        ),
      ),
    );
    const source = await exactRows(env.DB, "memory", ["timestamp"]);
    const backup = await backupNow();
    expect((await at(now, "POST", `/admin/backups/${backup.id}/verify`)).body.ok).toBe(true);
    expect((await restore(backup.id, { target: "scratch", force: true })).body.verified).toBe(true);
    expect(await exactRows(env.SCRATCH_DB, "memory", ["timestamp"])).toEqual(source);
  });

  it("TEXT that is not valid UTF-8 keeps its bytes (it was restored as U+FFFD and still called verified)", async () => {
    const video = await seedVideo();
    await env.DB.prepare("UPDATE videos SET filename = CAST(X'41EDA08042' AS TEXT), file_path = ? WHERE id = ?")
      .bind("\ud800", video.id)
      .run();
    const source = await exactRows(env.DB, "videos", ["filename", "file_path"]);
    const backup = await backupNow();
    expect((await at(now, "POST", `/admin/backups/${backup.id}/verify`)).body.ok).toBe(true);
    expect((await restore(backup.id, { target: "scratch", force: true })).body.verified).toBe(true);
    expect(await exactRows(env.SCRATCH_DB, "videos", ["filename", "file_path"])).toEqual(source);
    const [restored] = await env.SCRATCH_DB.prepare("SELECT hex(filename) FROM videos WHERE id = ?").bind(video.id).raw();
    expect(restored[0]).toBe("41EDA08042");
  });

  it("every statement stays within 100,000 bytes, a single row of 2 MB included, and the values come back whole", async () => {
    const video = await seedVideo();
    const cjk = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7 + seed) % 20000))).join("");
    const rows = [
      env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, 1.0, ?, 1)").bind(
        video.id,
        cjk(40_000, 1),
      ),
      ...Array.from({ length: 200 }, (_, i) =>
        env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, 2.0, ?, 1)").bind(
          video.id,
          cjk(1000, i),
        ),
      ),
      // A 700,000-character JSON value (2 MB of UTF-8) in a column with CHECK (json_valid(detail)):
      // no prefix of it may ever be inserted on its own. (The app tables' rules cap their values at
      // 100,000 characters; an operations table holds the 2 MB value.)
      env.DB.prepare("INSERT INTO keeper_audit_log (at, actor, action, target, detail) VALUES (1, 'test', 'big', ?, ?)").bind(
        video.id,
        JSON.stringify({ text: cjk(699_980, 3) }),
      ),
    ];
    await env.DB.batch(rows);
    // Parts a replay that stopped half way left behind, in both databases: never backed up, never mixed in.
    for (const d1 of [env.DB, env.SCRATCH_DB])
      await d1.exec(
        `CREATE TABLE IF NOT EXISTS keeper_restore_parts ("value" INTEGER NOT NULL, "part" BLOB NOT NULL); INSERT INTO keeper_restore_parts VALUES (3, X'2C');`,
      );
    const backup = await backupNow();
    expect(backup.body.complete, JSON.stringify(backup.body.run)).toBe(true);
    const manifest = await manifestOf(backup.id);
    expect(manifest.tables.map((t: { name: string }) => t.name)).not.toContain("keeper_restore_parts");
    const encoder = new TextEncoder();
    const sizes = statementsOf(await objectSql(manifest.objects)).map((statement) => encoder.encode(statement).byteLength);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100_000);
    expect((await at(now, "POST", `/admin/backups/${backup.id}/verify`)).body.ok).toBe(true);
    const restored = await restore(backup.id, { target: "scratch", force: true });
    expect(restored.body, JSON.stringify(restored.body).slice(0, 500)).toMatchObject({ verified: true });
    const digest = (d1: D1Database) =>
      d1.prepare("SELECT count(*) AS n, sum(length(CAST(content AS BLOB))) AS c, sum(length(metadata)) AS m FROM memory").first();
    expect(await digest(env.SCRATCH_DB)).toEqual(await digest(env.DB));
    const big = (d1: D1Database) =>
      d1
        .prepare("SELECT length(detail) AS n, hex(substr(detail, 699000)) AS tail FROM keeper_audit_log WHERE action = 'big'")
        .first();
    expect(await big(env.SCRATCH_DB)).toEqual(await big(env.DB));
  });

  it("rows near D1's 2 MB: long values of every kind come back exact, and pages of wide rows end early", async () => {
    const columns = ["a", "b"];
    const wide = [
      // Each value's SQL builds it inside SQLite: the statements stay small.
      ["randomblob(1500000)", "NULL"],
      // 1.4 MB of text holding quotes and CJK (quote() would double every quote).
      [`replace(hex(zeroblob(200000)), '00', '日''本')`, "1"],
      // Text that is not valid UTF-8 (random bytes), and text of NULs.
      ["CAST(randomblob(1100000) AS TEXT)", "2.5"],
      ["CAST(zeroblob(1000000) AS TEXT)", "'x'"],
      // Valid text with line breaks, just under the long-value size.
      [`replace(hex(zeroblob(480000)), '00', 'a' || char(10))`, "NULL"],
      // Two values in one row of 1.4 MB.
      [`replace(hex(zeroblob(475000)), '00', 'b')`, "zeroblob(950000)"],
      // Rows of 90 KB: their lines join past 1.9 MB, so they are read value by value too.
      ...Array.from({ length: 40 }, (_, i) => [
        `replace(hex(zeroblob(45000)), '00', 'a${String.fromCharCode(97 + (i % 26))}')`,
        `${i}`,
      ]),
    ];
    for (const d1 of [env.DB, env.SCRATCH_DB]) await d1.prepare("DROP TABLE IF EXISTS wide_probe").run();
    await env.DB.prepare("CREATE TABLE wide_probe (id INTEGER PRIMARY KEY, a, b)").run();
    for (const [a, b] of wide) await env.DB.prepare(`INSERT INTO wide_probe (a, b) VALUES (${a}, ${b})`).run();
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM wide_probe WHERE typeof(a) = 'text' AND a GLOB '*[^ -~]*'").first("n"),
    ).toBeGreaterThan(0);
    // Under the suite's production limits, a query that built a value over 2,000,000 bytes fails the backup.
    const backup = await backupNow();
    expect(backup.body.complete, JSON.stringify(backup.body.run)).toBe(true);
    const manifest = await manifestOf(backup.id);
    const table = manifest.tables.find((t: { name: string }) => t.name === "wide_probe");
    expect(table.rows).toBe(wide.length);
    // A page ends at the last row that starts within 4,000,000 bytes of values: 1.5 + 1.4 + 1.1 MB;
    // then 1.0 + 0.96 + 1.425 MB and seven 90 KB rows; then the other 33 rows of 90 KB.
    expect(table.page_rows).toEqual([3, 10, 33]);
    // The live table digested along the recorded pages gives the manifest's digest.
    const live = await digestTable(
      env.DB,
      { name: "wide_probe", columns: table.columns, rowidAlias: table.rowid_alias },
      table.page_rows,
    );
    expect(live).toEqual({ rows: wide.length, sha256: table.sha256 });
    expect((await at(now, "POST", `/admin/backups/${backup.id}/verify`)).body.ok).toBe(true);
    const restored = await restore(backup.id, { target: "scratch", force: true, tables: ["wide_probe"] });
    expect(restored.body, JSON.stringify(restored.body).slice(0, 500)).toMatchObject({ verified: true });
    expect(await exactRows(env.SCRATCH_DB, "wide_probe", columns)).toEqual(await exactRows(env.DB, "wide_probe", columns));
    for (const d1 of [env.DB, env.SCRATCH_DB]) await d1.prepare("DROP TABLE IF EXISTS wide_probe").run();
  });

  it("verify re-reads the values: a dump whose literal differs from its digest fails verify", async () => {
    const video = await seedVideo();
    await env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, 0.125, 'x', 1)")
      .bind(video.id)
      .run();
    const backup = await backupNow();
    const manifest = await manifestOf(backup.id);
    const memory = manifest.objects.find((o: { table: string }) => o.table === "memory");
    const sql = await objectSql([memory]);
    expect(sql).toContain("0.125");
    // The same object, correctly compressed and with a matching sha256, but one value changed.
    const bytes = new TextEncoder().encode(sql.replace("0.125", "0.126"));
    const frames: Uint8Array[] = [];
    for (let start = 0; start < bytes.byteLength; start += 32 * 1024)
      frames.push(new Uint8Array(zstdCompressSync(bytes.subarray(start, start + 32 * 1024))));
    const tampered = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
    let offset = 0;
    for (const frame of frames) {
      tampered.set(frame, offset);
      offset += frame.byteLength;
    }
    await env.BACKUPS.put(memory.key, tampered);
    const sha256 = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", tampered))).toLowerCase();
    const patched = {
      ...manifest,
      objects: manifest.objects.map((o: { key: string }) =>
        o.key === memory.key ? { ...o, sha256, frames: frames.map((f) => f.byteLength), bytes: tampered.byteLength } : o,
      ),
    };
    await env.BACKUPS.put(`backups/${backup.id}/manifest.json`, JSON.stringify(patched));
    const verify = await at(now, "POST", `/admin/backups/${backup.id}/verify`);
    expect(verify.body.ok).toBe(false);
    expect(verify.body.problems.join("\n")).toContain(`${memory.key}: the values do not match the digest of its pages`);
    // A manifest without objects' page digests (written before they were recorded) is checked by the table's digest.
    const older = { ...patched, objects: patched.objects.map(({ pages_sha256, ...o }: { pages_sha256?: string }) => o) };
    await env.BACKUPS.put(`backups/${backup.id}/manifest.json`, JSON.stringify(older));
    const again = await at(now, "POST", `/admin/backups/${backup.id}/verify`);
    expect(again.body.problems.join("\n")).toContain(
      "table memory: the values in its objects do not match the manifest's digest",
    );
  });
});
