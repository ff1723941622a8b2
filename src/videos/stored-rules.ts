import { JSON_MAX_BYTES, JSON_MAX_DEPTH } from "./validators";

/**
 * The validators' rules (validators.ts) written as SQL, one predicate per rule that is true when a
 * stored row breaks it. The same predicates are
 * - the bodies of the BEFORE INSERT / BEFORE UPDATE triggers of migration 0004, so D1 refuses a row
 *   the API would refuse, however it is written (test/db/stored-rules.test.ts derives its cases from
 *   the zod schemas and proves both refuse the same rows, and that the triggers equal this catalog);
 * - the health area's `invariants` check and the migration pre-flight, which find rows stored before
 *   the triggers existed.
 *
 * Triggers, not CHECK constraints: adding a CHECK to an existing table means rebuilding it, and a
 * rebuild of a parent table cascades deletes into its children on D1.
 *
 * Every predicate is NULL-safe (a NULL result would let the row through) and guards JSON functions
 * with CASE, because json_type() on malformed text raises an error instead of answering.
 */

export type RuledTable = "videos" | "video_context" | "memory" | "conversations" | "messages";

export interface StoredRule {
  table: RuledTable;
  /** The column, which is also the API's field name (the data API uses the column names). */
  column: string;
  /** `videos.filename: must not be blank`: the trigger's RAISE message, the health example's text. */
  message: string;
  /** SQL true when the row aliased `row` breaks the rule. */
  violatedBy: (row: string) => string;
}

/** The characters JavaScript's String.prototype.trim() removes, for SQLite's trim(X, Y). */
const javascriptWhitespace = [
  9, 10, 11, 12, 13, 32, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287,
  12288, 65279,
];
const whitespaceSet = `char(${javascriptWhitespace.join(", ")})`;
/** Larger than any finite double: JSON's 1e999 (and SQL's 9e999) read as infinity. */
const largestFinite = "1.7976931348623157e308";

const hasNul = (value: string) => `instr(CAST(${value} AS BLOB), X'00') > 0`;
const notNumber = (value: string) => `typeof(${value}) NOT IN ('integer', 'real')`;
const notFinite = (value: string) => `abs(${value}) > ${largestFinite}`;

/** text(max) of the validators: a string of 1..max characters without NUL. */
const badText = (value: string, max: number) =>
  `(typeof(${value}) != 'text' OR ${value} = '' OR length(${value}) > ${max} OR ${hasNul(value)})`;

/**
 * A pattern `^[first][rest]{0,max-1}$` of the validators, with GLOB: the first character is in
 * `first`, no character is outside `rest`, and at most `max` characters. GLOB stops at a NUL byte,
 * hence the separate NUL test.
 */
const breaksPattern = (value: string, first: string, rest: string, max: number) =>
  `(typeof(${value}) != 'text' OR NOT (${value} GLOB '[${first}]*') OR ${value} GLOB '*[^${rest}]*' OR length(${value}) > ${max} OR ${hasNul(value)})`;

/** jsonObject of the validators: a JSON object of at most JSON_MAX_BYTES bytes, nested at most JSON_MAX_DEPTH deep. */
function badJsonObject(value: string): string {
  // A container at depth JSON_MAX_DEPTH + 1 exists when a chain of JSON_MAX_DEPTH containers hangs
  // below the top-level object. CTEs are not allowed in triggers, so the chain is a join.
  const levels = Array.from({ length: JSON_MAX_DEPTH }, (_, index) => index + 1);
  const chain = levels.map((level) => `json_each(${level === 1 ? value : `d${level - 1}.value`}) AS d${level}`).join(", ");
  const containers = levels.map((level) => `d${level}.type IN ('object', 'array')`).join(" AND ");
  return `(CASE WHEN typeof(${value}) != 'text' OR NOT json_valid(${value}) THEN 1 WHEN json_type(${value}) != 'object' THEN 1 WHEN length(CAST(${value} AS BLOB)) > ${JSON_MAX_BYTES} THEN 1 WHEN EXISTS (SELECT 1 FROM ${chain} WHERE ${containers}) THEN 1 ELSE 0 END)`;
}

