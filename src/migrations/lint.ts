import { downFileProblem, type MigrationFile, migrationNumber } from "./catalog";
import { splitMigrationSql, stripSqlComments } from "./sql-split";

/**
 * Safety lint over the migration files (pure: the Worker runs it on its bundled files, and
 * `npm run db:lint` on drizzle/ in CI). Errors fail CI; warnings and notes explain risks a reviewer
 * should look at. A file may acknowledge a finding with `-- keeper:allow <rule> <reason>`, which
 * turns that rule's errors in that file into warnings (still reported).
 */
export type LintSeverity = "error" | "warning" | "info";

export type LintRule =
  | "invalid-name"
  | "missing-down"
  | "orphan-down"
  | "unfilled-down"
  | "transaction-control"
  | "pragma-foreign-keys"
  | "parent-table-rebuild"
  | "table-rebuild"
  | "drop-parent-table"
  | "drop-table"
  | "drop-column";

export interface LintFinding {
  file: string;
  direction: "up" | "down";
  rule: LintRule;
  severity: LintSeverity;
  /** 1-based statement position within the file, when the finding is about one statement. */
  statement: number | null;
  message: string;
}

export interface LintReport {
  ok: boolean;
  files: number;
  errors: number;
  warnings: number;
  findings: LintFinding[];
}

