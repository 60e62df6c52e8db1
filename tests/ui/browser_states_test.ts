/**
 * The UI in real Chromium beyond the happy path: every page on a store where
 * nothing has run and without lake, ledger or warehouse (each says so, none
 * breaks), error pages for unknown things and malformed parameters (a
 * readable 404/400, no stack), and live updates (a run launched elsewhere
 * appears in the open run list and asset page and reaches success with no
 * reload). Screenshots go to `test-artifacts/ui/state-*.png`.
 *
 * @module
 */

import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { serveUi } from "../../ui/mod.ts";
import { needs } from "../_helpers/tools.ts";
import { assert, assertEquals } from "./_assert.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";
import { fixtureGraph, SECRET } from "./_fixture.ts";

const ignore = await needs("chromium");

/** Text of `main`, whitespace collapsed. */
const mainText = (page: import("puppeteer-core").Page) =>
  page.$eval("main", (m) => (m.textContent ?? "").replace(/\s+/g, " "));

Deno.test({
  name: "browser: a store where nothing ran and no lake, ledger or warehouse: every page says so",
  ignore,
  async fn() {
    const { graph, release } = fixtureGraph();
    const server = await serveUi({ graph, store: new MemoryRunStore(), port: 0 });
    await using _ = server;
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      const base = server.url;
      const expect: [path: string, says: RegExp, selector: string][] = [
        ["/assets", /5 assets in 2 group\(s\): 5 never/, "a.node"],
        ["/assets/raw_events", /Never materialized\./, "p.empty"],
        ["/runs", /No run matches\./, "p.empty"],
        ["/automation", /inbox/, "section[data-automation]"],
        ["/automation/nightly", /nightly/, "main h1"],
        ["/lake", /started without a lake/, "p.warn"],
        ["/marts", /./, "main h1"],
        ["/map", /./, "main h1"],
        ["/launch", /Launch/, "form.launch"],
        ["/api", /GET \/api\/assets/, "table.list"],
      ];
      for (const [path, says, selector] of expect) {
        await page.goto(`${base}${path}`, { waitUntil: "networkidle0" });
        assert(await page.$(selector), `${path}: no ${selector}`);
        const text = await mainText(page);
        assert(says.test(text), `${path}: ${text.slice(0, 300)}`);
        assert(!/\bat \S+\.ts:\d+/.test(text), `${path} shows a stack`);
        await shot(page, `state-empty${path.replaceAll("/", "-")}`);
      }
      assertEquals(
        await page.goto(`${base}/assets`).then(() =>
          page.$$eval("a.node", (n) => n.map((x) => x.getAttribute("data-state")))
        ),
        ["never", "never", "never", "never", "never"],
      );
      assertEquals(problems, []);
    } finally {
      release();
      await browser.close();
    }
  },
});

Deno.test({
  name: "browser: unknown things and malformed parameters show a readable 404/400 page, no stack",
  ignore,
  async fn() {
    const { graph, release } = fixtureGraph();
    const server = await serveUi({
      graph,
      store: new MemoryRunStore(),
      port: 0,
      secrets: [SECRET],
    });
    await using _ = server;
    const browser = await launchBrowser();
    const cases: [path: string, status: number, says: RegExp][] = [
      ["/assets/raw_evnts", 404, /No asset has key raw_evnts\. Did you mean raw_events\?/],
      ["/runs/no-such-run", 404, /No run has id no-such-run/],
      ["/automation/inbx", 404, /Did you mean inbox\?/],
      ["/nowhere", 404, /Nothing at \/nowhere/],
      ["/runs?status=done", 400, /status 'done' is not one of running, success, failed, canceled/],
      ["/runs?since=yesterday", 400, /since 'yesterday' is not a date/],
      ["/assets?page=-1", 400, /page '-1' must be a page number/],
      ["/assets/raw_events?before=99999999999999999999999", 400, /before .* must be an event id/],
      ["/automation/inbox?before=x", 400, /before 'x' must be a tick id/],
      ["/lake/object?bucket=elsewhere&key=a", 404, /'elsewhere' is not a bucket of this lake/],
    ];
    const expected = new Set(cases.map(([path]) => `${server.url}${path}`));
    try {
      const { page, problems } = await watchedPage(
        browser,
        (url) => expected.has(decodeURIComponent(url)) || expected.has(url),
      );
      for (const [path, status, says] of cases) {
        const res = await page.goto(`${server.url}${path}`, { waitUntil: "networkidle0" });
        assertEquals(res?.status(), status, path);
        const text = await mainText(page);
        assert(says.test(text), `${path}: ${text.slice(0, 300)}`);
        assert(!/\bat \S+\.ts:\d+|file:\/\//.test(text), `${path} shows a stack`);
        // The page is whole: navigation and styles load, so the user can go on.
        assertEquals(await page.$$eval("header nav a", (n) => n.length), 8);
      }
      await shot(page, "state-bad-request");
      // The suggestion of a 404 leads to the asset.
      await page.goto(`${server.url}/assets/raw_evnts`, { waitUntil: "networkidle0" });
      await Promise.all([page.waitForNavigation(), page.click("p.warn a")]);
      assertEquals(await page.$eval("h1.asset-key", (h) => h.textContent), "raw_events");
      assertEquals(problems, []);
    } finally {
      release();
      await browser.close();
    }
  },
});

Deno.test({
  name: "browser: a run launched elsewhere shows up live in the open run list and asset page",
  ignore,
  async fn() {
    const { graph, release } = fixtureGraph();
    const server = await serveUi({ graph, store: new MemoryRunStore(), port: 0 });
    await using _ = server;
    const browser = await launchBrowser();
    try {
      const runs = await watchedPage(browser);
      const asset = await watchedPage(browser);
      await runs.page.goto(`${server.url}/runs`, { waitUntil: "networkidle0" });
      await asset.page.goto(`${server.url}/assets/slow`, { waitUntil: "networkidle0" });
      // A marker that a reload would lose: the pages must change in place.
      for (const p of [runs.page, asset.page]) {
        await p.evaluate(() => Object.assign(globalThis, { __stay: true }));
      }
      assertEquals(await runs.page.$$eval("tr.run-row", (n) => n.length), 0);

      // Hidden tabs do not poll (app.js): each page is brought to the front in turn.
      await runs.page.bringToFront();
      const runId = await server.context.launcher.launch({ selection: "slow" });
      await runs.page.waitForSelector(`tr.run-row[data-run="${runId}"][data-status="running"]`);
      await shot(runs.page, "state-live-running");
      await asset.page.bringToFront();
      await asset.page.waitForFunction(
        `/running/i.test(document.querySelector("#state")?.textContent ?? "")`,
      );
      release();
      await asset.page.waitForFunction(
        `/materialized/i.test(document.querySelector("#state")?.textContent ?? "")`,
      );
      await asset.page.waitForSelector("#history table, #history svg.chart");
      await runs.page.bringToFront();
      await runs.page.waitForSelector(`tr.run-row[data-run="${runId}"][data-status="success"]`);
      for (const p of [runs.page, asset.page]) {
        assert(await p.evaluate(() => "__stay" in globalThis), "the page was reloaded");
      }
      await shot(runs.page, "state-live-done");
      assertEquals([...runs.problems, ...asset.problems], []);
    } finally {
      release();
      await browser.close();
    }
  },
});
