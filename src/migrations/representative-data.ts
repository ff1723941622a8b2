/**
 * Representative rows for the round-trip test: a video with a context entry, a memory, and a
 * conversation with messages (parents and children), written into whichever of the five app
 * tables and columns exist at the current version. Then a fingerprint of every row, so a step that
 * loses or rewrites rows it should not touch (a parent-table rebuild cascading into its children)
 * is caught.
 */
export const appTables = ["videos", "video_context", "memory", "conversations", "messages"] as const;

interface ColumnInfo {
  name: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

async function columnsOf(d1: D1Database, table: string): Promise<ColumnInfo[]> {
  const { results } = await d1
    .prepare('SELECT name, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?)')
    .bind(table)
    .all<ColumnInfo>();
  return results;
}

type RowTemplate = Record<string, unknown>;

function templates(tag: string, at: number): { table: (typeof appTables)[number]; row: RowTemplate }[] {
  const videoId = `rt-video-${tag}`;
  const conversationId = `rt-conversation-${tag}`;
  return [
    {
      table: "videos",
      row: {
        id: videoId,
        filename: `${tag}.mp4`,
        file_path: `/round-trip/${tag}.mp4`,
        duration: 61.5,
        category: "round-trip",
        metadata: JSON.stringify({ step: tag }),
        tags: JSON.stringify(["round-trip", tag]),
        created_at: at,
        updated_at: at,
        deleted_at: null,
      },
    },
    {
      table: "video_context",
      row: {
        video_id: videoId,
        context_type: "scene",
        tool_name: `tool-${tag}`,
        timestamp: 1.5,
        data: JSON.stringify({ description: "a room" }),
        confidence: 0.75,
        created_at: at,
        updated_at: at,
      },
    },
    {
      table: "memory",
      row: { video_id: videoId, timestamp: 2.5, content: `remembered ${tag}`, metadata: null, created_at: at },
    },
    {
      table: "conversations",
      row: { id: conversationId, video_id: videoId, title: `about ${tag}`, created_at: at, updated_at: at },
    },
    {
      table: "messages",
      row: { conversation_id: conversationId, role: "user", content: `question ${tag}`, metadata: null, created_at: at },
    },
    {
      table: "messages",
      row: { conversation_id: conversationId, role: "assistant", content: `answer ${tag}`, metadata: null, created_at: at },
    },
  ];
}

/** Inserts one family of rows; returns problems (e.g. a required column the loader knows nothing about). */
export async function loadRepresentativeRows(d1: D1Database, tag: string, at: number): Promise<string[]> {
  const problems: string[] = [];
  const statements: D1PreparedStatement[] = [];
  const columnCache = new Map<string, ColumnInfo[]>();
  for (const { table, row } of templates(tag, at)) {
    if (!columnCache.has(table)) columnCache.set(table, await columnsOf(d1, table));
    const columns = columnCache.get(table)!.filter((column) => column.hidden === 0);
    if (columns.length === 0) continue;
    const unknownRequired = columns.filter(
      (column) => column.notnull === 1 && column.dflt_value === null && column.pk === 0 && !(column.name in row),
    );
    if (unknownRequired.length > 0) {
      problems.push(
        `cannot load representative rows into ${table}: required column(s) ${unknownRequired.map((c) => c.name).join(", ")} unknown to src/migrations/representative-data.ts — add them there`,
      );
      continue;
    }
    const present = columns.filter((column) => column.name in row).map((column) => column.name);
    statements.push(
      d1
        .prepare(
          `INSERT INTO "${table}" (${present.map((name) => `"${name}"`).join(", ")}) VALUES (${present.map(() => "?").join(", ")})`,
        )
        .bind(...present.map((name) => row[name] ?? null)),
    );
  }
  if (statements.length > 0) await d1.batch(statements);
  return problems;
}

export interface TableRows {
  columns: string[];
  /** Rows keyed by their primary key, as JSON of the visible columns. */
  rows: Map<string, Record<string, unknown>>;
}

export type RowSnapshot = Map<string, TableRows>;

export async function snapshotRows(d1: D1Database): Promise<RowSnapshot> {
  const snapshot: RowSnapshot = new Map();
  for (const table of appTables) {
    const info = await columnsOf(d1, table);
    if (info.length === 0) continue;
    const columns = info.filter((column) => column.hidden === 0).map((column) => column.name);
    const keyColumns = info
      .filter((column) => column.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((column) => column.name);
    const { results } = await d1.prepare(`SELECT * FROM "${table}"`).all<Record<string, unknown>>();
    const rows = new Map<string, Record<string, unknown>>();
    for (const row of results) {
      const key = JSON.stringify((keyColumns.length > 0 ? keyColumns : columns).map((column) => row[column]));
      rows.set(key, row);
    }
    snapshot.set(table, { columns, rows });
  }
  return snapshot;
}

/** Rows of tables present before and after that went missing or changed in a column both versions have. */
export function compareRows(before: RowSnapshot, after: RowSnapshot): string[] {
  const problems: string[] = [];
  for (const [table, old] of before) {
    const now = after.get(table);
    if (!now) continue;
    const shared = old.columns.filter((column) => now.columns.includes(column));
    let lost = 0;
    let changed = 0;
    for (const [key, row] of old.rows) {
      const current = now.rows.get(key);
      if (!current) lost++;
      else if (shared.some((column) => JSON.stringify(row[column]) !== JSON.stringify(current[column]))) changed++;
    }
    if (lost > 0) problems.push(`${table}: ${lost} of ${old.rows.size} row(s) lost`);
    if (changed > 0) problems.push(`${table}: ${changed} row(s) changed in columns the step should not touch`);
  }
  return problems;
}
