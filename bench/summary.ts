import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { root, type Timing } from "./harness";

/**
 * Reads what this run's benchmarks wrote to bench/results/, prints one table of keeper against each
 * floor (median ratio of the rounds, with min–max) and writes bench/results/summary.json:
 * `{"ratios": {"backup", "restore", "purge", "read", "write"}, "ratiosVsNoAssets": {"read", "write"},
 * "healthReportMs", "ceilings": {"backup", "restore"}, …}`, each ratio being keeper's throughput ÷ its
 * floor's, each ceiling the most any change could reach on this machine (bench/backups.bench.ts). The floor of `read` and
 * `write` is the bare Worker served with keeper's static assets, as keeper is (bench/load.bench.ts);
 * `ratiosVsNoAssets` keeps keeper ÷ the same Worker without assets beside them (the rounds' min–max
 * in `ranges` and `rangesVsNoAssets`). A benchmark that did not run this time is null, never taken
 * from an older file: a result counts only when written after `--since` (epoch ms, set by
 * bench/run.sh when the run starts).
 */
const sinceAt = process.argv.indexOf("--since");
const since = sinceAt >= 0 ? Number(process.argv[sinceAt + 1]) : 0;
const resultsDir = path.join(root, "bench/results");

function fresh<T>(name: string): T | null {
  const file = path.join(resultsDir, `${name}.json`);
  if (!existsSync(file) || statSync(file).mtimeMs < since) return null;
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

interface WithRatios {
  ratios: Record<string, Timing>;
}
interface BackupResults extends WithRatios {
  keeper_backup: { cpu_ms_per_1000_rows: Timing };
  keeper_restore: { cpu_ms_per_1000_rows: Timing };
  /** The most any change could reach on this machine (bench/backups.bench.ts). */
  ceilings?: Record<"backup" | "restore", Timing>;
}
interface ArchivalResults extends WithRatios {
  keeper: { cpu_ms_per_1000_rows: Timing };
}

const backups = fresh<BackupResults>("backups");
const archival = fresh<ArchivalResults>("archival");
const load = fresh<WithRatios & { ratiosVsNoAssets: Record<"read" | "write", Timing> }>("load");
const health = fresh<{ report_ms: Timing }>("health");

const rows: { work: string; floor: string; ratio: Timing | undefined; goal: string }[] = [
  { work: "backup", floor: "sqlite3 .dump of the same file", ratio: backups?.ratios.backup, goal: ">= 0.6" },
  {
    work: "restore",
    floor: "sqlite3 replaying keeper's dump in one transaction",
    ratio: backups?.ratios.restore,
    goal: ">= 0.8",
  },
  { work: "purge", floor: "one cascading DELETE by sqlite3", ratio: archival?.ratios.purge, goal: ">= 0.83" },
  { work: "hot read", floor: "bare Hono + D1 Worker with keeper's static assets", ratio: load?.ratios.read, goal: ">= 0.9" },
  { work: "write", floor: "bare Hono + D1 Worker with keeper's static assets", ratio: load?.ratios.write, goal: ">= 0.9" },
];
const vsNoAssets = [
  { name: "read", work: "hot read", ratio: load?.ratiosVsNoAssets.read },
  { name: "write", work: "write", ratio: load?.ratiosVsNoAssets.write },
];

const fmt = (value: number | undefined, digits = 2) => (value === undefined ? "—" : value.toFixed(digits));
console.log("| work | floor (same run) | keeper ÷ floor, median (min–max) | goal |");
console.log("| --- | --- | --- | --- |");
for (const row of rows) {
  const range = row.ratio ? `${fmt(row.ratio.median)} (${fmt(row.ratio.min)}–${fmt(row.ratio.max)})` : "not run";
  console.log(`| ${row.work} | ${row.floor} | ${range} | ${row.goal} |`);
}
for (const row of vsNoAssets) {
  const range = row.ratio ? `${fmt(row.ratio.median)} (${fmt(row.ratio.min)}–${fmt(row.ratio.max)})` : "not run";
  console.log(`| ${row.work} | bare Hono + D1 Worker without static assets | ${range} | — |`);
}
const reportMs = health?.report_ms.median;
console.log(`| health report | — | ${reportMs === undefined ? "not run" : `${fmt(reportMs, 0)} ms (median)`} | < 40 ms |`);
const ceilings = backups?.ceilings;
if (ceilings)
  console.log(
    `Ceilings on this machine (median): backup ${fmt(ceilings.backup.median)} (.dump ÷ the backup's page queries alone in local D1), restore ${fmt(ceilings.restore.median)} (the replay ÷ local D1 applying the same statements)`,
  );
const cpu = {
  backup: backups?.keeper_backup.cpu_ms_per_1000_rows.median ?? null,
  restore: backups?.keeper_restore.cpu_ms_per_1000_rows.median ?? null,
  purge: archival?.keeper.cpu_ms_per_1000_rows.median ?? null,
};
console.log(
  `CPU-ms per 1,000 rows (workerd, median): backup ${fmt(cpu.backup ?? undefined, 1)}, restore ${fmt(cpu.restore ?? undefined, 1)}, purge ${fmt(cpu.purge ?? undefined, 1)}`,
);

const summary = {
  date: new Date().toISOString(),
  ratios: Object.fromEntries(
    (["backup", "restore", "purge", "read", "write"] as const).map((name, i) => [name, rows[i].ratio?.median ?? null]),
  ),
  ratiosVsNoAssets: Object.fromEntries(vsNoAssets.map((row) => [row.name, row.ratio?.median ?? null])),
  ranges: Object.fromEntries(rows.map((row) => [row.work, row.ratio ?? null])),
  rangesVsNoAssets: Object.fromEntries(vsNoAssets.map((row) => [row.work, row.ratio ?? null])),
  healthReportMs: reportMs ?? null,
  cpuMsPer1000Rows: cpu,
  ceilings: ceilings ? { backup: ceilings.backup.median, restore: ceilings.restore.median } : null,
};
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
