import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

/**
 * Shared by the browser tests: Debian's chromium (never a downloaded browser) driven by
 * playwright-core, and a page that refuses every request leaving the server under test — each one is
 * recorded, so a test can assert the page needed nothing from the internet.
 */
export const browserPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(browserPath)) {
    console.error(`no browser at ${browserPath}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
    process.exit(1);
  }
  return chromium.launch({
    executablePath: browserPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A page that may only talk to `origin`; `outside` lists what it tried to fetch from anywhere else. */
export async function offlinePage(
  browser: Browser,
  origin: string,
  options: Parameters<Browser["newPage"]>[0] = {},
): Promise<{ page: Page; outside: string[] }> {
  const page = await browser.newPage(options);
  const outside: string[] = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    outside.push(url);
    return route.abort("blockedbyclient");
  });
  return { page, outside };
}

/** Prints each check as it runs and counts the failures. */
export function checklist() {
  let failures = 0;
  return {
    check(ok: boolean, what: string) {
      console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
      if (!ok) failures++;
    },
    finish(success: string) {
      if (failures > 0) {
        console.error(`${failures} check(s) failed`);
        process.exit(1);
      }
      console.log(success);
    },
  };
}
