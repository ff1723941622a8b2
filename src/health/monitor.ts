/**
 * The query monitor: a wrapper around the D1 binding that records, for every statement the Worker
 * sends, D1's own `meta` (duration, rows_read, rows_written) per normalized statement. It only
 * collects in memory during a request; `flush()` writes one batch after the response (through
 * `waitUntil`), on the unwrapped binding so the monitor never watches itself.
 */

export const LATENCY_BUCKETS = [5, 25, 100, 250, 1000] as const;
/** A statement that reads this many times more rows than it returns (and > 1000 rows) is "wide". */
export const WIDE_READ_FACTOR = 100;

interface Aggregate {
  statement: string;
  /** The hour the calls ran in (ms since epoch, floored). */
  hour: number;
  calls: number;
  totalMs: number;
  maxMs: number;
  rowsRead: number;
  rowsWritten: number;
  rowsReturned: number;
  slowCalls: number;
  buckets: number[];
}

interface SlowEntry {
  /** When the statement ran, not when the entry was written. */
  at: number;
  statement: string;
  durationMs: number;
  rowsRead: number;
  rowsReturned: number;
  reason: "slow" | "wide";
}

/**
 * Normalized shapes per SQL text, for this isolate: a Worker sends the same few texts over and over,
 * so the regexes run once per text. Bounded (cleared when full) so literal-laden texts cannot grow it.
 */
const shapeBySql = new Map<string, string>();
const SHAPE_CACHE_LIMIT = 1000;

/** Literals and placeholder lists folded, whitespace collapsed: one entry per statement shape. */
export function normalizeStatement(sql: string): string {
  const known = shapeBySql.get(sql);
  if (known !== undefined) return known;
  const shape = sql
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/\b\d+(\.\d+)?\b/g, "?")
    .replace(/\?(\s*,\s*\?)+/g, "?…")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 1000);
  if (shapeBySql.size >= SHAPE_CACHE_LIMIT) shapeBySql.clear();
  shapeBySql.set(sql, shape);
  return shape;
}

const HOUR_MS = 3_600_000;

export class QueryRecorder {
  /** Per statement shape and the hour its calls ran in. */
  readonly stats = new Map<string, Aggregate>();
  readonly slow: SlowEntry[] = [];
  private readonly slowMs: number;
  private readonly now: () => number;

  constructor(slowMs: number, now: () => number = () => Date.now()) {
    this.slowMs = slowMs;
    this.now = now;
  }

  record(sql: string, meta: Partial<D1Meta> | undefined, elapsedMs: number, rowsReturned: number): void {
    const statement = normalizeStatement(sql);
    // What the request waited for the statement (round trip included), as the original design's
    // monitor timed it; D1's own meta.duration only when our clock saw nothing (it advances on I/O).
    const durationMs = elapsedMs > 0 ? elapsedMs : (meta?.duration ?? 0);
    const rowsRead = meta?.rows_read ?? 0;
    const at = this.now();
    const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
    const key = `${hour} ${statement}`;
    const aggregate = this.stats.get(key) ?? {
      statement,
      hour,
      calls: 0,
      totalMs: 0,
      maxMs: 0,
      rowsRead: 0,
      rowsWritten: 0,
      rowsReturned: 0,
      slowCalls: 0,
      buckets: new Array(LATENCY_BUCKETS.length + 1).fill(0),
    };
    aggregate.calls++;
    aggregate.totalMs += durationMs;
    aggregate.maxMs = Math.max(aggregate.maxMs, durationMs);
    aggregate.rowsRead += rowsRead;
    aggregate.rowsWritten += meta?.rows_written ?? 0;
    aggregate.rowsReturned += rowsReturned;
    const bucket = LATENCY_BUCKETS.findIndex((limit) => durationMs <= limit);
    aggregate.buckets[bucket === -1 ? LATENCY_BUCKETS.length : bucket]++;
    const slow = durationMs >= this.slowMs;
    const wide = rowsRead > 1000 && rowsRead > WIDE_READ_FACTOR * Math.max(rowsReturned, 1);
    if (slow) aggregate.slowCalls++;
    if ((slow || wide) && this.slow.length < 50)
      this.slow.push({ at, statement, durationMs, rowsRead, rowsReturned, reason: slow ? "slow" : "wide" });
    this.stats.set(key, aggregate);
  }

