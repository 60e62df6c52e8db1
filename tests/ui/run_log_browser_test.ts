/**
 * A run's event log in Chromium shows a log line's fields as `key=value`
 * chips, as it shows a materialization's metadata; before, they followed the
 * message as a raw JSON object (`{"place":"billings","rows":3}`), which a
 * Dagster user reads as a serialization leak.
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { serveUi } from "../../ui/mod.ts";
import { needs } from "../_helpers/tools.ts";
import { assert, assertEquals } from "./_assert.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";

Deno.test({
  name: "browser: a run's event log shows a log line's fields as key=value chips, not raw JSON",
  ignore: await needs("chromium"),
  async fn() {
    const graph = defineGraph({
      assets: [defineAsset({
        key: "weather",
        materialize: (ctx) => {
          ctx.log.info("written billings.json", {
            place: "billings",
            rows: 3,
            bbox: [1, 2],
            note: null,
          });
          return {};
        },
      })],
    });
    const store = new MemoryRunStore();
    const run = await materialize(graph, { runStore: store });
    const server = await serveUi({ graph, store, port: 0 });
    await using _ = server;
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      await page.goto(`${server.url}/runs/${run.runId}`, { waitUntil: "networkidle0" });
      const line = await page.$eval(
        'ol.events li[data-type="log"] .msg',
        (m) => (m.textContent ?? "").replace(/\s+/g, " ").trim(),
      );
      assertEquals(line, "written billings.json place=billings rows=3 bbox=[1,2] note=null");
      const chips = await page.$$eval(
        'ol.events li[data-type="log"] .msg .mini',
        (spans) => spans.map((s) => s.getAttribute("data-field")),
      );
      assertEquals(chips, ["place", "rows", "bbox", "note"]);
      const log = await page.$eval("#log", (l) => l.textContent ?? "");
      assert(!/\{"|\[object Object\]|undefined/.test(log), log);
      await shot(page, "run-log-fields");
      assertEquals(problems, []);
    } finally {
      await browser.close();
    }
  },
});
