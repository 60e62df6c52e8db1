/**
 * The command line: `materialize`, `list`, `runs`, `show`, plus the commands a
 * project adds. Exit status: 0 success, 1 failure, 2 usage error, 130 canceled.
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

import { ConfigError, PlatformError, SelectionError, toError } from "../errors.ts";
import { type CliApp, EXIT, UsageError } from "./app.ts";
import { listCommand, runsCommand, showCommand } from "./inspect_commands.ts";
import { automationCommand } from "./automation_command.ts";
import type { CliIo } from "./io.ts";
import { materializeCommand } from "./materialize_command.ts";
import { sensorCommand } from "./sensor_command.ts";
import {
  backfillCommand,
  cancelCommand,
  migrateCommand,
  queueCommand,
  workerCommand,
} from "../worker/commands.ts";

export * from "./app.ts";
export * from "./io.ts";
export * from "./stop.ts";
export { eventToJsonLine, eventToRecord } from "./json_lines.ts";
export { formatDuration, formatTime, table } from "./table.ts";
export {
  MATERIALIZE_USAGE,
  type MaterializeArgs,
  parseMaterializeArgs,
} from "./materialize_command.ts";
export { parseSensorArgs, SENSOR_USAGE } from "./sensor_command.ts";

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Cancels a running `materialize` and stops `sensor` when aborted (the CLI wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
}

/** The top-level usage text. */
export function usage(app: CliApp<unknown>): string {
  const extra = Object.entries(app.commands ?? {}).map(([name, c]) =>
    `  ${name.padEnd(23)}  ${c.summary}`
  );
  return [
    `Usage: ${app.name} COMMAND [options]`,
    "",
    "Commands:",
    "  materialize [SELECTION]  run assets now (all by default); --help for options",
    "  list                     assets, their deps, last materialization, fresh or stale and why",
    "  runs                     recent runs (--limit N, --status S)",
    "  show RUN_ID              a run: steps, failures and stack traces",
    "  sensor                   daemon: sensors and schedules launch runs, automation too; --help",
    "  automation [ASSET]       what the automation decided and why (condition trees, ticks)",
    "  worker                   executes queued runs (any number, any machine); --help",
    "  queue                    queued and running runs, why each waits, workers, limits",
    "  cancel RUN_ID            cancels a queued or running run, wherever it runs",
    "  backfill SELECTION       queues one run per partition (--from/--to, --partition)",
    "  migrate                  creates or upgrades the run store's and queue's tables",
    ...extra,
    "",
    "Every command takes --json for machine-readable output.",
    "",
  ].join("\n");
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli<R>(
  args: readonly string[],
  app: CliApp<R>,
  io: CliIo,
  options: RunCliOptions = {},
): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case undefined:
      case "help":
      case "-h":
      case "--help":
        io.out(usage(app as CliApp<unknown>));
        return command === undefined ? EXIT.usage : EXIT.ok;
      case "materialize":
        return await materializeCommand(app, rest, io, options.signal);
      case "list":
        return await listCommand(app, rest, io);
      case "runs":
        return await runsCommand(app, rest, io);
      case "show":
        return await showCommand(app, rest, io);
      case "sensor":
        return await sensorCommand(app, rest, io, options.signal);
      case "automation":
        return await automationCommand(app, rest, io);
      case "worker":
        return await workerCommand(app, rest, io, options.signal);
      case "queue":
        return await queueCommand(app, rest, io);
      case "cancel":
        return await cancelCommand(app, rest, io);
      case "backfill":
        return await backfillCommand(app, rest, io);
      case "migrate":
        return await migrateCommand(app, rest, io);
    }
    const extra = app.commands?.[command];
    if (extra) return await extra.run(rest, io, options.signal);
    throw new UsageError(`Unknown command '${command}'; '${app.name} --help' lists the commands`);
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: CliIo): number {
  // `await using` (a run store, a queue) wraps a failure and a failure to close after it in a
  // SuppressedError, whose own message says nothing: report the first failure, then the close's.
  if (error instanceof SuppressedError) {
    const code = report(error.suppressed, io);
    io.err(`  then, closing: ${toError(error.error).message}\n`);
    return code;
  }
  if (error instanceof UsageError || error instanceof SelectionError) {
    io.err(`error: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof PlatformError) {
    io.err(`error [${error.code}]: ${error.message}\n`);
    if (error.cause instanceof Error) io.err(`  caused by: ${error.cause.message}\n`);
    // A bad setting is for the user to fix, like a bad command line: exit 2.
    return error instanceof ConfigError ? EXIT.usage : EXIT.failed;
  }
  io.err(
    `error: ${error instanceof Error ? error.stack ?? error.message : toError(error).message}\n`,
  );
  return EXIT.failed;
}
