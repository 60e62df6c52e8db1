/**
 * The V8 flags every command runs with (`launch.ts` passes them to `deno run`
 * and bakes them into `deno compile`; bench/spatial.ts and the GeoParquet
 * memory test run their children with them, so that they measure what runs).
 *
 * `--max-semi-space-size=8` (MiB): V8 doubles its young generation each
 * time as many bytes survived scavenges as it holds, up to 32 MiB a
 * semi-space on this machine (64 MiB committed, 2x). A streaming writer
 * allocates a page of short-lived objects after another and keeps one alive
 * across each `await`, so survivors add up with the rows written and the
 * young generation climbed to its cap, never given back: the GeoParquet
 * writer's peak grew with the layer (sqliteToGeoParquet alone, 300k -> 1.2M
 * points: heapTotal 51 -> 91 MiB with 15-20 MiB live; 900k polygons through
 * the FlatGeobuf route: peak RSS 241 MiB, of which V8's pages 77). Capped at
 * 8 MiB (measured 2026-12-06, 900k polygons, load 12): peak 196 MiB, CPU
 * 7.06 s against 6.79 s (within the run-to-run spread; 1, 2 and 4 MiB gave
 * 188-196 MiB, 16 MiB 220); bench/dbt.ts found 16-64 MiB inside its spread
 * for the dbt parse.
 *
 * `dbt parse` / `dbt ls` also start with a 512 MiB old generation
 * ({@linkcode DBT_LOAD_V8_FLAGS}): they build the whole project (10k models
 * and 30k tests: ~130 MiB that stays live to the end), write its manifest
 * and exit, so the full collections V8 starts as the old generation first
 * fills (four incremental mark-compacts of a cold 10k-model `dbt parse`, the
 * last marking ~130 MiB of live nodes to free ~20 MiB) are work for nothing
 * there; their peak RSS stayed the same (370-380 MiB). Measured in the
 * module doc of bench/dbt.ts. Commands that run models or serve (a PGlite
 * `dbt build`'s peak memory is a goal) keep V8's default. A `deno compile`d
 * binary has one set of flags for every command: {@linkcode V8_FLAGS}.
 *
 * deno.json's task lines start launch.ts with the flags of the command it
 * starts (`dbt`: those of `dbt parse`), because V8 rejects a code cache made
 * under other flags: the launcher and its command load the same modules
 * (zod, the configuration, Node's polyfills), and with different flags each
 * process recompiled them and rewrote Deno's cache at every start (`deno
 * task dbt parse` of a project of no model, blocks of 9 runs at load 16-19:
 * CPU median 459-476 ms before, 365-391 ms after; tests/launch_test.ts
 * checks the task lines). Any other process with other flags sharing the
 * cache (`deno test`, a `dbt build` between two `dbt parse`) costs the next
 * command the same once.
 *
 * @module
 */

/** V8 flags of a command's process (see the module doc). */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

/** What `dbt parse` and `dbt ls` add to {@linkcode V8_FLAGS} (see the module doc). */
export const DBT_LOAD_V8_FLAGS: readonly string[] = ["--initial-old-space-size=512"];

/**
 * The V8 flags of the command `args` (the command and its arguments, as
 * given to main.ts): {@linkcode V8_FLAGS}, and {@linkcode DBT_LOAD_V8_FLAGS}
 * for `dbt parse` / `dbt ls` / `dbt list`.
 */
export function commandV8Flags(args: readonly string[]): readonly string[] {
  const sub = args[0] === "dbt" ? args.slice(1).find((a) => !a.startsWith("-")) : undefined;
  return sub === "parse" || sub === "ls" || sub === "list"
    ? [...V8_FLAGS, ...DBT_LOAD_V8_FLAGS]
    : V8_FLAGS;
}

/** The `deno run` / `deno compile` option carrying `flags` ({@linkcode V8_FLAGS} by default). */
export function v8FlagsOption(flags: readonly string[] = V8_FLAGS): string {
  return `--v8-flags=${flags.join(",")}`;
}
