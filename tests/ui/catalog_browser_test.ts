/**
 * The catalog's state filter and "Materialize stale" in real Chromium: the
 * summary's stale count opens the stale list, the button launches the run
 * (a same-origin form POST), the run page follows it live to success, its
 * `stale=true` tag opens the runs that carry it, and the graph page then
 * has nothing stale left.
 *
 * @module
 */

import { needs } from "../_helpers/tools.ts";
import { assert, assertEquals } from "./_assert.ts";
import { BROWSER_WAIT_MS, launchBrowser, shot, watchedPage } from "./_browser.ts";
import { fixtureServer } from "./_fixture.ts";

Deno.test({
  name:
    "browser: the stale count opens the stale list; 'Materialize stale' runs it and the tag finds the run",
  ignore: await needs("chromium"),
  async fn() {
    const { server, release } = await fixtureServer();
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      await page.goto(`${server.url}/assets`, { waitUntil: "networkidle0" });
      await Promise.all([
        page.waitForNavigation(),
        page.click('#summary a[href="/assets?state=stale#all-assets"]'),
      ]);
      assertEquals(
        await page.$$eval("#list tr[data-asset]", (rows) => rows.map((r) => r.dataset.asset)),
        ["marts/summary"],
      );
      assertEquals(await page.$eval("select[name=state]", (s) => s.value), "stale");
      await shot(page, "catalog-stale");
      await Promise.all([
        page.waitForNavigation(),
        page.click("#summary form button"),
      ]);
      assert(/\/runs\/[0-9a-f-]{36}$/.test(page.url()), page.url());
      await page.waitForSelector('.run-header[data-status="success"]', {
        timeout: BROWSER_WAIT_MS,
      });
      await Promise.all([
        page.waitForNavigation(),
        page.click('a.tag[href="/runs?tag=stale%3Dtrue"]'),
      ]);
      const runId = await page.$$eval("tr.run-row", (rows) => rows.map((r) => r.dataset.run));
      assertEquals(runId.length, 1);
      await page.goto(`${server.url}/assets`, { waitUntil: "networkidle0" });
      assertEquals(await page.$('#summary a[href="/assets?state=stale#all-assets"]'), null);
      assertEquals(await page.$("#summary form button"), null);
      assertEquals(problems, []);
    } finally {
      release();
      await browser.close();
      await server.close();
    }
  },
});
