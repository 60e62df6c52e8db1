import { assert, assertEquals } from "./_assert.ts";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import type { Graph } from "../../core/graph.ts";
import { chart } from "../../ui/charts.ts";
import { layoutGraph } from "../../ui/layout.ts";
import { graphSvg, MERGED_EDGES } from "../../ui/pages/graph.ts";

/** `size` assets in layers of `width`, each depending on two of the layer above. */
function layered(size: number, width: number): Graph<unknown> {
  return defineGraph({
    assets: Array.from({ length: size }, (_, i) => {
      const layer = Math.floor(i / width);
      const deps = layer === 0 ? [] : [
        ...new Set([(layer - 1) * width + (i % width), (layer - 1) * width + ((i + 1) % width)]),
      ];
      return defineAsset({ key: `a${i}`, deps: deps.map((d) => `a${d}`), materialize: () => {} });
    }),
  }) as Graph<unknown>;
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

Deno.test("graph svg: one path per edge with its ends on small graphs; one path for all edges on big ones", () => {
  const small = layoutGraph(layered(30, 10));
  assertEquals(small.edges.length, 40);
  const smallSvg = String(graphSvg(small, new Map()));
  assertEquals(count(smallSvg, /<path class="edge" data-from="a\d+" data-to="a\d+"/g), 40);
  assertEquals(count(smallSvg, /<a class="node s-never"/g), 30);

  const big = layoutGraph(layered(1300, 100));
  assert(big.edges.length > MERGED_EDGES, `${big.edges.length} edges`);
  const bigSvg = String(graphSvg(big, new Map()));
  assertEquals(count(bigSvg, /<path class="edge/g), 1);
  const d = /<path class="edge merged" d="([^"]+)"/.exec(bigSvg)?.[1] ?? "";
  assertEquals(count(d, /M/g), big.edges.length, "one sub-path per edge");
  assertEquals(count(bigSvg, /<a class="node/g), 1300);
});

Deno.test("charts: one point in time gets a readable axis; labels never collide or leave the chart", () => {
  const day = Date.parse("2026-12-05T00:00:00Z");
  const svg = String(chart([{ name: "rows", points: [{ x: day, y: 5 }] }], {
    title: "rows",
    width: 420,
    height: 200,
  }));
  const labels = [...svg.matchAll(/<text class="tick" x="([\d.]+)" y="18\d[^>]*>([^<]+)</g)];
  assert(labels.length >= 2 && labels.length <= 6, `${labels.length} x labels`);
  assert(labels.some((l) => l[2] === "Sat 05" || l[2] === "Dec 05"), svg);
  const xs = labels.map((l) => Number(l[1]));
  for (let i = 1; i < xs.length; i++) {
    assert((xs[i] as number) - (xs[i - 1] as number) >= 60, `labels too close: ${xs}`);
  }
  assertEquals(count(svg, /class="pt"/g), 1);
  const empty = String(chart([{ name: "rows", points: [] }], { title: "rows" }));
  assert(empty.includes("no data yet"));
});