  /** Adds another recorder's figures to this one's (to buffer several requests before one write). */
  merge(other: QueryRecorder): void {
    for (const [key, a] of other.stats) {
      const mine = this.stats.get(key);
      if (!mine) {
        this.stats.set(key, { ...a, buckets: [...a.buckets] });
        continue;
      }
      mine.calls += a.calls;
      mine.totalMs += a.totalMs;
      mine.maxMs = Math.max(mine.maxMs, a.maxMs);
      mine.rowsRead += a.rowsRead;
      mine.rowsWritten += a.rowsWritten;
      mine.rowsReturned += a.rowsReturned;
      mine.slowCalls += a.slowCalls;
      a.buckets.forEach((n, i) => {
        mine.buckets[i] += n;
      });
    }
    for (const entry of other.slow) if (this.slow.length < 200) this.slow.push(entry);
  }

  /**
   * One batch: an upsert per statement shape and hour, one into the all-time totals, an insert per
   * slow entry. Empty when nothing ran.
   */
  statements(raw: D1Database): D1PreparedStatement[] {
    const out: D1PreparedStatement[] = [];
    for (const a of this.stats.values()) {
      out.push(
        raw
          .prepare(
            `INSERT INTO keeper_query_stats (statement, hour, calls, total_ms, max_ms, rows_read, rows_written, rows_returned, slow_calls, le_5, le_25, le_100, le_250, le_1000, le_inf)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (statement, hour) DO UPDATE SET calls = calls + excluded.calls, total_ms = total_ms + excluded.total_ms,
               max_ms = max(max_ms, excluded.max_ms), rows_read = rows_read + excluded.rows_read, rows_written = rows_written + excluded.rows_written,
               rows_returned = rows_returned + excluded.rows_returned, slow_calls = slow_calls + excluded.slow_calls,
               le_5 = le_5 + excluded.le_5, le_25 = le_25 + excluded.le_25, le_100 = le_100 + excluded.le_100,
               le_250 = le_250 + excluded.le_250, le_1000 = le_1000 + excluded.le_1000, le_inf = le_inf + excluded.le_inf`,
          )
          .bind(
            a.statement,
            a.hour,
            a.calls,
            a.totalMs,
            a.maxMs,
            a.rowsRead,
            a.rowsWritten,
            a.rowsReturned,
            a.slowCalls,
            ...a.buckets,
          ),
      );
    }
    if (this.stats.size > 0) {
      const sum = (pick: (a: Aggregate) => number) => [...this.stats.values()].reduce((total, a) => total + pick(a), 0);
      const buckets = LATENCY_BUCKETS.map((_, i) => i)
        .concat(LATENCY_BUCKETS.length)
        .map((i) => sum((a) => a.buckets[i]));
      out.push(
        raw
          .prepare(
            `INSERT INTO keeper_query_totals (id, calls, total_ms, slow_calls, rows_read, rows_written, le_5, le_25, le_100, le_250, le_1000, le_inf)
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET calls = calls + excluded.calls, total_ms = total_ms + excluded.total_ms,
               slow_calls = slow_calls + excluded.slow_calls, rows_read = rows_read + excluded.rows_read,
               rows_written = rows_written + excluded.rows_written, le_5 = le_5 + excluded.le_5, le_25 = le_25 + excluded.le_25,
               le_100 = le_100 + excluded.le_100, le_250 = le_250 + excluded.le_250, le_1000 = le_1000 + excluded.le_1000,
               le_inf = le_inf + excluded.le_inf`,
          )
          .bind(
            sum((a) => a.calls),
            sum((a) => a.totalMs),
            sum((a) => a.slowCalls),
            sum((a) => a.rowsRead),
            sum((a) => a.rowsWritten),
            ...buckets,
          ),
      );
    }
    for (const entry of this.slow) {
      out.push(
        raw
          .prepare(
            "INSERT INTO keeper_query_slow (at, statement, duration_ms, rows_read, rows_returned, reason) VALUES (?, ?, ?, ?, ?, ?)",
          )
          .bind(entry.at, entry.statement, entry.durationMs, entry.rowsRead, entry.rowsReturned, entry.reason),
      );
    }
    return out;
  }
}

type Recorded = { meta?: Partial<D1Meta>; results?: unknown[] };

/**
 * Result column names per SQL text, learned from the first raw() call of each statement in this
 * isolate; "ambiguous" when two columns share a name (a join selecting `a.id` and `b.id`).
 */
