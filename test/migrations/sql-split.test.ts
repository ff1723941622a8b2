import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../../src/migrations/apply.service";
import { bundledMigrationFiles } from "../../src/migrations/bundle.generated";
import { loadMigrations, normalizeMigrationText } from "../../src/migrations/catalog";
import { splitMigrationSql, stripSqlComments } from "../../src/migrations/sql-split";
import { getMigrationStatus } from "../../src/migrations/status.service";
import { contextOn, sourceOn, withExtra } from "./support";

/** Comments and whitespace folded away: how two splits of the same text are compared. */
const meaning = (sql: string) => stripSqlComments(sql).replace(/\s+/g, " ").trim();

// Words that look like the keywords the splitter watches, as identifiers in every quoting style.
const identifier = fc.constantFrom("begin", "end", "BEGIN", "End", '"end"', "`begin`", "[end]", "case", "start_s", "end_at", "x");
const stringLiteral = fc
  .array(fc.constantFrom(";", "END", "BEGIN", " ", "--", "/*", "*/", "''", "a", "\n", "CREATE TRIGGER"), { maxLength: 6 })
  .map((parts) => `'${parts.join("")}'`);
const lineComment = fc
  .array(fc.constantFrom(";", " END", " BEGIN ", "'", '"', "x", "/*"), { maxLength: 4 })
  .map((parts) => `-- ${parts.join("")}\n`);
const blockComment = fc
  .array(fc.constantFrom(";", " END ", " BEGIN ", "'", "-- ", "x"), { maxLength: 4 })
  .map((parts) => `/* ${parts.join("")} */`);
const gap = fc.oneof(
  { weight: 4, arbitrary: fc.constant(" ") },
  { weight: 1, arbitrary: fc.constant("\n  ") },
  { weight: 1, arbitrary: lineComment },
  { weight: 1, arbitrary: blockComment.map((comment) => ` ${comment} `) },
);
const { expression } = fc.letrec<{ expression: string }>((tie) => ({
  expression: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    identifier,
    identifier.map((name) => `NEW.${name}`),
    identifier.map((name) => `OLD . ${name}`),
    stringLiteral,
    fc.integer({ min: 0, max: 99 }).map(String),
    fc
      .tuple(tie("expression"), tie("expression"), tie("expression"))
      .map(([when, then, otherwise]) => `CASE WHEN ${when} THEN ${then} ELSE ${otherwise} END`),
  ),
}));
const bodyStatement = fc.oneof(
  fc
    .tuple(identifier, expression, gap, expression)
    .map(([column, value, space, where]) => `UPDATE t SET ${column} = ${value}${space}WHERE id = ${where}`),
  fc.tuple(identifier, expression).map(([column, value]) => `INSERT INTO log (${column}) VALUES (${value})`),
  fc.tuple(identifier, expression).map(([column, value]) => `DELETE FROM t WHERE ${column} = ${value}`),
  expression.map((value) => `SELECT ${value}`),
);
const trigger = fc
  .tuple(fc.array(fc.tuple(bodyStatement, gap), { minLength: 1, maxLength: 4 }), gap, fc.option(expression))
  .map(
    ([body, beforeEnd, when]) =>
      `CREATE TRIGGER t_guard AFTER UPDATE ON t${when === null ? "" : ` WHEN ${when}`} BEGIN\n  ${body
        .map(([statement, space]) => `${statement};${space}`)
        .join("")}${beforeEnd}END`,
  );
const createTable = fc
  .tuple(identifier, identifier, stringLiteral)
  .map(([a, b, text]) => `CREATE TABLE t (id integer, ${a} integer, ${b} text DEFAULT ${text})`);
const statement = fc.oneof(trigger, createTable, bodyStatement);
const separator = fc.constantFrom(
  ";\n",
  "; ",
  ";\n--> statement-breakpoint\n",
  ";--> statement-breakpoint\n",
  ";\n-- next;\n",
  "; /* ; */\n",
);

