/**
 * Web UI speed on big installations, through the UI's own HTTP server:
 *
 * - **Graph page**: `/assets` for the 10,000-asset benchmark graph of
 *   `bench/core.ts` (all materialized, SQLite run store): the first request
 *   of a fresh server (statuses + layout + rendering), later requests (the
 *   layout is cached), the layout alone, and, when Chromium is installed, the
 *   page loaded in the browser (navigation timings). Goal: under 2 s for the
 *   server response with the layout.
 *
 * Each figure is a median, with its ratio to a static file served by the
 * same server in the same run.
 *
 *     deno run -A bench/ui.ts
 *
 * @module
 */

import puppeteer from "puppeteer-core";
import type { Graph } from "../core/graph.ts";
import { materialize } from "../core/executor.ts";
import { SqliteRunStore } from "../resources/run_store/sqlite.ts";
import { layoutGraph } from "../ui/layout.ts";
import { serveUi, type UiServer } from "../ui/serve.ts";
import { chromiumPath, probe } from "../tests/_helpers/tools.ts";
import { layeredGraph } from "./core.ts";

/** Median of `values`. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Milliseconds to GET `url` and read its whole body; throws on a status >= 400. */
export async function timeGet(url: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  const ms = performance.now() - started;
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${new TextDecoder().decode(body)}`);
  return { ms, bytes: body.byteLength };
}

/** Median time of `times` GETs of `url`. */
async function medianGet(url: string, times: number): Promise<{ ms: number; bytes: number }> {
  const runs = [];
  for (let i = 0; i < times; i++) runs.push(await timeGet(url));
  return { ms: median(runs.map((r) => r.ms)), bytes: runs[0]?.bytes ?? 0 };
}

/** `12 ms (3.4x)`: a time and its ratio to `base`. */
function withRatio(ms: number, base: number): string {
  return `${ms.toFixed(ms < 10 ? 1 : 0)} ms (${(ms / base).toFixed(1)}x)`;
}

/** A static file of the same server, median of 20 GETs: the floor of any page. */
async function staticBaseline(server: UiServer): Promise<number> {
  await medianGet(`${server.url}/static/app.css`, 5); // warm-up
  return (await medianGet(`${server.url}/static/app.css`, 20)).ms;
}

/** Browser navigation timings of `url` in Chromium, medians of `times` loads. */
async function browserLoad(
  url: string,
  times: number,
): Promise<{ response: number; interactive: number; load: number }> {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const samples: { response: number; interactive: number; load: number }[] = [];
    for (let i = 0; i < times + 1; i++) {
      await page.goto(url, { waitUntil: "load", timeout: 120_000 });
      const timing = await page.evaluate(() => {
        // The browser's PerformanceNavigationTiming (not in Deno's types).
        const n = performance.getEntriesByType("navigation")[0] as unknown as Record<
          "responseEnd" | "domContentLoadedEventEnd" | "loadEventEnd",
          number
        >;
        return {
          response: n.responseEnd,
          interactive: n.domContentLoadedEventEnd,
          load: n.loadEventEnd,
        };
      });
      if (i > 0) samples.push(timing); // the first load warms the browser up
    }
    return {
      response: median(samples.map((s) => s.response)),
      interactive: median(samples.map((s) => s.interactive)),
      load: median(samples.map((s) => s.load)),
    };
  } finally {
    await browser.close();
  }
}

/** The graph page of the 10,000-asset graph; returns the lines to print. */
async function graphPage(dir: string, size: number): Promise<string[]> {
  await using store = SqliteRunStore.open(`${dir}/graph-runs.db`);
  const run = await materialize(layeredGraph(size), { runStore: store, concurrency: 8 });
  if (run.status !== "success") throw new Error(`bench run ${run.status}: ${run.errorSummary}`);
  await store.flush();
  const lines: string[] = [];
  // A fresh graph object per sample: the layout is cached per graph.
  const cold: number[] = [];
  const layouts: number[] = [];
  let bytes = 0;
  let warm = NaN, base = NaN;
  let browser: Awaited<ReturnType<typeof browserLoad>> | undefined;
  for (let i = 0; i < 3; i++) {
    const graph = layeredGraph(size);
    await using server = await serveUi({ graph, store, port: 0 });
    const first = await timeGet(`${server.url}/assets`);
    cold.push(first.ms);
    bytes = first.bytes;
    layouts.push(layoutGraph(layeredGraph(size) as Graph<unknown>).layoutMs);
    if (i === 2) {
      base = await staticBaseline(server);
      warm = (await medianGet(`${server.url}/assets`, 5)).ms;
      if ((await probe("chromium")).present) browser = await browserLoad(`${server.url}/assets`, 3);
    }
  }
  const coldMs = median(cold);
  lines.push(
    `Graph page, ${size.toLocaleString("en")} assets (${
      (bytes / 2 ** 20).toFixed(1)
    } MiB of HTML)` +
      `; static file of the same server: ${base.toFixed(1)} ms`,
    `  first request (statuses + layout + page): ${withRatio(coldMs, base)}  goal < 2000 ms: ${
      coldMs < 2000 ? "met" : "MISSED"
    }`,
    `  layout alone: ${median(layouts).toFixed(0)} ms;  later requests (layout cached): ${
      withRatio(warm, base)
    }`,
  );
  lines.push(
    browser
      ? `  in Chromium: response end ${browser.response.toFixed(0)} ms, DOMContentLoaded ${
        browser.interactive.toFixed(0)
      } ms, load ${browser.load.toFixed(0)} ms (medians of 3 loads)`
      : "  in Chromium: skipped (no Chromium; apt-get install -y chromium)",
  );
  return lines;
}

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-ui-" });
  try {
    for (const line of await graphPage(dir, 10_000)) console.log(line);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
