import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWranglerDev } from "../../bench/harness";
import { checklist, launchBrowser, offlinePage } from "./browser";

/**
 * The API reference at /docs in chromium with every request outside the Worker refused: the page
 * must render the operations from /openapi.json using only what the Worker itself serves.
 */
const { check, finish } = checklist();
const browser = await launchBrowser();
const state = mkdtempSync(path.join(tmpdir(), "keeper-e2e-docs-"));
const server = await startWranglerDev({ persistTo: state, readyPath: "/openapi.json" });
try {
  const { page, outside } = await offlinePage(browser, server.url, { viewport: { width: 1280, height: 900 } });
  const scripts: string[] = [];
  page.on("response", (response) => {
    if (response.request().resourceType() === "script") scripts.push(`${response.status()} ${response.url()}`);
  });
  const response = await page.goto(`${server.url}/docs`);
  check(response?.status() === 200, `/docs answers 200 (got ${response?.status()})`);
  // As a reader would: the reference's search, by the operation's name.
  const search = page.getByRole("button", { name: /search/i }).first();
  await search.waitFor({ state: "visible", timeout: 30_000 }).catch(() => undefined);
  check(await search.isVisible(), "the reference rendered (its search is there)");
  await search.click();
  await page.keyboard.type("List videos");
  const hit = page.getByText("List videos, newest first").first();
  await hit.waitFor({ state: "visible", timeout: 10_000 }).catch(() => undefined);
  check(await hit.isVisible(), "searching 'List videos' finds the operation 'List videos, newest first'");
  await hit.click().catch(() => undefined);
  const section = page.getByText("/v1/videos", { exact: true }).first();
  await section.waitFor({ state: "visible", timeout: 10_000 }).catch(() => undefined);
  check(await section.isVisible(), "opening it shows its path /v1/videos");
  check(
    scripts.length > 0 && scripts.every((line) => line.startsWith("200 ")),
    `the reference UI's script came from the Worker: ${scripts.join(", ")}`,
  );
  check(outside.length === 0, `no request left the Worker (${outside.length}: ${outside.slice(0, 5).join(", ")})`);
} finally {
  await browser.close();
  await server.stop();
  rmSync(state, { recursive: true, force: true });
}
finish("/docs renders offline in chromium");
