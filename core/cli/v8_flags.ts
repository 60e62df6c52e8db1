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
 * @module
 */

/** V8 flags of a command's process (see the module doc). */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

/** The `deno run` / `deno compile` option carrying {@linkcode V8_FLAGS}. */
export function v8FlagsOption(): string {
  return `--v8-flags=${V8_FLAGS.join(",")}`;
}
