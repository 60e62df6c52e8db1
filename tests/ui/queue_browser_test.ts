/**
 * The queue in real Chromium: launch from the launch page with a priority,
 * land on the queued run's page (it says why it waits), see it on the Queue
 * page, cancel one from the queue page; then a worker takes the other and the
 * open queued page turns into the run page by itself, showing success.
 * Screenshots: `test-artifacts/ui/queue-*.png`.
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { Coordinator } from "../../core/worker/coordinator.ts";
import { MemoryRunQueue } from "../../core/worker/memory_queue.ts";
import { RunWorker } from "../../core/worker/worker.ts";
import { serveUi } from "../../ui/serve.ts";
import { needs } from "../_helpers/tools.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";

const ignore = await needs("chromium");

Deno.test({
  name:
    "browser: launch to the queue, see why it waits, cancel one from the queue page; a worker runs the other and its page follows",
  ignore,
  async fn() {
    const graph = defineGraph({
      assets: [
        defineAsset({ key: "raw", group: "ingest", materialize: () => ({ rows: 1 }) }),
        defineAsset({ key: "mart", deps: ["raw"], materialize: () => ({ rows: 2 }) }),
      ],
    });
    const store = new MemoryRunStore();
    const queue = new MemoryRunQueue();
    const server = await serveUi({ graph, store, queue, port: 0 });
    const browser = await launchBrowser();
    const stop = new AbortController();
    const background: Promise<unknown>[] = [];
    try {
      const { page, problems } = await watchedPage(browser);
      const launch = async (selection: string, priority: string) => {
        await page.goto(`${server.url}/launch`, { waitUntil: "networkidle0" });
        await page.type("input[name=selection]", selection);
        await page.type("input[name=priority]", priority);
        await Promise.all([
          page.waitForNavigation({ waitUntil: "networkidle0" }),
          page.click("form.launch button[type=submit]"),
        ]);
        const runId = page.url().split("/runs/")[1] ?? "";
        assert(runId, `landed on ${page.url()}`);
        return runId;
      };
      const first = await launch("+mart", "1");
      await page.waitForSelector('[data-queue-state="queued"]');
      assertMatch(
        await page.$eval(".reason", (e) => e.textContent ?? ""),
        /no coordinator has run yet/,
      );
      await shot(page, "queue-run-waiting");
      const second = await launch("raw", "7");

      await page.goto(`${server.url}/queue`, { waitUntil: "networkidle0" });
      assertEquals(
        await page.$$eval(
          "tr.queued-row",
          (rows) => rows.map((r) => [r.getAttribute("data-run"), r.getAttribute("data-priority")]),
        ),
        [[second, "7"], [first, "1"]],
        "higher priority first",
      );
      await shot(page, "queue-page");
      // Cancel the high-priority one from the queue page: the page comes back without it.
      await Promise.all([
        page.waitForNavigation({ waitUntil: "networkidle0" }),
        // A locator, not page.click: the page's live refresh may replace the row between
        // finding the button and clicking it ("Node is detached"); a locator finds it again.
        page.locator(`tr[data-run="${second}"] button.danger`).click(),
      ]);
      assert(page.url().endsWith("/queue"), page.url());
      assertEquals(
        await page.$$eval("tr.queued-row", (rows) => rows.map((r) => r.getAttribute("data-run"))),
        [first],
      );
      assertEquals((await queue.get(second))?.state, "canceled");

      // Open the waiting run's page, then start a coordinator and a worker: the page follows.
      await page.goto(`${server.url}/runs/${first}`, { waitUntil: "networkidle0" });
      background.push(
        new Coordinator({ queue, runStore: store, intervalMs: 50 }).run(stop.signal),
        new RunWorker(graph, {
          queue,
          runStore: store,
          heartbeatIntervalMs: 200,
          owner: { instanceId: crypto.randomUUID(), host: "test-host", pid: 1 },
        }).run(stop.signal),
      );
      await page.waitForSelector('.run-header[data-status="success"]');
      assertEquals(
        await page.$$eval(
          "tr[data-step]",
          (rows) => rows.map((r) => [r.getAttribute("data-step"), r.getAttribute("data-status")]),
        ),
        [["raw", "success"], ["mart", "success"]],
      );
      await shot(page, "queue-run-done");
      assertEquals(problems, []);
    } finally {
      stop.abort();
      await Promise.all(background);
      await browser.close();
      await server.close();
      await queue[Symbol.asyncDispose]();
    }
  },
});
