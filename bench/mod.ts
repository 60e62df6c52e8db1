/**
 * Every benchmark, one after the other: `deno task bench`, or some of them by
 * name (`deno task bench core dbt`); `--help` lists them. Figures only; never
 * part of `deno task test`. Each file also runs alone with its own options
 * (`deno run -A bench/dbt.ts --parse 10000`, see its module doc).
 *
 * @module
 */

/** The benchmarks `deno task bench` runs, in order, with what each measures. */
export const BENCHES: Readonly<Record<string, string>> = {
  core: "scheduler overhead on 1,000 / 10,000 no-op assets, cold start",
  object_store: "small and large objects put and got, per backend",
  warehouse: "bulk load of a 1,000,000-row CSV, per warehouse",
  run_store: "step writes and event appends, per run store",
  spatial: "vector and raster ingestion against GDAL's own tools",
  activity: "activity CSV load into the warehouse",
  csv: "the activity CSV reader alone against csv-parse",
  dbt: "dbt parse, compile and build of generated projects and jaffle_shop",
  ui: "web UI pages on a big installation",
};

/** The usage text of `deno task bench --help`. */
export function benchUsage(): string {
  const width = Math.max(...Object.keys(BENCHES).map((name) => name.length));
  return [
    "Usage: deno task bench [NAME...]",
    "",
    "Runs the benchmarks (all, or those named, in this order) and prints their",
    "figures with ratios against native baselines. Each also runs alone with its",
    "own options: deno run -A bench/NAME.ts (see the file's doc).",
    "",
    ...Object.entries(BENCHES).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
    "",
    "Exit status: 0 done, 1 a benchmark failed, 2 an unknown name.",
  ].join("\n");
}

/** What the arguments ask for: the help, the benchmarks to run, or a usage error. */
export function parseBenchArgs(
  args: readonly string[],
): { help: true } | { names: string[] } | { error: string } {
  if (args.includes("--help") || args.includes("-h")) return { help: true };
  const unknown = args.find((name) => !Object.hasOwn(BENCHES, name));
  if (unknown !== undefined) {
    return {
      error: `unknown benchmark '${unknown}': one of ${Object.keys(BENCHES).join(", ")} ` +
        "('deno task bench --help')",
    };
  }
  // Named ones run in the listed order, as the full run does.
  return { names: Object.keys(BENCHES).filter((n) => args.length === 0 || args.includes(n)) };
}

if (import.meta.main) {
  const parsed = parseBenchArgs(Deno.args);
  if ("help" in parsed) {
    console.log(benchUsage());
    Deno.exit(0);
  }
  if ("error" in parsed) {
    console.error(parsed.error);
    Deno.exit(2);
  }
  for (const name of parsed.names) {
    console.log(`\n=== bench/${name}.ts ===`);
    const url = new URL(`${name}.ts`, import.meta.url);
    // Called without arguments: this process's are the names, not the benchmark's options.
    const { main } = await import(url.href) as { main: () => Promise<unknown> };
    await main();
  }
}
