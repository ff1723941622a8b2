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
const screenshot = path.join(root, "test-results", "dashboard.png");
const { check, finish } = checklist();

ensureDevVars();
execFileSync("bash", ["scripts/load-demo-data.sh", "--persist-to", state], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const server = await startWranglerDev({ persistTo: state, vars: { KEEPER_ENV: "development" } });
const browser = await launchBrowser();
try {
  const headers = { Authorization: `Bearer ${adminToken()}` };
  check(
    (await fetch(`${server.url}/admin/health/snapshot`, { method: "POST", headers })).ok,
    "hourly snapshot taken through the API",
  );
  const { page, outside } = await offlinePage(browser, server.url, {
    javaScriptEnabled: false,
    viewport: { width: 1100, height: 900 },
  });
  const response = await page.goto(`${server.url}/admin/dashboard?token=${encodeURIComponent(adminToken())}`);
  check(response?.status() === 200, `dashboard answers 200 (got ${response?.status()})`);
  const score = (await page.locator("#score").textContent())?.trim() ?? "";
  const status = (await page.locator("#status").textContent())?.trim() ?? "";
  check(/^\d{1,3}$/.test(score), `score visible: ${score}`);
  check(["healthy", "warning", "critical"].includes(status), `status visible: ${status}`);
  const api = (await (await fetch(`${server.url}/admin/health`, { headers })).json()) as { score: number };
  check(Number(score) === api.score, `page score equals the API's (${api.score})`);
  check((await page.locator("table").count()) >= 2, "checks and runs tables rendered");
  check(await page.locator("text=Backups").isVisible(), "backups section rendered");
  await page.screenshot({ path: screenshot, fullPage: true });
  check(outside.length === 0, `the page fetched nothing from outside the Worker (${outside.join(", ")})`);
  check(
    statSync(screenshot).size > 20_000,
    `screenshot written (${statSync(screenshot).size} bytes): ${path.relative(root, screenshot)}`,
  );
  const anonymous = await browser.newPage();
  const refused = await anonymous.goto(`${server.url}/admin/dashboard`);
  check(refused?.status() === 401, "without a credential the dashboard is refused");
} finally {
  await browser.close();
  await server.stop();
  rmSync(state, { recursive: true, force: true });
}
finish("dashboard renders in chromium with the score visible");
