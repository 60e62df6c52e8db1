/**
 * Chromium for the UI's browser tests: Debian's `/usr/bin/chromium` driven by
 * puppeteer-core (nothing is downloaded), a page that records every console
 * error, failed request and HTTP error, and screenshots in
 * `test-artifacts/ui/`.
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { chromiumPath } from "../_helpers/tools.ts";

const ARTIFACTS = new URL("../../test-artifacts/ui/", import.meta.url).pathname;

/**
 * How long a browser test waits for Chromium to start, a page to load or a
 * selector or condition to appear. Each wait ends as soon as its condition
 * holds, so this bound only decides when a broken page fails; puppeteer's
 * 30 s default is missed on a loaded 2-core CI machine (Chromium's renderer
 * gets a fraction of a core while the suite runs beside it).
 */
export const BROWSER_WAIT_MS = 180_000;

/** Starts headless Chromium. */
export async function launchBrowser(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: chromiumPath(),
    timeout: BROWSER_WAIT_MS,
    protocolTimeout: BROWSER_WAIT_MS,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/**
 * A page that records console errors, page errors, failed requests and
 * answers with status >= 400 into `problems`, except answers whose URL
 * matches `expected` (an error page the test asks for on purpose).
 */
export async function watchedPage(
  browser: Browser,
  expected?: (url: string, status: number) => boolean,
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(BROWSER_WAIT_MS);
  page.setDefaultNavigationTimeout(BROWSER_WAIT_MS);
  await page.setViewport({ width: 1400, height: 1000 });
  const problems: string[] = [];
  page.on("console", (m) => {
    // The browser's own line for an error page the test asked for is not a problem.
    if (m.type() === "error" && !/Failed to load resource: .* status of [45]\d\d/.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  page.on("requestfailed", (r) => {
    // Polls cut short by leaving the page are not failures.
    if (r.failure()?.errorText !== "net::ERR_ABORTED") {
      problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    }
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && !expected?.(r.url(), r.status())) {
      problems.push(`HTTP ${r.status()}: ${r.url()}`);
    }
  });
  return { page, problems };
}

/** Saves a full-page screenshot as `test-artifacts/ui/<name>.png`. */
export async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png` as `${string}.png`, fullPage: true });
}
