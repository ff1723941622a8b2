import Table from "cli-table3";

export interface OutputOptions {
  json: boolean;
}

/** `--json`: exactly one JSON document on stdout. Otherwise a readable rendering for people. */
export function emit(options: OutputOptions, data: unknown, human: () => string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

export function table(head: string[], rows: (string | number | boolean | null | undefined)[][]): string {
  if (rows.length === 0) return "(none)";
  const rendered = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) rendered.push(row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))));
  return rendered.toString();
}

export function keyValues(entries: [string, unknown][]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries
    .map(
      ([key, value]) =>
        `${key.padEnd(width)}  ${typeof value === "object" && value !== null ? JSON.stringify(value) : String(value ?? "")}`,
    )
    .join("\n");
}

/** Progress and notes for people go to stderr, so stdout stays clean for --json consumers. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}
