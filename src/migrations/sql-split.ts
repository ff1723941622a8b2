/**
 * Turns a migration file into the statements D1 runs one by one in a batch. drizzle-kit writes
 * `--> statement-breakpoint` between statements; hand-written files may not, so each chunk is also
 * split on semicolons that are outside quotes, comments and trigger bodies (see `splitOnSemicolons`).
 * Pure string code: the Worker and the Node-side lint both use it.
 */
export const statementBreakpoint = "--> statement-breakpoint";

export function splitMigrationSql(sql: string): string[] {
  return sql
    .split(statementBreakpoint)
    .flatMap(splitOnSemicolons)
    .map((statement) => statement.trim())
    .filter((statement) => stripSqlComments(statement).trim() !== "");
}

/** The statement without `--` and `/* *\/` comments (string literals left intact). */
export function stripSqlComments(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const char = sql[i];
    if (char === "'" || char === '"' || char === "`" || char === "[") {
      const end = closingQuoteIndex(sql, i);
      out += sql.slice(i, end + 1);
      i = end + 1;
    } else if (char === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end;
    } else if (char === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
      out += " ";
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

function closingQuoteIndex(sql: string, start: number): number {
  const close = sql[start] === "[" ? "]" : sql[start];
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === close) {
      // A doubled quote is an escaped quote inside the literal.
      if (close !== "]" && sql[i + 1] === close) {
        i += 2;
        continue;
      }
      return i;
    }
    i++;
  }
  return sql.length - 1;
}

const createTrigger = /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i;

/**
 * Splits on semicolons outside quotes, comments and trigger bodies. SQLite's grammar makes a trigger
 * body `BEGIN (statement ;)+ END`, so the body ends at the first END that directly follows a body
 * statement's semicolon; an END anywhere else (a CASE … END, a column `NEW.end`) and a BEGIN that
 * is a column (`SET begin = 1`) leave the body open.
 */
function splitOnSemicolons(chunk: string): string[] {
  const statements: string[] = [];
  let current = "";
  // The last character outside whitespace and comments: tells `NEW.end` (after ".") and a body's
  // closing END (after ";") from other words.
  let previous = "";
  let inTriggerBody = false;
  let i = 0;
  while (i < chunk.length) {
    const char = chunk[i];
    if (char === "'" || char === '"' || char === "`" || char === "[") {
      const end = closingQuoteIndex(chunk, i);
      current += chunk.slice(i, end + 1);
      i = end + 1;
      previous = char;
      continue;
    }
    if (char === "-" && chunk[i + 1] === "-") {
      const end = chunk.indexOf("\n", i);
      const stop = end === -1 ? chunk.length : end;
      current += chunk.slice(i, stop);
      i = stop;
      continue;
    }
    if (char === "/" && chunk[i + 1] === "*") {
      const end = chunk.indexOf("*/", i + 2);
      const stop = end === -1 ? chunk.length : end + 2;
      current += chunk.slice(i, stop);
      i = stop;
      continue;
    }
    if (/[A-Za-z_]/.test(char) && (i === 0 || !/[A-Za-z0-9_$]/.test(chunk[i - 1]))) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(chunk.slice(i))?.[0] ?? char;
      const keyword = previous === "." ? "" : word.toUpperCase();
      if (keyword === "BEGIN" && !inTriggerBody && createTrigger.test(stripSqlComments(current))) inTriggerBody = true;
      else if (keyword === "END" && inTriggerBody && previous === ";") inTriggerBody = false;
      current += word;
      i += word.length;
      previous = "w";
      continue;
    }
    if (char === ";" && !inTriggerBody) {
      statements.push(current);
      current = "";
      previous = "";
      i++;
      continue;
    }
    current += char;
    if (!/\s/.test(char)) previous = char;
    i++;
  }
  statements.push(current);
  return statements;
}
