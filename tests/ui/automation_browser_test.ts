/**
 * The automation page in Chromium says how often each sensor is evaluated
 * in time, as a Dagster user reads it: its own interval, or the daemon's
 * tick (SENSOR_INTERVAL_MS, `dev --interval`) for a sensor that sets none.
 * Before, that second case printed the variable's name as the number:
 * "every SENSOR_INTERVAL_MS ms".
 *
 * @module
 */

import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { defineGraph } from "../../core/definitions.ts";
import { defineAsset } from "../../core/asset.ts";
import { defineSensor } from "../../core/sensor.ts";
import { serveUi } from "../../ui/mod.ts";
import { needs } from "../_helpers/tools.ts";
import { assert, assertEquals } from "./_assert.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";

Deno.test({
  name:
    "browser: the automation page says each sensor's interval in time, the daemon's tick for one that sets none",
  ignore: await needs("chromium"),
  async fn() {
    const graph = defineGraph({
      assets: [defineAsset({ key: "a", materialize: () => ({}) })],
      sensors: [
        defineSensor({ name: "paced", evaluate: () => ({ skipReason: "nothing" }) }),
        defineSensor({
          name: "hourly",
          intervalMs: 3_600_000,
          evaluate: () => ({ skipReason: "nothing" }),
        }),
      ],
    });
    const server = await serveUi({
      graph,
      store: new MemoryRunStore(),
      port: 0,
      daemonIntervalMs: 30_000,
    });
    await using _ = server;
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      await page.goto(`${server.url}/automation`, { waitUntil: "networkidle0" });
      const when = (name: string) =>
        page.$eval(
          `section[data-automation="${name}"] table.kv tr:first-child td`,
          (td) => (td.textContent ?? "").replace(/\s+/g, " ").trim(),
        );
      assertEquals(await when("paced"), "every 30.0 s (the daemon's tick, SENSOR_INTERVAL_MS)");
      assertEquals(await when("hourly"), "every 60 m 00 s");
      const text = await page.$eval("main", (m) => m.textContent ?? "");
      assert(!/SENSOR_INTERVAL_MS ms|undefined|NaN/.test(text), text.slice(0, 500));
      await shot(page, "automation-intervals");
      assertEquals(problems, []);
    } finally {
      await browser.close();
    }
  },
});