const identifier = '[`"\\[]?([A-Za-z_][A-Za-z0-9_$]*)[`"\\]]?';
const createTable = new RegExp(`^CREATE\\s+(?:TEMP\\s+|TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${identifier}`, "i");
const dropTable = new RegExp(`^DROP\\s+TABLE\\s+(?:IF\\s+EXISTS\\s+)?${identifier}`, "i");
const renameTable = new RegExp(`^ALTER\\s+TABLE\\s+${identifier}\\s+RENAME\\s+TO\\s+${identifier}`, "i");
const dropColumn = new RegExp(`^ALTER\\s+TABLE\\s+${identifier}\\s+DROP\\s+(?:COLUMN\\s+)?${identifier}`, "i");
const references = new RegExp(`REFERENCES\\s+${identifier}`, "gi");
const transactionControl = /^(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;
const pragmaForeignKeys = /^PRAGMA\s+(?:[A-Za-z_]+\.)?foreign_keys\b/i;

/** Which tables reference which: enough of the schema to know who the parents are. */
class ForeignKeyModel {
  private readonly parentsOf = new Map<string, Set<string>>();

  clone(): ForeignKeyModel {
    const copy = new ForeignKeyModel();
    for (const [table, parents] of this.parentsOf) copy.parentsOf.set(table, new Set(parents));
    return copy;
  }

  apply(statement: string): void {
    const sql = stripSqlComments(statement).trim();
    const created = createTable.exec(sql);
    if (created) {
      const table = created[1].toLowerCase();
      const parents = new Set([...sql.matchAll(references)].map((match) => match[1].toLowerCase()));
      this.parentsOf.set(table, parents);
      return;
    }
    const dropped = dropTable.exec(sql);
    if (dropped) {
      this.parentsOf.delete(dropped[1].toLowerCase());
      return;
    }
    const renamed = renameTable.exec(sql);
    if (renamed) {
      const [from, to] = [renamed[1].toLowerCase(), renamed[2].toLowerCase()];
      const parents = this.parentsOf.get(from);
      this.parentsOf.delete(from);
      if (parents) this.parentsOf.set(to, parents);
    }
  }

  /** Tables (other than the table itself) whose foreign keys point at it. */
  childrenOf(table: string): string[] {
    const name = table.toLowerCase();
    return [...this.parentsOf.entries()]
      .filter(([child, parents]) => child !== name && parents.has(name))
      .map(([child]) => child);
  }
}

function acknowledgedRules(sql: string): Set<string> {
  return new Set([...sql.matchAll(/--\s*keeper:allow\s+([a-z-]+)/g)].map((match) => match[1]));
}

function lintStatements(
  statements: string[],
  direction: "up" | "down",
  model: ForeignKeyModel,
  report: (finding: Omit<LintFinding, "file" | "direction">) => void,
): void {
  const sqls = statements.map((statement) => stripSqlComments(statement).trim());
  // A rebuild is CREATE TABLE x_new … DROP TABLE x … ALTER TABLE x_new RENAME TO x (drizzle-kit's pattern).
  const rebuilt = new Set<string>();
  for (const sql of sqls) {
    const renamed = renameTable.exec(sql);
    if (renamed) rebuilt.add(renamed[2].toLowerCase());
  }
  sqls.forEach((sql, index) => {
    const statement = index + 1;
    if (transactionControl.test(sql)) {
      report({
        rule: "transaction-control",
        severity: "error",
        statement,
        message: `${sql.split(/\s/)[0].toUpperCase()} is refused by D1: there are no interactive transactions. keeper (and wrangler) already run each migration as one atomic batch.`,
      });
    }
    if (pragmaForeignKeys.test(sql)) {
      report({
        rule: "pragma-foreign-keys",
        severity: "error",
        statement,
        message:
          "PRAGMA foreign_keys is ignored on D1 (foreign keys are always enforced), so the statements after it still cascade and check. drizzle-kit emits it around table rebuilds; remove it and avoid rebuilding parent tables. PRAGMA defer_foreign_keys does not stop ON DELETE CASCADE either.",
      });
    }
    const dropped = dropTable.exec(sql);
    if (dropped) {
      const table = dropped[1];
      const children = model.childrenOf(table);
      if (rebuilt.has(table.toLowerCase())) {
        report(
          children.length > 0
            ? {
                rule: "parent-table-rebuild",
                severity: "error",
                statement,
                message: `Rebuilds parent table ${table}: dropping the old copy runs ON DELETE CASCADE (or fails on RESTRICT) in ${children.join(", ")} on D1, deleting their rows. Make the change without a rebuild (ADD COLUMN, a new table, validation in the API), or move the children's rows aside first.`,
              }
            : {
                rule: "table-rebuild",
                severity: "warning",
                statement,
                message: `Rebuilds table ${table} (copy, drop, rename): every row is rewritten; check the copy lists every column and that the round-trip test covers it.`,
              },
        );
      } else if (children.length > 0) {
        report({
          rule: "drop-parent-table",
          severity: "error",
          statement,
          message: `Drops ${table} while ${children.join(", ")} still reference it: their rows are cascade-deleted (or the drop fails). Drop the child tables first.`,
        });
      } else {
        report({
          rule: "drop-table",
          severity: direction === "up" ? "warning" : "info",
          statement,
          message:
            direction === "up"
              ? `Drops table ${table} and all its rows; its down file cannot bring the rows back. Take a backup (or rely on the Time Travel bookmark keeper records) before applying.`
              : `Drops table ${table}, which the up migration created: rolling back loses whatever rows it holds.`,
        });
      }
    }
    const droppedColumn = dropColumn.exec(sql);
    if (droppedColumn) {
      report({
        rule: "drop-column",
        severity: direction === "up" ? "warning" : "info",
        statement,
        message:
          direction === "up"
            ? `Drops column ${droppedColumn[1]}.${droppedColumn[2]} and its values; the down file can re-add the column but not the data.`
            : `Drops column ${droppedColumn[1]}.${droppedColumn[2]}, which the up migration added: rolling back loses its values.`,
      });
    }
    model.apply(statements[index]);
  });
}

export function lintMigrationFiles(files: readonly MigrationFile[]): LintReport {
  const findings: LintFinding[] = [];
  const sorted = [...files].sort((a, b) => a.name.localeCompare(b.name));
  // The schema as of the end of each up file: a down file runs against the state its up file left.
  const model = new ForeignKeyModel();
  for (const file of sorted) {
    const acknowledged = acknowledgedRules(`${file.up ?? ""}\n${file.down ?? ""}`);
    const add = (direction: "up" | "down") => (finding: Omit<LintFinding, "file" | "direction">) => {
      const downgraded = finding.severity === "error" && acknowledged.has(finding.rule);
      findings.push({
        file: file.name,
        direction,
        ...finding,
        severity: downgraded ? "warning" : finding.severity,
        message: downgraded ? `${finding.message} (acknowledged in the file with keeper:allow)` : finding.message,
      });
    };
    if (migrationNumber(file.name) === null) {
      add(file.up === null ? "down" : "up")({
        rule: "invalid-name",
        severity: "error",
        statement: null,
        message: "Migration files must be named NNNN_description.sql so wrangler and keeper order them the same way.",
      });
    }
    if (file.up === null) {
      add("down")({
        rule: "orphan-down",
        severity: "error",
        statement: null,
        message: "A down file with no up file of the same name in drizzle/: rename it to match its migration or delete it.",
      });
      continue;
    }
    const downProblem = downFileProblem(file.down);
    if (downProblem) {
      add("down")({
        rule: file.down === null ? "missing-down" : "unfilled-down",
        severity: "error",
        statement: null,
        message:
          file.down === null
            ? `No rollback: write drizzle/down/${file.name} undoing every statement of the up file, newest first.`
            : `${downProblem}: write the statements that undo drizzle/${file.name} and remove the keeper:unfilled-down line.`,
      });
    }
    lintStatements(splitMigrationSql(file.up), "up", model, add("up"));
    if (file.down !== null && !downProblem) {
      // The down file runs against the state its up file left; a copy keeps the next up file's view intact.
      lintStatements(splitMigrationSql(file.down), "down", model.clone(), add("down"));
    }
  }
  const errors = findings.filter((finding) => finding.severity === "error").length;
  return {
    ok: errors === 0,
    files: sorted.length,
    errors,
    warnings: findings.filter((finding) => finding.severity === "warning").length,
    findings,
  };
}
