import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { adminToken, ensureDevVars, root, startWranglerDev } from "../../bench/harness";
import { checklist, launchBrowser, offlinePage } from "./browser";

/**
 * npm run test:e2e — the dashboard in a real browser (Debian's chromium driven by playwright-core):
 * demo data loaded into a state folder of its own, `wrangler dev` on a free port (stopped by PID whatever
 * happens), the page opened as an operator would in local development (?token=) in a fresh profile
 * (playwright makes a temporary one per launch), the score read
 * from the rendered page and a screenshot taken and checked.
 */
const state = mkdtempSync(path.join(tmpdir(), "keeper-e2e-state-"));
const { check, finish } = checklist();

ensureDevVars();
execFileSync("bash", ["scripts/load-demo-data.sh", "--persist-to", state], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
// Every query counts as slow (1 ms), and the monitor writes after every request: the slow log and
// the query statistics then hold this run's own queries.
const server = await startWranglerDev({
  persistTo: state,
  vars: { KEEPER_ENV: "development", SLOW_QUERY_MS: "1", QUERY_MONITOR_FLUSH_SECONDS: "0" },
});
const browser = await launchBrowser();
try {
  const headers = { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" };
  const post = async (route: string, body: unknown = {}) =>
    (await fetch(`${server.url}${route}`, { method: "POST", headers, body: JSON.stringify(body) })).ok;
  // History with real changes between snapshots: a snapshot, new videos, a backup, two more snapshots.
  check(await post("/admin/health/snapshot"), "hourly snapshot taken through the API");
  for (let i = 0; i < 20; i++) {
    const video = {
      filename: `e2e-${i}.mp4`,
      file_path: `/media/e2e/${i}.mp4`,
      duration: 60 + i,
      metadata: { note: "x".repeat(2000) },
    };
    if (!(await post("/v1/videos", video))) check(false, `video ${i} created`);
  }
  check(await post("/admin/backups"), "a backup taken through the API");
  check((await post("/admin/health/snapshot")) && (await post("/admin/health/snapshot")), "two more snapshots taken");
  // The backup is a Workflow: wait for its manifest, then verify it so the dashboard has a check to show.
  let backupId: string | undefined;
  for (let attempt = 0; attempt < 120 && !backupId; attempt++) {
    const listed = (await (await fetch(`${server.url}/admin/backups`, { headers })).json()) as { items: { id: string }[] };
    backupId = listed.items[0]?.id;
    if (!backupId) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  check(backupId !== undefined && (await post(`/admin/backups/${backupId}/verify`)), "the backup finished and verified");

  const dashboard = `${server.url}/admin/dashboard?token=${encodeURIComponent(adminToken())}`;
  const api = (await (await fetch(`${server.url}/admin/health`, { headers })).json()) as { score: number };
  // A phone first (390 px wide, as an iPhone 12–15), then a desktop; each screenshot is of the whole page.
  for (const [device, viewport, file] of [
    ["phone", { width: 390, height: 844 }, "dashboard-phone.png"],
    ["desktop", { width: 1100, height: 900 }, "dashboard.png"],
  ] as const) {
    const { page, outside } = await offlinePage(browser, server.url, { javaScriptEnabled: false, viewport });
    const response = await page.goto(dashboard);
    check(response?.status() === 200, `${device}: dashboard answers 200 (got ${response?.status()})`);
    const score = (await page.locator("#score").textContent())?.trim() ?? "";
    const status = (await page.locator("#status").textContent())?.trim() ?? "";
    check(/^\d{1,3}$/.test(score) && Number(score) === api.score, `${device}: score ${score} equals the API's (${api.score})`);
    check(["healthy", "warning", "critical"].includes(status), `${device}: status visible: ${status}`);
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText keeps the gaps between table cells
    const text = async (selector: string) => (await page.locator(selector).innerText()).replace(/\s+/g, " ");
    for (const chart of ["#score-chart", "#size-chart"])
      check((await page.locator(`${chart} path`).count()) === 1, `${device}: ${chart} drawn from the snapshots`);
    check(
      /videos \d*[1-9]\d* \d+\.\d+ (KB|MB)/.test(await text("#tables")),
      `${device}: per-table rows (videos > 0) and dump size in the newest backup`,
    );
    check(
      /\d+\.\d \d+ \d+\.\d{2} \d+ (SELECT|INSERT|UPDATE|DELETE|WITH|PRAGMA)/i.test(await text("#queries")),
      `${device}: top queries with total, calls, mean, p95`,
    );
    check(
      /\dT\d\d:\d\d:\d\d\.\d{3}Z \d+\.\d (slow|wide) \S+.*\?/.test(await text("#slow")),
      `${device}: slow log with normalized SQL (?)`,
    );
    check(
      /^Indexes \d*[1-9]\d* indexes · \d+ hot API queries scan a table/.test(await text("#indexes")),
      `${device}: index findings`,
    );
    check(
      /at \d{4}_\w+\.sql · [1-9]\d* applied · \d+ pending/.test(await text("#migrations")),
      `${device}: migrations applied/pending`,
    );
    check(/\d{8}T\d{6}Z-\w+ \S+ [1-9]\d* \d+\.\d\d MB/.test(await text("#backups")), `${device}: backups with rows and size`);
    check(
      /\d{8}T\d{6}Z-\w+ \S+ [1-9]\d* \d+\.\d\d MB verify ok at \d{4}-\d\d-\d\dT/.test(await text("#backups")),
      `${device}: the backup's last verify`,
    );
    check(
      /backups\.create #\d+ succeeded \S+ 100% · (\d+) \/ \1 tables · backup \S+ written · [1-9]\d* steps? backup-\S+/.test(
        await text("#long-jobs"),
      ),
      `${device}: long jobs with progress and instance`,
    );
    check((await page.locator("#long-jobs .bar span").count()) > 0, `${device}: a progress bar drawn`);
    check(/\d+ running now .*backups\.create manual succeeded/.test(await text("#jobs")), `${device}: maintenance runs`);
    const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    check(overflow <= 0, `${device}: nothing wider than the screen (${overflow} px over)`);
    const shot = path.join(root, "test-results", file);
    await page.screenshot({ path: shot, fullPage: true });
    check(statSync(shot).size > 20_000, `${device}: screenshot ${path.relative(root, shot)} (${statSync(shot).size} bytes)`);
    check(outside.length === 0, `${device}: the page fetched nothing from outside the Worker (${outside.join(", ")})`);
    await page.close();
  }
  const anonymous = await browser.newPage();
  const refused = await anonymous.goto(`${server.url}/admin/dashboard`);
  check(refused?.status() === 401, "without a credential the dashboard is refused");
} finally {
  await browser.close();
  await server.stop();
  rmSync(state, { recursive: true, force: true });
}
finish("dashboard renders in chromium with the score visible");
