/**
 * The command line: `materialize`, `list`, `runs`, `show`, plus the commands a
 * project adds. Exit status: 0 success, 1 failure, 2 usage error, 130 canceled (143 by SIGTERM).
 *
 * @example
 * ```ts
 * import { defineGraph } from "../definitions.ts";
 * import { MemoryRunStore } from "../run_store/memory.ts";
 * import { processIo, runCli } from "./mod.ts";
 * const app = {
 *   name: "platform",
 *   loadGraph: () => Promise.resolve(defineGraph({ assets: [] })),
 *   openRunStore: () => Promise.resolve(new MemoryRunStore()),
 * };
 * Deno.exitCode = await runCli(Deno.args, app, processIo());
 * ```
 *
 * @module
 */

export { runCli, type RunCliOptions, usage } from "./run.ts";
export * from "./app.ts";
export * from "./io.ts";
export * from "./stop.ts";
export * from "./health.ts";
export { eventToJsonLine, eventToRecord } from "./json_lines.ts";
export { formatDuration, formatTime, table } from "./table.ts";
export {
  MATERIALIZE_USAGE,
  type MaterializeArgs,
  parseMaterializeArgs,
} from "./materialize_command.ts";
export { parseSensorArgs, SENSOR_USAGE } from "./sensor_command.ts";
