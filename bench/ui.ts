/**
 * Web UI speed on big installations, through the UI's own HTTP server:
 *
 * - **Graph page**: `/assets` for the 10,000-asset benchmark graph of
 *   `bench/core.ts` (all materialized, SQLite run store): the first request
 *   of a fresh server (statuses + layout + rendering), later requests (the
 *   layout is cached), the layout alone, and, when Chromium is installed, the
 *   page loaded in the browser (navigation timings). Goal: under 2 s for the
 *   server response with the layout.
 * - **Run list**: 100,000 runs in the store (memory, SQLite, and Postgres on a
 *   throwaway cluster when installed), recorded through the store's API; the
 *   JSON page (`/api/runs`) and the HTML page (`/runs`) of 50 runs at the
 *   start, the middle and the end of the history, filtered by status, asset,
 *   sensor and time. Goal: under 200 ms a page.
 *
 * Each figure is a median, with its ratio to a baseline measured in the same
 * run: the same query on the bare store (no HTTP, no rendering), and a static
 * file served by the same server.
 *
 *     deno run -A bench/ui.ts                      # BENCH_UI_RUNS=5000 for a quick try
 *     BENCH_UI_ONLY=graph deno run -A bench/ui.ts  # only the graph page (or =runs)
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import puppeteer from "puppeteer-core";
import type { Graph } from "../core/graph.ts";
import { defineAsset } from "../core/asset.ts";
import { defineGraph } from "../core/definitions.ts";
import { materialize } from "../core/executor.ts";
import { MemoryRunStore } from "../core/run_store/memory.ts";
import type { ListRunsOptions, NewRun, RunStore, StepRecord } from "../core/run_store/types.ts";
import { defineSchedule } from "../core/schedule.ts";
import { defineSensor } from "../core/sensor.ts";
import { PostgresRunStore } from "../resources/run_store/postgres.ts";
import { SqliteRunStore } from "../resources/run_store/sqlite.ts";
import { layoutGraph } from "../ui/layout.ts";
import { serveUi, type UiServer } from "../ui/serve.ts";
import { findPostgresBinDir, startPostgres } from "../tests/_helpers/postgres.ts";
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
): Promise<{ response: number; interactive: number; load: number; painted: number }> {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const samples: { response: number; interactive: number; load: number; painted: number }[] = [];
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
      // Two animation frames after load: the frame showing the graph has been produced.
      const painted = Number(
        await page.evaluate(
          "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))",
        ),
      );
      if (i > 0) samples.push({ ...timing, painted }); // the first load warms the browser up
    }
    return {
      response: median(samples.map((s) => s.response)),
      interactive: median(samples.map((s) => s.interactive)),
      load: median(samples.map((s) => s.load)),
      painted: median(samples.map((s) => s.painted)),
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
  let browserSvg: Awaited<ReturnType<typeof browserLoad>> | undefined;
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
      if ((await probe("chromium")).present) {
        browser = await browserLoad(`${server.url}/assets`, 3);
        // The baseline: the same page drawn as SVG (what it was before the canvas).
        browserSvg = await browserLoad(`${server.url}/assets?draw=svg`, 3);
      }
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
      } ms, load ${browser.load.toFixed(0)} ms, graph painted ${
        browser.painted.toFixed(0)
      } ms (medians of 3 loads)  goal < 2000 ms: ${browser.painted < 2000 ? "met" : "MISSED"}` +
        (browserSvg
          ? `\n  same page drawn as SVG (?draw=svg, the baseline): DOMContentLoaded ${
            browserSvg.interactive.toFixed(0)
          } ms, graph painted ${browserSvg.painted.toFixed(0)} ms; canvas/SVG painted ${
            (browser.painted / browserSvg.painted).toFixed(2)
          }x`
          : "")
      : "  in Chromium: skipped (no Chromium; apt-get install -y chromium)",
  );
  return lines;
}

/** Runs in the history (BENCH_UI_RUNS overrides, for a quick try). */
const RUNS = Number(Deno.env.get("BENCH_UI_RUNS") ?? 100_000);
const T0 = Date.parse("2025-01-01T00:00:00Z");
const ASSETS = 50;