/** Video apps have start/end columns: a trigger body that reads NEW.end and sets begin. */
const segmentsMigration = `CREATE TABLE segments (id integer PRIMARY KEY, begin integer, end integer, length integer);
CREATE TRIGGER segments_length AFTER UPDATE OF end ON segments BEGIN
  UPDATE segments SET length = NEW.end - NEW.begin WHERE id = NEW.id;
  UPDATE segments SET begin = 0 WHERE id = NEW.id AND NEW.begin IS NULL;
END;
CREATE INDEX segments_end ON segments (end);`;

describe("splitMigrationSql", () => {
  it("splits any mix of triggers, strings, comments and keyword-named columns into the statements written", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(statement, separator), { minLength: 1, maxLength: 6 }), (parts) => {
        const file = parts.map(([sql, end]) => `${sql}${end}`).join("");
        expect(splitMigrationSql(file).map(meaning)).toEqual(parts.map(([sql]) => meaning(sql)));
      }),
      { numRuns: 400 },
    );
  });

  it("keeps a trigger that uses NEW.end and SET begin = 0 whole", () => {
    const statements = splitMigrationSql(segmentsMigration);
    expect(statements).toHaveLength(3);
    expect(statements[1]).toMatch(
      /^CREATE TRIGGER segments_length .*SET begin = 0 WHERE id = NEW\.id AND NEW\.begin IS NULL;\s+END$/s,
    );
  });

  it("applies such a trigger on D1 and it works", async () => {
    const up = segmentsMigration;
    const db = env.MIGRATIONS_SERVICE_DB;
    const source = await sourceOn(db, withExtra({ name: "9100_segments.sql", up, down: "DROP TABLE segments;" }));
    await applyMigrations({ ctx: contextOn(db), input: { dryRun: false, force: false }, source });
    await db.prepare("INSERT INTO segments (id, begin, end) VALUES (1, 10, 10), (2, NULL, 10)").run();
    await db.prepare("UPDATE segments SET end = 25").run();
    const { results } = await db.prepare("SELECT id, begin, length FROM segments ORDER BY id").all();
    expect(results).toEqual([
      { id: 1, begin: 10, length: 15 },
      { id: 2, begin: 0, length: null },
    ]);
    expect(await db.prepare("SELECT name FROM sqlite_schema WHERE name = 'segments_end'").first("name")).toBe("segments_end");
  });
});

describe("migration checksums", () => {
  it("are the same for a CRLF or BOM checkout of the same file", async () => {
    const lf = await loadMigrations(bundledMigrationFiles);
    const windows = await loadMigrations(
      bundledMigrationFiles.map((file) => ({
        ...file,
        up: file.up === null ? null : `\uFEFF${file.up.replaceAll("\n", "\r\n")}`,
        down: file.down === null ? null : file.down.replaceAll("\n", "\r\n"),
      })),
    );
    expect(windows.map((migration) => migration.checksum)).toEqual(lf.map((migration) => migration.checksum));
    expect(windows.map((migration) => migration.upStatements)).toEqual(lf.map((migration) => migration.upStatements));
    expect(normalizeMigrationText("a\r\nb\rc\n")).toBe("a\nb\nc\n");
  });

  it("a database migrated from LF files reports no drift against a CRLF checkout", async () => {
    const db = env.MIGRATIONS_SERVICE_DB;
    const source = await sourceOn(db);
    await applyMigrations({ ctx: contextOn(db), input: { dryRun: false, force: false }, source });
    const crlf = {
      ...source,
      migrations: await loadMigrations(
        bundledMigrationFiles.map((file) => ({ ...file, up: file.up?.replaceAll("\n", "\r\n") ?? null })),
      ),
    };
    const status = await getMigrationStatus({ ctx: contextOn(db), source: crlf });
    expect(status.drift).toEqual([]);
    expect(status.ok).toBe(true);
  });
});
