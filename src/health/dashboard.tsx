import type { FC } from "hono/jsx";
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
  points: { at: number; size_bytes: number }[];
  slow: { at: string; statement: string; duration_ms: number; reason: string }[];
  runs: { job: string; trigger: string; status: string; started_at: string; error: string | null }[];
  backups: { id: string; created_at: string; rows: number; bytes: number }[];
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
const colors: Record<string, string> = { healthy: "#1a7f37", warning: "#9a6700", critical: "#cf222e" };

const GrowthChart: FC<{ points: DashboardData["points"] }> = ({ points }) => {
  const width = 640;
  const height = 160;
  if (points.length < 2) return <p class="muted">Not enough hourly snapshots yet for a growth chart.</p>;
  const xs = points.map((p) => p.at);
  const ys = points.map((p) => p.size_bytes);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => 40 + ((x - x0) / Math.max(x1 - x0, 1)) * (width - 50);
  const py = (y: number) => height - 20 - ((y - y0) / Math.max(y1 - y0, 1)) * (height - 40);
  const path = points.map((p, i) => `${i ? "L" : "M"}${px(p.at).toFixed(1)},${py(p.size_bytes).toFixed(1)}`).join(" ");
  return (
    <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="database size over time">
      <rect x="0" y="0" width={width} height={height} fill="#f6f8fa" />
      <path d={path} fill="none" stroke="#0969da" stroke-width="2" />
      <text x="4" y="14" font-size="11">
        {mb(y1)}
      </text>
      <text x="4" y={height - 6} font-size="11">
        {mb(y0)}
      </text>
      <text x={width - 200} y={height - 6} font-size="11">
        {new Date(x1).toISOString().slice(0, 16)}Z
      </text>
    </svg>
  );
};

export const Dashboard: FC<{ data: DashboardData }> = ({ data }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta http-equiv="refresh" content="60" />
      <title>
        d1-keeper · {data.status} · {data.score}
      </title>
      <style>{`body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328}h1{margin:0 0 4px}table{border-collapse:collapse;margin:8px 0 24px}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}.muted{color:#656d76}.score{font-size:48px;font-weight:700}
.ok{color:#1a7f37}.bad{color:#cf222e}code{font-size:12px}`}</style>
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
      <h2>Size and growth</h2>
      <p>
        {mb(data.sizeBytes)} of {mb(data.limitBytes)}
        {data.daysUntilLimit === null
          ? " · not growing"
          : ` · limit in ${data.daysUntilLimit.toFixed(1)} days at the current rate`}
      </p>
      <GrowthChart points={data.points} />
      <h2>Slow queries (24 h)</h2>
      {data.slow.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table>
          <tr>
            <th>at</th>
            <th>ms</th>
            <th>why</th>
            <th>statement</th>
          </tr>
          {data.slow.map((q) => (
            <tr>
              <td>{q.at}</td>
              <td>{q.duration_ms.toFixed(1)}</td>
              <td>{q.reason}</td>
              <td>
                <code>{q.statement}</code>
              </td>
            </tr>
          ))}
        </table>
      )}
      <h2>Recent maintenance runs</h2>
      <table>
        <tr>
          <th>job</th>
          <th>trigger</th>
          <th>status</th>
          <th>started</th>
          <th>error</th>
        </tr>
        {data.runs.map((run) => (
          <tr>
            <td>{run.job}</td>
            <td>{run.trigger}</td>
            <td class={run.status === "failed" ? "bad" : ""}>{run.status}</td>
            <td>{run.started_at}</td>
            <td>{run.error ?? ""}</td>
          </tr>
        ))}
      </table>
      <h2>Backups</h2>
      {data.backups.length === 0 ? (
        <p class="muted">No backup yet.</p>
      ) : (
        <table>
          <tr>
            <th>id</th>
            <th>created</th>
            <th>rows</th>
            <th>size</th>
          </tr>
          {data.backups.map((b) => (
            <tr>
              <td>{b.id}</td>
              <td>{b.created_at}</td>
              <td>{b.rows}</td>
              <td>{mb(b.bytes)}</td>
            </tr>
          ))}
        </table>
      )}
    </body>
  </html>
);
