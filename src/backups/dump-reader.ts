import { textLiteral } from "./digest";
import { PARTS_TABLE, stagedValue } from "./sql-render";

/**
 * Reads the values back out of a dump's SQL, line by line, the way sqlite3 would insert them: every
 * VALUES line and staged row must be a list of exact literals (nothing else is accepted), and each
 * row comes out as the same line of literals its page digest was computed from. Verify hashes these
 * lines, so a dump whose statements would insert anything but the values read fails verify.
 */

const LITERAL = String.raw`NULL|-?\d+(?:\.\d+)?(?:e[+-]\d+)?|'[^']*(?:''[^']*)*'|X'(?:[0-9A-F]{2})*'|CAST\(X'(?:[0-9A-F]{2})*' AS TEXT\)`;
const STAGED = String.raw`\(SELECT CAST\(group_concat\(part, ''\) AS (?:TEXT|BLOB)\) FROM \(SELECT part FROM "${PARTS_TABLE}" WHERE value = \d+ ORDER BY rowid\)\)`;
/** A whole VALUES line of exactly `columns` literals, as one regular expression (one native match per row). */
const valuesLine = (columns: number) => new RegExp(`^\\((?:${LITERAL})(?:, (?:${LITERAL})){${columns - 1}}\\)[,;]$`);
const STAGED_ROW_TOKEN = new RegExp(`(${LITERAL}|${STAGED})(?:, |$)`, "y");
const PART_LINE = new RegExp(
  String.raw`^INSERT INTO "${PARTS_TABLE}" \("value", "part"\) VALUES \((\d+), X'((?:[0-9A-F]{2})*)'\);$`,
);
const STAGED_TYPE = /AS (TEXT|BLOB)\) FROM .* WHERE value = (\d+) /;
const INSERT_HEAD = /^INSERT INTO "((?:[^"]|"")+)" \(((?:"(?:[^"]|"")*"(?:, )?)+)\)/;

export interface DumpRow {
  table: string;
  line: string;
}

/**
 * A reader of one object's lines. `push` takes each line in order and returns the rows it
 * completes; it throws on any line that is not part of the format.
 */
export class DumpReader {
  private table: string | null = null;
  private columns = 0;
  private rowPattern = /^$/;
  private readonly parts = new Map<number, string[]>();

  private head(line: string): { table: string; columns: number; rest: string } {
    const match = INSERT_HEAD.exec(line);
    if (!match) throw new Error(`not an INSERT: ${line.slice(0, 80)}`);
    return {
      table: match[1].replaceAll('""', '"'),
      columns: match[2].split('", "').length,
      rest: line.slice(match[0].length),
    };
  }

  push(line: string): DumpRow | null {
    if (line.length === 0 || line.startsWith("PRAGMA ")) return null;
    if (line.charCodeAt(0) === 40 /* ( */) {
      if (this.table === null) throw new Error("a row outside an INSERT");
      const row = line.slice(0, -1);
      if (!this.rowPattern.test(line))
        throw new Error(`${this.table}: a row that is not a list of ${this.columns} literals: ${line.slice(0, 80)}`);
      if (line.endsWith(";")) {
        const table = this.table;
        this.table = null;
        return { table, line: row };
      }
      return { table: this.table, line: row };
    }
    const part = PART_LINE.exec(line);
    if (part) {
      const value = Number(part[1]);
      this.parts.set(value, [...(this.parts.get(value) ?? []), part[2]]);
      return null;
    }
    if (
      line.startsWith(`CREATE TABLE IF NOT EXISTS "${PARTS_TABLE}" `) ||
      line === `DELETE FROM "${PARTS_TABLE}";` ||
      line === `DROP TABLE "${PARTS_TABLE}";`
    ) {
      this.parts.clear();
      return null;
    }
    const head = this.head(line);
    if (head.rest === " VALUES") {
      this.table = head.table;
      if (head.columns !== this.columns) this.rowPattern = valuesLine(head.columns);
      this.columns = head.columns;
      return null;
    }
    if (!head.rest.startsWith(" SELECT ") || !head.rest.endsWith(";"))
      throw new Error(`${head.table}: an INSERT that is neither VALUES nor staged: ${line.slice(0, 80)}`);
    return { table: head.table, line: `(${this.stagedRow(head.table, head.rest.slice(8, -1), head.columns)})` };
  }

  private stagedRow(table: string, list: string, columns: number): string {
    const literals: string[] = [];
    STAGED_ROW_TOKEN.lastIndex = 0;
    while (STAGED_ROW_TOKEN.lastIndex < list.length) {
      const match = STAGED_ROW_TOKEN.exec(list);
      if (!match) throw new Error(`${table}: a staged row that is not a list of literals`);
      literals.push(match[1].startsWith("(SELECT ") ? this.assemble(match[1]) : match[1]);
    }
    if (literals.length !== columns) throw new Error(`${table}: a staged row with the wrong number of values`);
    return literals.join(", ");
  }

  private assemble(expression: string): string {
    const [, type, value] = STAGED_TYPE.exec(expression) ?? [];
    const chunks = this.parts.get(Number(value));
    if (!chunks || expression !== stagedValue(Number(value), type as "TEXT" | "BLOB"))
      throw new Error(`staged value ${value} has no parts`);
    const hex = chunks.join("");
    return type === "BLOB" ? `X'${hex}'` : textLiteral(hex);
  }
}