/** Id and start of run `i` of the history (every 10th starts with the one before). */
function runAt(i: number): { runId: string; startedAt: number } {
  return {
    runId: `run-${String(i).padStart(6, "0")}`,
    startedAt: T0 + (i - (i % 10 === 9 ? 1 : 0)) * 1000,
  };
}

/** Run `i`: mostly successes, some failures; launched by a sensor, a schedule or the CLI. */
function historyRun(i: number): NewRun {
  const { runId, startedAt } = runAt(i);
  const failed = i % 20 === 7;
  return {
    runId,
    status: failed ? "failed" : "success",
    selection: `a${i % ASSETS}`,
    partitions: null,
    tags: i % 5 === 0
      ? { sensor: `sensor_${i % 3}`, run_key: `k${i}` }
      : i % 5 === 1
      ? { schedule: "nightly", tick: String(i) }
      : { launched_by: "cli" },
    startedAt,
    finishedAt: startedAt + 500,
    errorSummary: failed ? `1 failed: a${i % ASSETS}` : null,
  };
}

/** The graph the run history belongs to (the API checks asset and sensor names). */
function historyGraph() {
  const assets = [
    ...Array.from(
      { length: ASSETS },
      (_, i) => defineAsset({ key: `a${i}`, materialize: () => {} }),
    ),
    defineAsset({ key: "rare", materialize: () => {} }),
  ];
  return defineGraph({
    assets,
    sensors: [0, 1, 2].map((n) =>
      defineSensor({ name: `sensor_${n}`, evaluate: () => ({ skipReason: "bench" }) })
    ),
    schedules: [defineSchedule({ name: "nightly", cron: "0 3 * * *", selection: "a0" })],
  });
}

/** The step recorded for run `i` (every 1000th run is of the rare asset). */
function historyStep(i: number): StepRecord {
  const run = historyRun(i);
  return {
    runId: run.runId,
    assetKey: i % 1000 === 3 ? "rare" : `a${i % ASSETS}`,
    partition: null,
    status: run.status === "failed" ? "failed" : "success",
    attempts: 1,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    reason: null,
  };
}

/** Records the history through the store's API (the memory store: the reference). */
async function fillThroughApi(store: RunStore): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    await store.createRun(historyRun(i));
    await store.putStep(historyStep(i));
  }
  await store.flush();
  return RUNS / ((performance.now() - started) / 1000);
}

/**
 * Writes the history into a SQLite store's own tables in one transaction
 * (the rows the store writes for each run: the run, one row per tag, the
 * step and its asset), far faster than 100,000 separate commits. What it
 * wrote is checked against the reference store page by page.
 */
