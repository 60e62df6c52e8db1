/**
 * An asset page in Chromium: an asset without tags or kinds says "none" in
 * those rows, as the owners row says "none declared"; before, the cells were
 * empty, which reads as a page still loading.
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { serveUi } from "../../ui/mod.ts";
import { needs } from "../_helpers/tools.ts";
import { assertEquals } from "./_assert.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";

Deno.test({
  name:
    "browser: an asset page says 'none' for tags and kinds it has none of, and lists those it has",
  ignore: await needs("chromium"),
  async fn() {
    const graph = defineGraph({
      assets: [
        defineAsset({ key: "plain", materialize: () => ({}) }),
        defineAsset({ key: "tagged", tags: ["lake", "team_geo"], materialize: () => ({}) }),
      ],
    });
    const server = await serveUi({ graph, store: new MemoryRunStore(), port: 0 });
    await using _ = server;
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      const row = (name: string) =>
        page.$$eval(
          "section.facts table.kv tr",
          (rows, wanted) =>
            rows.filter((r) => r.querySelector("th")?.textContent === wanted)
              .map((r) => (r.querySelector("td")?.textContent ?? "").replace(/\s+/g, " ").trim()),
          name,
        );
      await page.goto(`${server.url}/assets/plain`, { waitUntil: "networkidle0" });
      assertEquals(await row("tags"), ["none"]);
      assertEquals(await row("kinds"), ["none"]);
      await shot(page, "asset-facts-none");
      await page.goto(`${server.url}/assets/tagged`, { waitUntil: "networkidle0" });
      assertEquals(await row("tags"), ["lake team_geo"]);
      assertEquals(problems, []);
    } finally {
      await browser.close();
    }
  },
});
