/**
 * The asset graph of a big installation in real Chromium: above
 * CANVAS_NODES assets it is drawn on a canvas (no SVG node elements), and it
 * still searches, zooms to the match, colours by state — live, when a run
 * materializes an asset — and opens an asset on click.
 * Screenshots: `test-artifacts/ui/graph-canvas-*.png`.
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { CANVAS_NODES } from "../../ui/pages/graph.ts";
import { serveUi } from "../../ui/serve.ts";
import { needs } from "../_helpers/tools.ts";
import { assert, assertEquals } from "./_assert.ts";
import { launchBrowser, shot, watchedPage } from "./_browser.ts";

const ignore = await needs("chromium");
const SIZE = CANVAS_NODES + 500;

function bigGraph() {
  const width = 50;
  return defineGraph({
    assets: Array.from({ length: SIZE }, (_, i) => {
      const layer = Math.floor(i / width);
      const deps = layer === 0 ? [] : [
        ...new Set([(layer - 1) * width + (i % width), (layer - 1) * width + ((i + 1) % width)]),
      ];
      return defineAsset({ key: `a${i}`, deps: deps.map((d) => `a${d}`), materialize: () => {} });
    }),
  });
}

Deno.test({
  name:
    "browser: a graph above CANVAS_NODES assets is drawn on a canvas that searches, colours live and opens assets",
  ignore,
  async fn() {
    const graph = bigGraph();
    const store = new MemoryRunStore();
    const server = await serveUi({ graph, store, port: 0 });
    const browser = await launchBrowser();
    try {
      const { page, problems } = await watchedPage(browser);
      await page.goto(`${server.url}/assets`, { waitUntil: "networkidle0" });
      await page.waitForSelector("canvas[data-graph-canvas][data-drawn]");
      assertEquals(
        await page.$eval("canvas[data-graph-canvas]", (c) => c.getAttribute("data-nodes")),
        String(SIZE),
      );
      assertEquals((await page.$$("a.node")).length, 0, "no SVG node elements");
      await shot(page, "graph-canvas-all");

      // The toolbar zooms: + zooms in by 1.5, fit goes back.
      const scale = () =>
        page.$eval("canvas[data-graph-canvas]", (c) => Number(c.getAttribute("data-scale")));
      const fitted = await scale();
      await page.click('[data-zoom="in"]');
      await page.waitForFunction(
        `Number(document.querySelector("canvas[data-graph-canvas]").dataset.scale) > ${
          fitted * 1.4
        }`,
      );
      await page.click('[data-zoom="fit"]');
      await page.waitForFunction(
        `Math.abs(Number(document.querySelector("canvas[data-graph-canvas]").dataset.scale) - ${fitted}) < 1e-9`,
      );

      const target = "a1234";
      await page.type("[data-graph-search]", target);
      await page.waitForFunction(
        `document.querySelector("[data-graph-count]")?.textContent === "1 match"`,
      );
      // Where the target is on screen, and the colour of its border there.
      const border = async () =>
        await page.evaluate(`(() => {
          const canvas = document.querySelector("canvas[data-graph-canvas]");
          const data = JSON.parse(document.querySelector("script[data-graph-data]").textContent);
          const node = data.nodes.find((n) => n[0] === ${JSON.stringify(target)});
          const r = canvas.getBoundingClientRect();
          const scale = Number(canvas.dataset.scale);
          // The view was centred on the match: its centre is the canvas centre.
          const cx = r.width / 2, cy = r.height / 2;
          const left = cx - (data.nodeWidth / 2) * scale;
          const dpr = window.devicePixelRatio || 1;
          const pixel = canvas.getContext("2d").getImageData(Math.round(left * dpr), Math.round(cy * dpr), 1, 1).data;
          return { found: node !== undefined, click: { x: r.left + cx, y: r.top + cy }, rgb: [pixel[0], pixel[1], pixel[2]] };
        })()`) as { found: boolean; click: { x: number; y: number }; rgb: number[] };
      await page.waitForFunction(
        `Number(document.querySelector("canvas[data-graph-canvas]")?.dataset.drawn) < 200`,
      );
      const before = await border();
      assert(before.found);
      assertEquals(before.rgb, [0x94, 0xa3, 0xb8], "never materialized: the --never grey");
      await shot(page, "graph-canvas-search");

      // A run elsewhere materializes it: the open page turns its border green without a reload.
      const run = await materialize(graph, { runStore: store, selection: target });
      assertEquals(run.status, "success");
      const deadline = Date.now() + 30_000;
      for (;;) {
        const now = await border();
        if (now.rgb.join() === [0x16, 0xa3, 0x4a].join()) break;
        if (Date.now() > deadline) throw new Error(`border stayed ${now.rgb}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await shot(page, "graph-canvas-live");

      await Promise.all([
        page.waitForNavigation({ waitUntil: "networkidle0" }),
        page.mouse.click(before.click.x, before.click.y),
      ]);
      assertEquals(new URL(page.url()).pathname, `/assets/${target}`);
      assertEquals(problems, []);
    } finally {
      await browser.close();
      await server.close();
    }
  },
});