const columnsBySql = new Map<string, string[] | "ambiguous">();
const COLUMN_CACHE_LIMIT = 1000;

function learnColumns(sql: string, columns: string[]): void {
  if (columnsBySql.size >= COLUMN_CACHE_LIMIT) columnsBySql.clear();
  columnsBySql.set(sql, new Set(columns).size === columns.length ? columns : "ambiguous");
}

class MonitoredStatement {
  readonly inner: D1PreparedStatement;
  readonly sql: string;
  private readonly recorder: QueryRecorder;

  constructor(inner: D1PreparedStatement, sql: string, recorder: QueryRecorder) {
    this.inner = inner;
    this.sql = sql;
    this.recorder = recorder;
  }

  bind(...values: unknown[]): MonitoredStatement {
    return new MonitoredStatement(this.inner.bind(...values), this.sql, this.recorder);
  }

  private async timed<T extends Recorded>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await call();
    this.recorder.record(this.sql, result.meta, performance.now() - started, result.results?.length ?? 0);
    return result;
  }

  run<T = Record<string, unknown>>() {
    return this.timed(() => this.inner.run<T>());
  }

  all<T = Record<string, unknown>>() {
    return this.timed(() => this.inner.all<T>());
  }

  /** D1's first() reads the same rows as all() and keeps the first; going through all() gives us meta. */
  async first<T = Record<string, unknown>>(column?: string): Promise<T | null> {
    const { results } = await this.all<Record<string, unknown>>();
    const row = results[0];
    if (row === undefined) return null;
    return (column === undefined ? row : row[column]) as T;
  }

  /**
   * Drizzle runs every select through raw(), and D1's raw() drops the result's meta. Once the
   * statement's column names are known (and unique), it runs as all(), which keeps meta (rows_read),
   * and the rows are rebuilt as arrays in column order, by name. The first call of each statement
   * in an isolate, and statements with duplicate column names, run as raw() and record no rows read.
   */
  async raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]> {
    const started = performance.now();
    const columns = columnsBySql.get(this.sql);
    if (Array.isArray(columns)) {
      const result = await this.inner.all<Record<string, unknown>>();
      this.recorder.record(this.sql, result.meta, performance.now() - started, result.results.length);
      // The same text can return other columns after a migration (`SELECT *`): learn them again.
      const first = result.results[0];
      const current = first && Object.keys(first).length !== columns.length ? Object.keys(first) : columns;
      if (current !== columns) learnColumns(this.sql, current);
      const rows = result.results.map((row) => current.map((column) => row[column]));
      return (options?.columnNames ? [current, ...rows] : rows) as T[];
    }
    const withNames = await this.inner.raw<unknown[]>({ columnNames: true });
    const [names, ...rows] = withNames;
    this.recorder.record(this.sql, undefined, performance.now() - started, rows.length);
    if (columns === undefined && Array.isArray(names)) learnColumns(this.sql, names.map(String));
    return (options?.columnNames ? withNames : rows) as T[];
  }
}

/** The monitored binding: the D1Database surface Drizzle and the services use. */
export function monitorD1(d1: D1Database, recorder: QueryRecorder): D1Database {
  const monitored = {
    prepare: (sql: string) => new MonitoredStatement(d1.prepare(sql), sql, recorder),
    batch: async <T = unknown>(statements: D1PreparedStatement[]) => {
      const inner = statements.map((s) => (s instanceof MonitoredStatement ? s.inner : s));
      const sqls = statements.map((s) => (s instanceof MonitoredStatement ? s.sql : "(batch)"));
      const started = performance.now();
      const results = await d1.batch<T>(inner);
      // Each statement's own time is D1's meta.duration: spreading the batch's round trip evenly
      // would hide a 390 ms statement among nine quick ones. The round trip only when meta has none.
      const share = (performance.now() - started) / Math.max(results.length, 1);
      for (const [i, result] of results.entries()) {
        const own = result.meta?.duration;
        recorder.record(sqls[i], result.meta, typeof own === "number" ? own : share, result.results?.length ?? 0);
      }
      return results;
    },
    exec: async (query: string) => {
      const started = performance.now();
      const result = await d1.exec(query);
      recorder.record(query, undefined, performance.now() - started, 0);
      return result;
    },
    dump: () => d1.dump(),
    withSession: (constraint?: string) => d1.withSession(constraint),
  };
  return monitored as unknown as D1Database;
}