/** A member of a JSON object (`$.text`): required says absent fails too. */
const jsonText = (json: string, path: string, max: number, required: boolean) =>
  `(CASE WHEN json_type(${json}, '${path}') IS NULL THEN ${required ? 1 : 0} WHEN json_type(${json}, '${path}') != 'text' THEN 1 ELSE ${badText(`json_extract(${json}, '${path}')`, max)} END)`;
const jsonNumber = (json: string, path: string, condition: (number: string) => string) =>
  `(CASE WHEN json_type(${json}, '${path}') IS NULL THEN 0 WHEN json_type(${json}, '${path}') NOT IN ('integer', 'real') THEN 1 ELSE (${notFinite(`json_extract(${json}, '${path}')`)} OR ${condition(`json_extract(${json}, '${path}')`)}) END)`;
/** `box`: absent, or an array of exactly four finite numbers. */
const badBox = (json: string) =>
  `(CASE WHEN json_type(${json}, '$.box') IS NULL THEN 0 WHEN json_type(${json}, '$.box') != 'array' THEN 1 WHEN json_array_length(${json}, '$.box') != 4 THEN 1 ELSE EXISTS (SELECT 1 FROM json_each(${json}, '$.box') AS b WHERE b.type NOT IN ('integer', 'real') OR ${notFinite("b.value")}) END)`;
/** `$.list` is an array whose every element is an object passing `element`. */
const badList = (json: string, list: string, element: (item: string) => string) =>
  `(CASE WHEN json_type(${json}, '$.${list}') IS NOT 'array' THEN 1 ELSE EXISTS (SELECT 1 FROM json_each(${json}, '$.${list}') AS e WHERE CASE WHEN e.type != 'object' THEN 1 ELSE ${element("e.value")} END) END)`;

/** The type-specific shapes of contextDataShapes, applied when data is an object at all. */
const contextShape = (contextType: string, shape: (data: string) => string) => (row: string) =>
  `(${row}.context_type = '${contextType}' AND CASE WHEN json_valid(${row}.data) AND json_type(${row}.data) = 'object' THEN ${shape(`${row}.data`)} ELSE 0 END)`;

const contextShapeRules: StoredRule[] = [
  {
    column: "data",
    message: "transcript data needs text (1..100000 characters), an optional language (up to 35) and end (>= 0)",
    violatedBy: contextShape(
      "transcript",
      (data) =>
        `(${jsonText(data, "$.text", JSON_MAX_BYTES, true)} OR ${`(CASE WHEN json_type(${data}, '$.language') IS NULL THEN 0 WHEN json_type(${data}, '$.language') != 'text' THEN 1 ELSE length(json_extract(${data}, '$.language')) > 35 END)`} OR ${jsonNumber(data, "$.end", (end) => `${end} < 0`)})`,
    ),
  },
  ...(["caption", "ocr"] as const).map((contextType) => ({
    column: "data",
    message: `${contextType} data needs text (1..100000 characters)`,
    violatedBy: contextShape(contextType, (data) => jsonText(data, "$.text", JSON_MAX_BYTES, true)),
  })),
  {
    column: "data",
    message: "scene data needs description (1..100000 characters)",
    violatedBy: contextShape("scene", (data) => jsonText(data, "$.description", JSON_MAX_BYTES, true)),
  },
  {
    column: "data",
    message: "objects data needs objects: [{ label (1..256 characters), confidence in [0, 1]?, box of 4 numbers? }]",
    violatedBy: contextShape("objects", (data) =>
      badList(
        data,
        "objects",
        (item) =>
          `(${jsonText(item, "$.label", 256, true)} OR ${jsonNumber(item, "$.confidence", (confidence) => `(${confidence} < 0 OR ${confidence} > 1)`)} OR ${badBox(item)})`,
      ),
    ),
  },
  {
    column: "data",
    message: "faces data needs faces: [{ box of 4 numbers? }]",
    violatedBy: contextShape("faces", (data) => badList(data, "faces", badBox)),
  },
].map((rule) => ({ ...rule, table: "video_context" as const, message: `video_context.${rule.message}` }));

