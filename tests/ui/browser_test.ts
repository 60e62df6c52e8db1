/**
 * The UI in real Chromium (Debian's, driven by puppeteer-core; nothing is
 * downloaded): every page on a graph that has run, a launch from the UI
 * followed until it succeeds, no console error, no failed request.
 * Screenshots go to `test-artifacts/ui/`.
 *
 * Without Chromium the tests skip, naming the install command; under
 * `CI=true` they run (and fail if Chromium is missing).
 *
 * @module
 */

import { MemoryLedger } from "../../resources/ledger/memory.ts";
import { MemoryObjectStore } from "../../resources/object_store/memory.ts";
import { serveUi } from "../../ui/mod.ts";
import { assert, assertEquals } from "./_assert.ts";
import { fixtureGraph, ranStore, SCRIPT, SECRET } from "./_fixture.ts";
import { needs } from "../_helpers/tools.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";

const ignore = await needs("chromium");

async function fixture() {
  const { graph, release } = fixtureGraph();
  const store = await ranStore(graph);
  const lake = new MemoryObjectStore();
  for (const bucket of ["landing-zone", "data-lake"]) await lake.ensureBucket(bucket);
  const ledger = new MemoryLedger();
  const body = new TextEncoder().encode(JSON.stringify({ rows: 3 }));
  const put = await lake.put("data-lake", "raw/events/north.json", body, {
    contentType: "application/json",
  });
  const doc = await ledger.upsert({
    bucket: "data-lake",
    key: "raw/events/north.json",
    sha256: put.sha256,
    size: put.size,
    run_id: (await store.listRuns())[0]?.runId ?? "run",
    asset_key: "raw_events",
    partition: "north",
    format: "json",
    metadata: { source_files: [{ key: "b1/events.csv", sha256: "0".repeat(64), size: 10 }] },
  });
  await lake.put(
    "landing-zone",
    "quarantine/b2.error.json",
    new TextEncoder().encode(JSON.stringify({
      batch_id: "b2",
      problems: [`files[0].path: ${SCRIPT} leaves the batch folder`],
    })),
  );
  const server = await serveUi({
    graph,
    store,
    port: 0,
    secrets: [SECRET],
    sources: { openLake: () => Promise.resolve(lake), openLedger: () => Promise.resolve(ledger) },
  });
  return { server, store, release, doc };
}

