import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { adminToken, ensureDevVars, root, startWranglerDev } from "../bench/harness";

/**
 * npm run test:metrics — /metrics as Prometheus' own linter reads it: demo data in a state folder of
 * its own, `wrangler dev`, some traffic and an hourly snapshot so every family has samples, then
 * `promtool check metrics` (Debian's prometheus package), which must print nothing. The examples in
 * docs/monitoring/ are held to the same output: the scrape config passes `promtool check config` and
 * every keeper_* series the Grafana dashboard queries is one /metrics exposes.
 */
if (spawnSync("promtool", ["--version"]).status !== 0) {
  console.error("promtool not found: install Debian's prometheus package (apt-get install -y prometheus)");
  process.exit(1);
}
ensureDevVars();
const state = mkdtempSync(path.join(tmpdir(), "keeper-metrics-"));
execFileSync("bash", ["scripts/load-demo-data.sh", "--persist-to", state], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const server = await startWranglerDev({ persistTo: state });
let exposition: string;
try {
  const headers = { Authorization: `Bearer ${adminToken()}` };
  const post = await fetch(`${server.url}/admin/health/snapshot`, { method: "POST", headers });
  if (!post.ok) throw new Error(`snapshot answered ${post.status}`);
  for (const route of ["/v1/videos", "/admin/health", "/admin/backups"])
    await (await fetch(`${server.url}${route}`, { headers })).text();
  const response = await fetch(`${server.url}/metrics`, { headers });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  exposition = await response.text();
} finally {
  await server.stop();
  rmSync(state, { recursive: true, force: true });
}
const families = exposition.split("\n").filter((line) => line.startsWith("# TYPE ")).length;
const lint = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" });
const said = `${lint.stdout}${lint.stderr}`.trim();
if (lint.status !== 0 || said !== "") {
  console.error(`promtool check metrics (exit ${lint.status}):\n${said}`);
  process.exit(1);
}
console.log(`promtool check metrics: clean (${families} families)`);

const config = spawnSync("promtool", ["check", "config", "--syntax-only", "docs/monitoring/prometheus.yml"], {
  cwd: root,
  encoding: "utf8",
});
if (config.status !== 0) {
  console.error(`docs/monitoring/prometheus.yml: ${config.stdout}${config.stderr}`);
  process.exit(1);
}
// Declared families count (a gauge such as the last backup's age has no sample until there is one).
const exposed = new Set(exposition.split("\n").flatMap((line) => /^# TYPE (keeper_[a-z_]+) /.exec(line)?.[1] ?? []));
const dashboard = readFileSync(path.join(root, "docs/monitoring/grafana-dashboard.json"), "utf8");
const queried = [...new Set(dashboard.match(/keeper_[a-z_]+/g) ?? [])];
const unknown = queried.filter((name) => !exposed.has(name) && !exposed.has(name.replace(/_(bucket|sum|count)$/, "")));
if (unknown.length > 0) {
  console.error(`docs/monitoring/grafana-dashboard.json queries series /metrics does not expose: ${unknown.join(", ")}`);
  process.exit(1);
}
console.log(`docs/monitoring: scrape config valid; the Grafana dashboard's ${queried.length} series all exposed`);