const rule = (table: RuledTable, column: string, message: string, violatedBy: (row: string) => string): StoredRule => ({
  table,
  column,
  message: `${table}.${column}: ${message}`,
  violatedBy,
});

const idRule = (table: RuledTable) =>
  rule(table, "id", "1-128 characters: letters, digits, and . _ : - (not first)", (row) =>
    breaksPattern(`${row}.id`, "A-Za-z0-9", "A-Za-z0-9._:-", 128),
  );
const textRule = (table: RuledTable, column: string, max: number) =>
  rule(table, column, `1..${max} characters, no NUL`, (row) => badText(`${row}.${column}`, max));
const notBlankRule = (table: RuledTable, column: string) =>
  rule(
    table,
    column,
    "must not be blank",
    (row) => `(typeof(${row}.${column}) = 'text' AND trim(${row}.${column}, ${whitespaceSet}) = '')`,
  );
const jsonObjectRule = (table: RuledTable, column: string, nullable: boolean) =>
  rule(
    table,
    column,
    `a JSON object of at most ${JSON_MAX_BYTES} bytes, nested at most ${JSON_MAX_DEPTH} deep`,
    (row) => `(${nullable ? `${row}.${column} IS NOT NULL AND ` : ""}${badJsonObject(`${row}.${column}`)})`,
  );
const finiteNonNegativeRule = (table: RuledTable, column: string, nullable: boolean) =>
  rule(
    table,
    column,
    "a finite number >= 0",
    (row) =>
      `(${nullable ? `${row}.${column} IS NOT NULL AND ` : ""}(${notNumber(`${row}.${column}`)} OR ${row}.${column} < 0 OR ${notFinite(`${row}.${column}`)}))`,
  );

export const storedRules: readonly StoredRule[] = [
  idRule("videos"),
  textRule("videos", "filename", 1024),
  notBlankRule("videos", "filename"),
  textRule("videos", "file_path", 4096),
  notBlankRule("videos", "file_path"),
  rule(
    "videos",
    "duration",
    "greater than 0 and at most 10,000,000 seconds",
    (row) => `(${notNumber(`${row}.duration`)} OR ${row}.duration <= 0 OR ${row}.duration > 1e7)`,
  ),
  rule(
    "videos",
    "category",
    "lower-case letters, digits, _ and -, up to 64",
    (row) => `(${row}.category IS NOT NULL AND ${breaksPattern(`${row}.category`, "a-z0-9", "a-z0-9_-", 64)})`,
  ),
  rule(
    "videos",
    "tags",
    "a JSON array of at most 64 unique strings of 1..64 characters",
    (row) =>
      `(${row}.tags IS NOT NULL AND CASE WHEN typeof(${row}.tags) != 'text' OR NOT json_valid(${row}.tags) THEN 1 WHEN json_type(${row}.tags) != 'array' THEN 1 WHEN json_array_length(${row}.tags) > 64 THEN 1 WHEN EXISTS (SELECT 1 FROM json_each(${row}.tags) AS t WHERE t.type != 'text' OR ${badText("t.value", 64)}) THEN 1 ELSE (SELECT count(DISTINCT t.value) FROM json_each(${row}.tags) AS t) != json_array_length(${row}.tags) END)`,
  ),
  jsonObjectRule("videos", "metadata", true),

  rule("video_context", "context_type", "lower-case identifier up to 64 characters", (row) =>
    breaksPattern(`${row}.context_type`, "a-z", "a-z0-9_.-", 64),
  ),
  textRule("video_context", "tool_name", 128),
  finiteNonNegativeRule("video_context", "timestamp", true),
  rule(
    "video_context",
    "confidence",
    "a number between 0 and 1",
    (row) =>
      `(${row}.confidence IS NOT NULL AND (${notNumber(`${row}.confidence`)} OR ${row}.confidence < 0 OR ${row}.confidence > 1))`,
  ),
  jsonObjectRule("video_context", "data", false),
  ...contextShapeRules,

  finiteNonNegativeRule("memory", "timestamp", false),
  textRule("memory", "content", JSON_MAX_BYTES),
  jsonObjectRule("memory", "metadata", true),

  idRule("conversations"),
  rule(
    "conversations",
    "title",
    "at most 512 characters, no NUL",
    (row) =>
      `(${row}.title IS NOT NULL AND (typeof(${row}.title) != 'text' OR length(${row}.title) > 512 OR ${hasNul(`${row}.title`)}))`,
  ),

  textRule("messages", "content", JSON_MAX_BYTES),
  jsonObjectRule("messages", "metadata", true),
];

