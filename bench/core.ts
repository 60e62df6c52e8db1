/**
 * Scheduler overhead: materializes layered no-op graphs of 1,000 and 10,000
 * assets with the SQLite run store on, and times the cold start of
 * `deno task materialize --help` against a bare `deno eval` in the same run.
 *
 *     deno run -A bench/core.ts
 *
 * @module
 */

import { type AssetDefinition, defineAsset, defineGraph, materialize } from "../core/mod.ts";
import { SqliteRunStore } from "../resources/run_store/mod.ts";

/** A graph of `size` no-op assets in layers of `width`, each depending on two of the layer above. */
export function layeredGraph(size: number, width = 100) {
  const assets: AssetDefinition[] = [];
  for (let i = 0; i < size; i++) {
    const layer = Math.floor(i / width);
    const deps = layer === 0
      ? []
      : [...new Set([(layer - 1) * width + (i % width), (layer - 1) * width + ((i + 1) % width)])];
    assets.push(
      defineAsset({ key: `a${i}`, deps: deps.map((d) => `a${d}`), materialize: () => {} }),
    );
  }
  return defineGraph({ assets });
}

/** Peak resident memory while `work` runs, sampled every 5 ms. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
  let peakRss = Deno.memoryUsage().rss;
  const timer = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 5);
  try {
    const value = await work();
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    return { value, peakRss };
  } finally {
    clearInterval(timer);
  }
}

async function benchGraph(size: number): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "bench-core-" });
  try {
    const graph = layeredGraph(size);
    await using store = SqliteRunStore.open(`${dir}/runs.db`);
    const started = performance.now();
    const { value: result, peakRss } = await withPeakRss(() =>
      materialize(graph, { runStore: store, concurrency: 8 })
    );
    const wall = performance.now() - started;
    if (result.status !== "success") {
      throw new Error(`bench run ${result.status}: ${result.errorSummary}`);
    }
    const steps = (await store.listSteps(result.runId)).length;
    return [
      `${size.toLocaleString("en")} assets`,
      `${wall.toFixed(0)} ms`,
      `${((wall * 1000) / size).toFixed(1)} µs`,
      `${(peakRss / 2 ** 20).toFixed(0)} MiB`,
      String(steps),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function timeCommand(args: string[], runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { success } = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    if (!success) throw new Error(`deno ${args.join(" ")} failed`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  console.log("Scheduler overhead (no-op assets, SQLite run store, concurrency 8)\n");
  const rows = [["graph", "wall time", "per asset", "peak RSS", "steps stored"]];
  for (const size of [1_000, 10_000]) rows.push(await benchGraph(size));
  for (const row of rows) console.log(row.map((cell) => cell.padEnd(14)).join(""));
  const cli = await timeCommand(["task", "-q", "materialize", "--help"], 5);
  const bare = await timeCommand(["eval", "0"], 5);
  console.log(
    `\nCold start, median of 5: 'deno task materialize --help' ${cli.toFixed(0)} ms; ` +
      `bare 'deno eval 0' ${bare.toFixed(0)} ms; ratio ${(cli / bare).toFixed(2)}`,
  );
}

if (import.meta.main) await main();
