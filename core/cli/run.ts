/**
 * {@linkcode runCli}: one command line to its command. Each built-in
 * command's module (and the executor, daemon, run stores and automation
 * behind it) is imported when that command runs, so a project's own
 * command (`dbt`, `doctor`) and `--help` start without them: importing
 * every built-in command cost a process 15-40 ms before its first line
 * (bench/dbt.ts, `deno task dbt parse`).
 *
 * @module
 */

import { ConfigError, PlatformError, SelectionError, toError } from "../errors.ts";
import { type CliApp, EXIT, UsageError } from "./app.ts";
import { clip } from "../printable.ts";
import type { CliIo } from "./io.ts";

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
    // Not every one: cancel, migrate, ui, dev and dbt have no --json (it exits 2 there).
    "materialize, list, runs, show, automation, sensor, worker, queue, backfill and doctor",
    "take --json for machine-readable output.",
    "",
    "Exit status: 0 success, 1 failure, 2 usage or configuration error, 130 canceled (Ctrl-C), " +
    "143 canceled (SIGTERM).",
    "",
  ].join("\n");
}

/** A built-in command, as its module exports it. */
type Builtin = <R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
) => Promise<number>;

/** Each built-in command, imported when it runs (see the module doc). */
const BUILTIN: Readonly<Record<string, () => Promise<Builtin>>> = {
  materialize: async () => (await import("./materialize_command.ts")).materializeCommand,
  list: async () => (await import("./inspect_commands.ts")).listCommand,
  runs: async () => (await import("./inspect_commands.ts")).runsCommand,
  show: async () => (await import("./inspect_commands.ts")).showCommand,
  sensor: async () => (await import("./sensor_command.ts")).sensorCommand,
  automation: async () => (await import("./automation_command.ts")).automationCommand,
  worker: async () => (await import("../worker/commands.ts")).workerCommand,
  queue: async () => (await import("../worker/commands.ts")).queueCommand,
  cancel: async () => (await import("../worker/commands.ts")).cancelCommand,
  backfill: async () => (await import("../worker/commands.ts")).backfillCommand,
  migrate: async () => (await import("../worker/commands.ts")).migrateCommand,
};

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
        // Without a command it is a usage error: its text goes to stderr, as every other's does.
        if (command === undefined) {
          io.err(usage(app as CliApp<unknown>));
          return EXIT.usage;
        }
        io.out(usage(app as CliApp<unknown>));
        return EXIT.ok;
    }
    const builtin = Object.hasOwn(BUILTIN, command) ? BUILTIN[command] : undefined;
    if (builtin) return await (await builtin())(app, rest, io, options.signal);
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
    if (error.cause instanceof Error) io.err(`  caused by: ${clip(error.cause.message, 2000)}\n`);
    // A bad setting is for the user to fix, like a bad command line: exit 2.
    return error instanceof ConfigError ? EXIT.usage : EXIT.failed;
  }
  io.err(
    `error: ${error instanceof Error ? error.stack ?? error.message : toError(error).message}\n`,
  );
  return EXIT.failed;
}