export const ruledTables: readonly RuledTable[] = ["videos", "video_context", "memory", "conversations", "messages"];

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * The triggers that make D1 enforce the catalog: one BEFORE INSERT and one BEFORE UPDATE per
 * table. The update trigger fires only when a ruled column is written, so soft delete and restore
 * (deleted_at) still work on a row stored before the rules existed.
 */
export function renderRuleTriggers(): string[] {
  return ruledTables.flatMap((table) => {
    const rules = storedRules.filter((candidate) => candidate.table === table);
    const columns = [...new Set(rules.map((candidate) => candidate.column))];
    const body = rules
      .map(
        (candidate) =>
          `  SELECT RAISE(ABORT, ${sqlString(`rule failed: ${candidate.message}`)}) WHERE ${candidate.violatedBy("NEW")};`,
      )
      .join("\n");
    return [
      `CREATE TRIGGER \`${table}_rules_insert\` BEFORE INSERT ON \`${table}\`\nBEGIN\n${body}\nEND;`,
      `CREATE TRIGGER \`${table}_rules_update\` BEFORE UPDATE OF ${columns.map((column) => `\`${column}\``).join(", ")} ON \`${table}\`\nBEGIN\n${body}\nEND;`,
    ];
  });
}

/** Examples listed per broken rule: enough to find the rows, not a dump. */
const EXAMPLES_PER_RULE = 5;

export interface RuleViolation {
  rule: string;
  table: RuledTable;
  column: string;
  count: number;
  /** Ids of offending rows (rowids for tables keyed by an integer). */
  examples: (string | number)[];
}

/**
 * Stored rows breaking the catalog's rules, per rule: a count and a few example ids. Only columns
 * that exist (of `tables`, when given) are scanned, once per rule.
 */
export async function findRuleViolations(d1: D1Database, tables: readonly RuledTable[] = ruledTables): Promise<RuleViolation[]> {
  const { results: present } = await d1
    .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN (${ruledTables.map(sqlString).join(", ")})`)
    .all<{ name: string }>();
  const columns = new Map<string, Set<string>>();
  for (const { name } of present) {
    const { results } = await d1.prepare(`PRAGMA table_info("${name}")`).all<{ name: string }>();
    columns.set(name, new Set(results.map((column) => column.name)));
  }
  const violations: RuleViolation[] = [];
  for (const rule of storedRules) {
    // A column a pending migration has yet to add holds nothing that could break a rule.
    if (!tables.includes(rule.table) || !columns.get(rule.table)?.has(rule.column)) continue;
    const key = rule.table === "videos" || rule.table === "conversations" ? "row.id" : "row.rowid";
    const { results } = await d1
      .prepare(
        `SELECT ${key} AS id, count(*) OVER () AS total FROM "${rule.table}" AS row WHERE ${rule.violatedBy("row")} LIMIT ${EXAMPLES_PER_RULE}`,
      )
      .all<{ id: string | number; total: number }>();
    if (results.length === 0) continue;
    violations.push({
      rule: rule.message,
      table: rule.table,
      column: rule.column,
      count: results[0].total,
      examples: results.map((row) => row.id),
    });
  }
  return violations;
}

/** The tables whose rule triggers a migration creates: rows already there must pass its pre-flight. */
export function tablesRuledBy(upStatements: readonly string[]): RuledTable[] {
  const created = upStatements.flatMap((statement) =>
    [...statement.matchAll(/CREATE\s+TRIGGER\s+[`"]?([a-z_]+)_rules_insert\b/gi)].map((match) => match[1]),
  );
  return ruledTables.filter((table) => created.includes(table));
}