Deno.test({
  name: "browser: every page shows its content with no console error or failed request",
  ignore,
  async fn() {
    const { server, store, release } = await fixture();
    await using _ = server;
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      const base = server.url;

      await page.goto(`${base}/assets`, { waitUntil: "networkidle0" });
      assertEquals(await page.$$eval("a.node", (n) => n.length), 5);
      assertEquals(await page.$$eval("g.group", (n) => n.length), 2);
      assertEquals(
        await page.$eval('a.node[data-key="marts/broken"]', (n) => n.getAttribute("data-state")),
        "failed",
      );
      assertEquals(
        await page.$eval('a.node[data-key="clean_events"]', (n) => n.getAttribute("data-state")),
        "check_failing",
      );
      assert((await page.$$eval("path.edge", (n) => n.length)) === 2);
      await page.type("[data-graph-search]", "clean");
      assertEquals(await page.$$eval("a.node.match", (n) => n.length), 1);
      await page.click('[data-zoom="in"]');
      const viewBox = await page.$eval("svg.graph", (s) => s.getAttribute("viewBox"));
      assert(viewBox !== null && !viewBox.startsWith("0 0 "), `zoom did not move: ${viewBox}`);
      await shot(page, "graph");
      // The whole navigation, not just its first element: a screenshot taken while the new
      // page still loads fails ("Cannot take screenshot with 0 width") on a loaded machine.
      await Promise.all([
        page.waitForNavigation({ waitUntil: "networkidle0" }),
        page.click('a.node[data-key="raw_events"]'),
      ]);
      await page.waitForSelector("h1.asset-key");
      assertEquals(await page.$eval("h1.asset-key", (h) => h.textContent), "raw_events");

      assert(await page.$eval(".description", (d) => d.textContent?.includes("<script>")));
      assert((await page.$$eval("svg.chart .pt", (n) => n.length)) >= 3, "history plot has points");
      assertEquals(await page.$$eval(".grid a.cell.p-ok", (n) => n.length), 3);
      await shot(page, "asset");

      await page.goto(`${base}/assets/clean_events`, { waitUntil: "networkidle0" });
      assertEquals(
        await page.$eval('tr.check[data-check="no_nulls"]', (r) => r.className),
        "check fail",
      );
      await shot(page, "asset-checks");

      const [failed] = await store.listRuns({ status: "failed" });
      await page.goto(`${base}/runs`, { waitUntil: "networkidle0" });
      assertEquals(await page.$$eval("tr.run-row", (n) => n.length), 2);
      await shot(page, "runs");
      await page.goto(`${base}/runs/${failed?.runId}`, { waitUntil: "networkidle0" });
      assert((await page.$$eval("li.event", (n) => n.length)) > 10, "event lines");
      assert((await page.$$eval("rect.gbar", (n) => n.length)) >= 8, "gantt bars");
      const error = await page.$eval(".error-box", (e) => e.textContent ?? "");
      assert(error.includes("postgres://app:***@db"), error);
      assert(!(await page.content()).includes(SECRET));
      assert(!(await page.evaluate(() => "__pwned" in globalThis)));
      await page.goto(`${base}/runs/${failed?.runId}?type=step_failed`, {
        waitUntil: "networkidle0",
      });
      assertEquals(await page.$$eval("li.event", (n) => n.length), 1);
      await shot(page, "run");

      await page.goto(`${base}/automation`, { waitUntil: "networkidle0" });
      assertEquals(await page.$$eval("section[data-automation]", (n) => n.length), 2);
      // Toggle a sensor off: the page comes back showing it off, and the run store has it.
      await Promise.all([page.waitForNavigation(), page.click('button[data-toggle="inbox"]')]);
      assertEquals(
        await page.$eval(
          '[data-automation="inbox"] [data-state]',
          (n) => n.getAttribute("data-state"),
        ),
        "off",
      );
      assertEquals((await store.automationStates()).map((st) => [st.name, st.enabled]), [[
        "inbox",
        false,
      ]]);
      await shot(page, "automation");
      await page.goto(`${base}/automation/inbox`, { waitUntil: "networkidle0" });
      await shot(page, "automation-history");

      await page.goto(`${base}/lake?bucket=data-lake&prefix=raw/events/`, {
        waitUntil: "networkidle0",
      });
      await Promise.all([
        page.waitForNavigation({ waitUntil: "networkidle0" }),
        page.click("tr.object a"),
      ]);
      await page.waitForSelector(".lineage");
      assert((await page.$eval(".lineage", (l) => l.textContent ?? "")).includes("b1/events.csv"));
      await shot(page, "lake-object");
      await page.goto(`${base}/lake`, { waitUntil: "networkidle0" });
      const report = await page.$eval(".quarantine", (q) => q.textContent ?? "");
      assert(report.includes("<script>") && report.includes("leaves the batch folder"));
      await shot(page, "lake");

      for (const [name, path] of [["marts", "/marts"], ["map", "/map"], ["api", "/api"]]) {
        await page.goto(`${base}${path}`, { waitUntil: "networkidle0" });
        assert((await page.$eval("main h1", (h) => h.textContent ?? "")).length > 0);
        await shot(page, name as string);
      }

      // Launch from the UI and watch the run page until it says success.
      await page.goto(`${base}/launch`, { waitUntil: "networkidle0" });
      await page.type('input[name="selection"]', "+marts/summar");
      await page.waitForSelector('[data-resolution="error"]');
      assert(
        (await page.$eval("[data-resolution]", (p) => p.textContent ?? "")).includes(
          "did you mean 'marts/summary'",
        ),
      );
      await page.type('input[name="selection"]', "y");
      await page.waitForSelector('[data-resolution="ok"]');
      await page.type('input[name="partition"]', "south");
      await Promise.all([page.waitForNavigation(), page.click("form.launch button")]);
      assert(page.url().includes("/runs/"));
      await page.waitForSelector('.run-header[data-status="success"]');
      await shot(page, "launched-run");

      // A running run shows live, and cancel from its page ends it.
      const launchedId = await server.context.launcher.launch({ selection: "slow" });
      await page.goto(`${base}/runs/${launchedId}`, { waitUntil: "domcontentloaded" });
      await page.waitForSelector(".run-header[data-status=running]");
      await Promise.all([page.waitForNavigation(), page.click("form button.danger")]);
      await page.waitForSelector('.run-header[data-status="canceled"]');
      await shot(page, "canceled-run");
      assertEquals(problems, []);
    } finally {
      release();
      await browser.close();
    }
  },
});