function fillSqlite(path: string): void {
  const db = new DatabaseSync(path);
  try {
    const run = db.prepare(
      `INSERT INTO pipeline_runs (run_id, status, selection, partitions, tags, started_at,
         finished_at, error_summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const tag = db.prepare(
      "INSERT INTO run_tags (key, value, started_at, run_id) VALUES (?, ?, ?, ?)",
    );
    const step = db.prepare(
      `INSERT INTO run_steps (run_id, asset_key, partition_key, status, attempts, started_at,
         finished_at, reason) VALUES (?, ?, '', ?, 1, ?, ?, NULL)`,
    );
    const asset = db.prepare(
      "INSERT INTO run_assets (asset_key, started_at, run_id) VALUES (?, ?, ?)",
    );
    db.exec("BEGIN");
    for (let i = 0; i < RUNS; i++) {
      const r = historyRun(i), s = historyStep(i);
      run.run(
        r.runId,
        r.status,
        r.selection,
        null,
        JSON.stringify(r.tags),
        r.startedAt,
        r.finishedAt,
        r.errorSummary,
      );
      for (const [k, v] of Object.entries(r.tags)) tag.run(k, v, r.startedAt, r.runId);
      step.run(s.runId, s.assetKey, s.status, s.startedAt, s.finishedAt);
      asset.run(s.assetKey, r.startedAt, r.runId);
    }
    db.exec("COMMIT");
    db.exec("ANALYZE");
  } finally {
    db.close();
  }
}

/** The same for Postgres (schema `ops`), in batches of 5,000 rows per statement. */
async function fillPostgres(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const time = (column: string) => `to_timestamp(${column}::float8 / 1000)`;
  try {
    for (let from = 0; from < RUNS; from += 5000) {
      const batch = Array.from({ length: Math.min(5000, RUNS - from) }, (_, k) => from + k);
      const runs = batch.map(historyRun);
      const steps = batch.map(historyStep);
      await sql.begin(async (tx) => {
        await tx.unsafe(
          `INSERT INTO ops.pipeline_runs (run_id, status, selection, tags, started_at, finished_at,
             error_summary)
           SELECT run_id, status, selection, tags, ${time("started_at")}, ${time("finished_at")},
             error_summary
           FROM json_to_recordset($1::text::json) AS t(run_id text, status text, selection text,
             tags text, started_at float8, finished_at float8, error_summary text)`,
          [JSON.stringify(runs.map((r) => ({
            run_id: r.runId,
            status: r.status,
            selection: r.selection,
            tags: JSON.stringify(r.tags),
            started_at: r.startedAt,
            finished_at: r.finishedAt,
            error_summary: r.errorSummary,
          })))],
        );
        await tx.unsafe(
          `INSERT INTO ops.run_tags (key, value, started_at, run_id)
           SELECT j.key, j.value, r.started_at, r.run_id
           FROM ops.pipeline_runs r, json_each_text(r.tags::json) j
           WHERE r.run_id = ANY($1::text[])`,
          [runs.map((r) => r.runId)],
        );
        await tx.unsafe(
          `INSERT INTO ops.run_steps (run_id, asset_key, partition_key, status, attempts,
             started_at, finished_at)
           SELECT run_id, asset_key, '', status, 1, ${time("started_at")}, ${time("finished_at")}
           FROM json_to_recordset($1::text::json) AS t(run_id text, asset_key text, status text,
             started_at float8, finished_at float8)`,
          [JSON.stringify(steps.map((s) => ({
            run_id: s.runId,
            asset_key: s.assetKey,
            status: s.status,
            started_at: s.startedAt,
            finished_at: s.finishedAt,
          })))],
        );
        await tx.unsafe(
          `INSERT INTO ops.run_assets (asset_key, started_at, run_id)
           SELECT s.asset_key, r.started_at, r.run_id
           FROM ops.run_steps s JOIN ops.pipeline_runs r ON r.run_id = s.run_id
           WHERE s.run_id = ANY($1::text[])`,
          [runs.map((r) => r.runId)],
        );
      });
    }
    await sql.unsafe("ANALYZE");
  } finally {
    await sql.end();
  }
}

/** One page to time: its query string, and the same query on the bare store. */
interface PageCase {
  readonly label: string;
  readonly query: string;
  readonly options: ListRunsOptions;
}

function cursorOf(i: number): { param: string; after: { startedAt: number; runId: string } } {
  const at = runAt(i);
  return { param: `${at.startedAt}_${at.runId}`, after: at };
}

function pageCases(): PageCase[] {
  const middle = cursorOf(RUNS / 2);
  const end = cursorOf(60); // the 60 oldest runs remain: one full page and a short one
  const day = (i: number) => new Date(runAt(i).startedAt).toISOString();
  const from = Math.floor(RUNS * 0.4);
  return [
    { label: "first page", query: "", options: {} },
    {
      label: "page in the middle",
      query: `before=${middle.param}`,
      options: { after: middle.after },
    },
    { label: "last page", query: `before=${end.param}`, options: { after: end.after } },
    {
      label: "failed, from the middle",
      query: `status=failed&before=${middle.param}`,
      options: { status: "failed", after: middle.after },
    },
    {
      label: "asset a7, from the middle",
      query: `asset=a7&before=${middle.param}`,
      options: { asset: "a7", after: middle.after },
    },
    { label: "asset rare (100 runs)", query: "asset=rare", options: { asset: "rare" } },
    {
      label: "sensor_1, from the middle",
      query: `automation=sensor_1&before=${middle.param}`,
      options: { tags: { sensor: "sensor_1" }, after: middle.after },
    },
    {
      label: "an hour's window",
      query: `since=${day(from)}&until=${day(from + 3_600)}`,
      options: {
        startedFrom: runAt(from).startedAt,
        startedBefore: runAt(from).startedAt + 3_600_000,
      },
    },
  ];
}

/** Median milliseconds of `times` calls of `work`. */
async function medianOf(times: number, work: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await work();
    ms.push(performance.now() - started);
  }
  return median(ms);
}

/**
 * The run list on one backend, whose history was written as `how` says;
 * every page is first checked against `reference` (the memory store, filled
 * through the API). Returns the lines to print.
 */
async function runList(
  backend: string,
  how: string,
  store: RunStore,
  reference: RunStore,
): Promise<string[]> {
  const graph = historyGraph();
  await using server = await serveUi({ graph, store, port: 0 });
  const base = await staticBaseline(server);
  const lines = [
    `Run list on ${backend}: ${RUNS.toLocaleString("en")} runs ${how}; static file ${
      base.toFixed(1)
    } ms`,
    `  ${"page of 50".padEnd(30)} ${"store query".padStart(12)} ${"JSON API".padStart(22)} ${
      "HTML page".padStart(22)
    }  goal < 200 ms`,
  ];
  let worst = 0;
  for (const c of pageCases()) {
    const options = { ...c.options, limit: 51 };
    const found = (await store.listRuns(options)).map((r) => r.runId);
    const expected = (await reference.listRuns(options)).map((r) => r.runId);
    if (found.length === 0 || found.join() !== expected.join()) {
      throw new Error(`${backend}: ${c.label} listed ${found.length} runs, not the reference's`);
    }
    const bare = await medianOf(5, () => store.listRuns(options));
    const api = await medianOf(5, () => timeGet(`${server.url}/api/runs?limit=50&${c.query}`));
    const html = await medianOf(5, () => timeGet(`${server.url}/runs?${c.query}`));
    worst = Math.max(worst, api, html);
    lines.push(
      `  ${c.label.padEnd(30)} ${`${bare.toFixed(1)} ms`.padStart(12)} ${
        `${api.toFixed(1)} ms (${(api / bare).toFixed(1)}x, ${(api / base).toFixed(0)}x)`.padStart(
          22,
        )
      } ${
        `${html.toFixed(1)} ms (${(html / bare).toFixed(1)}x, ${(html / base).toFixed(0)}x)`
          .padStart(22)
      }`,
    );
  }
  lines.push(
    `  slowest page ${worst.toFixed(1)} ms: goal ${worst < 200 ? "met" : "MISSED"}` +
      " (ratios: to the bare store query, to the static file)",
  );
  return lines;
}

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-ui-" });
  const only = Deno.env.get("BENCH_UI_ONLY");
  if (only !== undefined && only !== "graph" && only !== "runs") {
    throw new Error(`BENCH_UI_ONLY must be graph or runs, got '${only}'`);
  }
  try {
    if (only !== "runs") {
      for (const line of await graphPage(dir, 10_000)) console.log(line);
      console.log("");
    }
    if (only === "graph") return;
    const reference = new MemoryRunStore();
    const rate = await fillThroughApi(reference);
    const how = `recorded through the store's API (${rate.toFixed(0)} runs/s)`;
    for (const line of await runList("memory", how, reference, reference)) console.log(line);
    console.log("");
    {
      const path = `${dir}/runs.db`;
      await SqliteRunStore.open(path)[Symbol.asyncDispose](); // creates the tables
      fillSqlite(path);
      await using store = SqliteRunStore.open(path);
      const how = "written into its tables in one transaction, pages checked against memory";
      for (const line of await runList("sqlite", how, store, reference)) console.log(line);
    }
    console.log("");
    if (Deno.env.get("DATABASE_URL") || await findPostgresBinDir()) {
      await using pg = await startPostgres();
      await (await PostgresRunStore.open(pg.url)).close(); // creates the tables
      await fillPostgres(pg.url);
      await using store = await PostgresRunStore.open(pg.url);
      const how = "written into its tables in batches, pages checked against memory";
      for (const line of await runList("postgres", how, store, reference)) console.log(line);
    } else {
      console.log("Run list on postgres: skipped (no PostgreSQL binaries and no DATABASE_URL)");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
