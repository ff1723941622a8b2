import type { FC } from "hono/jsx";
import type { BackupCheck } from "../backups/backup-checks.service";
import type { JobProgress, JobRun } from "../maintenance/runs";
import type { CheckResult } from "./score";

/**
 * The operator's page: server-rendered, no script, no build step. Everything on it comes from the
 * same services the API and CLI use.
 */
export interface DashboardData {
  time: string;
  score: number;
  status: string;
  checks: CheckResult[];
  sizeBytes: number;
  limitBytes: number;
  daysUntilLimit: number | null;
  /** Hourly snapshots, oldest first: size, and the score when it was taken. */
  points: { at: number; size_bytes: number; score: number | null }[];
  /** Rows at the last snapshot; dumpBytes: the table's uncompressed SQL in the newest backup (null: not in it). */
  tables: { name: string; rows: number; dumpBytes: number | null }[];
  /** The backup dumpBytes come from. */
  tableSizesFrom: { id: string; created_at: string } | null;
  topQueries: { statement: string; calls: number; total_ms: number; mean_ms: number; p95_ms_at_most: number }[];
  slow: { at: string; statement: string; duration_ms: number; reason: string }[];
  indexes: { total: number; unused: string[]; fullScans: { name: string; plan: string[] }[] };
  migrations: { current: string | null; applied: number; pending: string[]; drift: number };
  /** Recent runs of every job. */
  runs: JobRun[];
  /** Running runs, then recent runs of long (Workflow) jobs, with their progress. */
  longJobs: JobRun[];
  backups: { id: string; created_at: string; rows: number; bytes: number; last_check: BackupCheck | null }[];
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
const kbOrMb = (bytes: number) => (bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : mb(bytes));
const colors: Record<string, string> = { healthy: "#1a7f37", warning: "#9a6700", critical: "#cf222e" };

/** A line chart drawn on the server as SVG: no script, scales to the page width (a phone's too). */
const LineChart: FC<{ points: { x: number; y: number }[]; label: string; format: (y: number) => string; id: string }> = ({
  points,
  label,
  format,
  id,
}) => {
  const width = 640;
  const height = 160;
  if (points.length < 2) return <p class="muted">Not enough hourly snapshots yet for a chart of {label}.</p>;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => 70 + ((x - x0) / Math.max(x1 - x0, 1)) * (width - 80);
  const py = (y: number) => height - 24 - ((y - y0) / Math.max(y1 - y0, 1)) * (height - 44);
  const path = points.map((p, i) => `${i ? "L" : "M"}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ");
  return (
    <svg id={id} class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <rect x="0" y="0" width={width} height={height} fill="#f6f8fa" />
      <path d={path} fill="none" stroke="#0969da" stroke-width="2" />
      <text x="4" y="16" font-size="12">
        {format(y1)}
      </text>
      <text x="4" y={height - 28} font-size="12">
        {format(y0)}
      </text>
      <text x="70" y={height - 6} font-size="12">
        {new Date(x0).toISOString().slice(0, 16)}Z
      </text>
      <text x={width - 130} y={height - 6} font-size="12">
        {new Date(x1).toISOString().slice(0, 16)}Z
      </text>
    </svg>
  );
};

/** The fraction done, when the job knows its total (0 to 1), else null. */
export function progressFraction(progress: JobProgress): number | null {
  if (progress.total === null || progress.total <= 0) return null;
  return Math.min(1, Math.max(0, progress.done / progress.total));
}

/** A progress bar drawn on the server (no script); a job without a known total shows its count only. */
const ProgressBar: FC<{ progress: JobProgress }> = ({ progress }) => {
  const fraction = progressFraction(progress);
  const counted = `${progress.done}${progress.total === null ? "" : ` / ${progress.total}`} ${progress.unit}`;
  return (
    <div>
      {fraction === null ? (
        ""
      ) : (
        <div
          class="bar"
          role="progressbar"
          aria-valuemin="0"
          aria-valuemax={String(progress.total)}
          aria-valuenow={String(progress.done)}
        >
          <span style={`width:${(fraction * 100).toFixed(1)}%`} />
        </div>
      )}
      <span class="progress-text">
        {fraction === null ? "" : `${Math.floor(fraction * 100)}% · `}
        {counted} · {progress.phase} · {progress.steps} step{progress.steps === 1 ? "" : "s"}
      </span>
    </div>
  );
};

const CheckCell: FC<{ check: BackupCheck | null }> = ({ check }) =>
  check === null ? (
    <td class="muted">never checked</td>
  ) : (
    <td class={check.ok ? "ok" : "bad"} title={check.summary ?? ""}>
      {check.kind} {check.ok ? "ok" : `failed (${check.problems})`} at {check.at}
      {check.summary ? (
        <>
          <br />
          <code>{check.summary}</code>
        </>
      ) : (
        ""
      )}
    </td>
  );

/** A wide table scrolls sideways on a narrow screen instead of widening the page. */
const Scroll: FC = ({ children }) => <div class="scroll">{children}</div>;

export const Dashboard: FC<{ data: DashboardData }> = ({ data }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta http-equiv="refresh" content="60" />
      <title>
        d1-keeper · {data.status} · {data.score}
      </title>
      <style>{`body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328}h1{margin:0 0 4px}table{border-collapse:collapse;margin:8px 0 24px}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}.muted{color:#656d76}.score{font-size:48px;font-weight:700}
.ok{color:#1a7f37}.bad{color:#cf222e}code{font-size:12px;word-break:break-all}.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;max-width:100%}.bar{width:160px;max-width:100%;height:10px;background:#eaeef2;border-radius:5px;overflow:hidden}
.bar span{display:block;height:100%;background:#0969da}.progress-text{font-size:12px}.chart{width:100%;max-width:640px;height:auto;display:block;margin:8px 0}
@media (max-width:600px){body{margin:12px;font-size:13px}.score{font-size:40px}td,th{padding:3px 5px}}`}</style>
    </head>
    <body>
      <h1>d1-keeper</h1>
      <p class="muted">as of {data.time} · refreshes every minute</p>
      <p>
        <span class="score" id="score" style={`color:${colors[data.status] ?? "#1f2328"}`}>
          {data.score}
        </span>{" "}
        <strong id="status">{data.status}</strong>
      </p>
      <h2>Checks</h2>
      <Scroll>
        <table>
          <tr>
            <th>check</th>
            <th>result</th>
            <th>penalty</th>
            <th>detail</th>
            <th>from</th>
          </tr>
          {data.checks.map((check) => (
            <tr>
              <td>{check.name}</td>
              <td class={check.ok ? "ok" : "bad"}>{check.ok ? "ok" : "failing"}</td>
              <td>{check.penalty ? `−${check.penalty}` : "0"}</td>
              <td>{check.detail}</td>
              <td class="muted">{check.source}</td>
            </tr>
          ))}
        </table>
      </Scroll>
      <section id="history">
        <h2>Score and size</h2>
        <p>
          {mb(data.sizeBytes)} of {mb(data.limitBytes)}
          {data.daysUntilLimit === null
            ? " · not growing"
            : ` · limit in ${data.daysUntilLimit.toFixed(1)} days at the current rate`}
        </p>
        <LineChart
          id="score-chart"
          label="health score over the last 7 days"
          format={(y) => String(Math.round(y))}
          points={data.points.flatMap((p) => (p.score === null ? [] : [{ x: p.at, y: p.score }]))}
        />
        <LineChart
          id="size-chart"
          label="database size over the last 7 days"
          format={mb}
          points={data.points.map((p) => ({ x: p.at, y: p.size_bytes }))}
        />
      </section>
      <section id="tables">
        <h2>Tables</h2>
        {data.tables.length === 0 ? (
          <p class="muted">No hourly snapshot yet.</p>
        ) : (
          <table>
            <tr>
              <th>table</th>
              <th class="num">rows</th>
              <th class="num">dump size</th>
            </tr>
            {data.tables.map((t) => (
              <tr>
                <td>{t.name}</td>
                <td class="num">{t.rows}</td>
                <td class="num">{t.dumpBytes === null ? "–" : kbOrMb(t.dumpBytes)}</td>
              </tr>
            ))}
          </table>
        )}
        <p class="muted">
          Rows at the last hourly snapshot. D1 reports the database's size, not each table's: the dump size is the table's SQL
          (uncompressed) in{" "}
          {data.tableSizesFrom === null
            ? "the newest backup, and there is none yet"
            : `the newest backup, ${data.tableSizesFrom.id} (${data.tableSizesFrom.created_at.slice(0, 16).replace("T", " ")} UTC)`}
          , the nearest measure of what the table holds.
        </p>
      </section>
      <section id="queries">
        <h2>Top queries by total time (24 h)</h2>
        {data.topQueries.length === 0 ? (
          <p class="muted">No queries recorded.</p>
        ) : (
          <Scroll>
            <table>
              <tr>
                <th class="num">total ms</th>
                <th class="num">calls</th>
                <th class="num">mean ms</th>
                <th class="num">p95 ≤ ms</th>
                <th>statement (normalized)</th>
              </tr>
              {data.topQueries.map((q) => (
                <tr>
                  <td class="num">{q.total_ms.toFixed(1)}</td>
                  <td class="num">{q.calls}</td>
                  <td class="num">{q.mean_ms.toFixed(2)}</td>
                  <td class="num">{q.p95_ms_at_most}</td>
                  <td>
                    <code>{q.statement}</code>
                  </td>
                </tr>
              ))}
            </table>
          </Scroll>
        )}
      </section>
      <section id="slow">
        <h2>Slow-query log (24 h)</h2>
        {data.slow.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <Scroll>
            <table>
              <tr>
                <th>at</th>
                <th class="num">ms</th>
                <th>why</th>
                <th>statement (normalized)</th>
              </tr>
              {data.slow.map((q) => (
                <tr>
                  <td>{q.at}</td>
                  <td class="num">{q.duration_ms.toFixed(1)}</td>
                  <td>{q.reason}</td>
                  <td>
                    <code>{q.statement}</code>
                  </td>
                </tr>
              ))}
            </table>
          </Scroll>
        )}
      </section>
      <section id="indexes">
        <h2>Indexes</h2>
        <p>
          {data.indexes.total} indexes · {data.indexes.fullScans.length} hot API queries scan a table ·{" "}
          {data.indexes.unused.length} indexes no hot query uses
        </p>
        {data.indexes.fullScans.map((scan) => (
          <p>
            <strong class="bad">{scan.name}</strong> <code>{scan.plan.join(" · ")}</code>
          </p>
        ))}
        {data.indexes.unused.length > 0 ? <p class="muted">Not used by a hot query: {data.indexes.unused.join(", ")}</p> : ""}
      </section>
      <section id="migrations">
        <h2>Migrations</h2>
        <p>
          at <strong>{data.migrations.current ?? "nothing applied"}</strong> · {data.migrations.applied} applied ·{" "}
          {data.migrations.pending.length} pending
          {data.migrations.drift > 0 ? <strong class="bad"> · {data.migrations.drift} drift finding(s)</strong> : ""}
        </p>
        {data.migrations.pending.length > 0 ? <p>Pending: {data.migrations.pending.join(", ")}</p> : ""}
      </section>
      <section id="backups">
        <h2>Backups</h2>
        {data.backups.length === 0 ? (
          <p class="muted">No backup yet.</p>
        ) : (
          <Scroll>
            <table>
              <tr>
                <th>id</th>
                <th>created</th>
                <th class="num">rows</th>
                <th class="num">size</th>
                <th>last verify / drill</th>
              </tr>
              {data.backups.map((b) => (
                <tr>
                  <td>{b.id}</td>
                  <td>{b.created_at}</td>
                  <td class="num">{b.rows}</td>
                  <td class="num">{mb(b.bytes)}</td>
                  <CheckCell check={b.last_check} />
                </tr>
              ))}
            </table>
          </Scroll>
        )}
      </section>
      <section id="jobs">
        <h2>Jobs</h2>
        <p>{data.longJobs.filter((run) => run.status === "running").length} running now</p>
        {data.longJobs.length === 0 ? (
          <p class="muted">No long job has run yet.</p>
        ) : (
          <Scroll>
            <table id="long-jobs">
              <tr>
                <th>job</th>
                <th>status</th>
                <th>started</th>
                <th>progress</th>
                <th>instance</th>
              </tr>
              {data.longJobs.map((run) => (
                <tr class={run.status === "running" ? "running" : ""}>
                  <td>
                    {run.job} <span class="muted">#{run.id}</span>
                  </td>
                  <td class={run.status === "failed" ? "bad" : run.status === "succeeded" ? "ok" : ""}>{run.status}</td>
                  <td>{run.started_at}</td>
                  <td>{run.progress ? <ProgressBar progress={run.progress} /> : <span class="muted">not reported</span>}</td>
                  <td>
                    <code>{run.instance_id ?? "(runs in the request)"}</code>
                  </td>
                </tr>
              ))}
            </table>
          </Scroll>
        )}
        <h3>Recent runs</h3>
        <Scroll>
          <table>
            <tr>
              <th>job</th>
              <th>trigger</th>
              <th>status</th>
              <th>started</th>
              <th>finished</th>
              <th>progress / counts</th>
              <th>error</th>
            </tr>
            {data.runs.map((run) => (
              <tr>
                <td>{run.job}</td>
                <td>{run.trigger}</td>
                <td class={run.status === "failed" ? "bad" : ""}>{run.status}</td>
                <td>{run.started_at}</td>
                <td>{run.finished_at ?? ""}</td>
                <td>
                  <code>{run.counts ? JSON.stringify(run.counts) : ""}</code>
                </td>
                <td>{run.error ?? ""}</td>
              </tr>
            ))}
          </table>
        </Scroll>
      </section>
    </body>
  </html>
);
