/**
 * The framework: declare assets and checks, build a graph, select, plan,
 * materialize and record runs. It knows nothing of weather, CSV or GIS.
 * The command line (`runCli`, `memoryIo`, the commands) is opt-in weight:
 * import it from `core/cli/mod.ts`.
 *
 * @example
 * ```ts
 * import { defineAsset, defineGraph, materialize } from "./mod.ts";
 * const numbers = defineAsset({ key: "numbers", materialize: () => ({ rows: 3 }) });
 * const total = defineAsset({ key: "total", deps: ["numbers"], materialize: (ctx) => ({
 *   upstream_rows: ctx.upstream.numbers?.metadata.rows ?? 0,
 * }) });
 * const result = await materialize(defineGraph({ assets: [numbers, total] }));
 * ```
 *
 * @module
 */

export * from "./asset.ts";
export * from "./automation/mod.ts";
export * from "./asset_key.ts";
export * from "./clock.ts";
export * from "./crash_point.ts";
export * from "./daemon.ts";
export * from "./definitions.ts";
export * from "./graph.ts";
export * from "./errors.ts";
export * from "./executor.ts";
export * from "./logger.ts";
export * from "./metadata.ts";
export * from "./partitions.ts";
export * from "./plan.ts";
export * from "./resource.ts";
export * from "./retry.ts";
export * from "./sensor_retry.ts";
export * from "./run_store/mod.ts";
export * from "./schedule.ts";
export * from "./selection.ts";
export * from "./sensor.ts";
export * from "./suggest.ts";
