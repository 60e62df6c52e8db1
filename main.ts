/**
 * Entry point of the command line: `deno task cli COMMAND`, or through the
 * `materialize`, `sensor`, `worker`, `ui`, `dev` and `doctor` tasks.
 *
 * The graph and the heavier commands are imported lazily, so `--help` starts
 * fast and a broken graph is reported as an error, not a stack trace.
 *
 * Environment read here (besides the configuration of resources/config.ts):
 *
 * - `PLATFORM_GRAPH`: path of a module exporting `graph` to use instead of
 *   `graph.ts` (relative to the working directory), e.g. a small graph for a
 *   test or a demo. Unset means `graph.ts`.
 *
 * @module
 */

import { type CliApp, type CliCommand, EXIT } from "./core/cli/app.ts";
import { processIo } from "./core/cli/io.ts";
// The files, not core/cli/mod.ts: that re-exports the built-in commands, and with them the
// executor and the daemon, which `dbt` and `doctor` never use (core/cli/run.ts imports each
// command when it runs).
import { runCli } from "./core/cli/run.ts";
import {
  canceledExitCode,
  LAUNCHER_PID_VARIABLE,
  type StopCause,
  type StopRequests,
  stopRequests,
  watchLauncher,
} from "./core/cli/stop.ts";
import { ConfigError, toError } from "./core/errors.ts";
import { clip, quote } from "./core/printable.ts";
import { alignClock, AlignedClock, type Clock } from "./core/clock.ts";
import type { Graph } from "./core/graph.ts";
import type { RunResult } from "./core/executor.ts";
import { pathToFileURL } from "node:url";
import type { AppResources } from "./resources/app.ts";
import type { Config } from "./resources/config.ts";
import { registerSecretsOf } from "./core/secrets.ts";
import { parseLimits } from "./core/worker/admission.ts";
import type { QueueLimits } from "./core/worker/queue.ts";

/** Options of {@linkcode createApp}: where the project's settings come from. */
export interface AppOptions {
  /**
   * The environment variables (configuration and `PLATFORM_GRAPH`).
   * @default {Deno.env.toObject()}
   */
  readonly env?: Record<string, string | undefined>;
  /**
   * The `.env` file read under the environment; `null` for none.
   * @default {".env"}
   */
  readonly dotenvPath?: string | null;
  /**
   * Time source of runs, the daemon and progress; tests pass a fake one.
   * @default {the system clock, aligned on the run store's server when it has one (`AlignedClock`)}
   */
  readonly clock?: Clock;
}

/**
 * The project as the CLI sees it, reading its settings from `options`: tests
 * build one per case and call `runCli` in process, as Hono tests call
 * `app.request()`.
 */
export function createApp(options: AppOptions = {}): CliApp<AppResources> {
  const env = () => options.env ?? Deno.env.toObject();
  // Without a clock given, this machine's clock aligned on the run store's server once it is
  // opened: processes on several machines judge each other's leases by one clock.
  const aligned = options.clock ? undefined : new AlignedClock();
  let loadedConfig: Config | undefined;
  /** The configuration; its module is imported on first use, as zod takes a while to load. */
  const loadConfig = async (): Promise<Config> => {
    loadedConfig ??= (await import("./resources/config.ts")).loadConfig({
      env: env(),
      ...(options.dotenvPath !== undefined ? { dotenvPath: options.dotenvPath } : {}),
    });
    return loadedConfig;
  };
  const app: CliApp<AppResources> = {
    name: "deno task cli",
    loadGraph: () => loadGraph(env().PLATFORM_GRAPH),
    openRunStore: async () => {
      const config = await loadConfig();
      let store;
      try {
        store = await (await import("./resources/run_store/open.ts")).openRunStore(
          config.RUNS_URL,
        );
      } catch (error) {
        // A folder it cannot write (read-only file system, a file in the way) is a setting to
        // change (exit 2, naming the variable), as `materialize` of graph.ts says at start.
        await refuseUnwritable(config, "RUNS_URL");
        throw error;
      }
      if (aligned && store.serverTime) {
        try {
          await alignClock(aligned, () => (store.serverTime as () => Promise<number>)());
        } catch (error) {
          await store[Symbol.asyncDispose]?.();
          throw error;
        }
      }
      return store;
    },
    runNotes: sampleNotes,
    // `sensor` asks for this after opening the run store, so the configuration is loaded by then.
    sensorIntervalMs: () => loadedConfig?.SENSOR_INTERVAL_MS ?? 1000,
    heartbeatIntervalMs: () => loadedConfig?.RUN_HEARTBEAT_INTERVAL_MS ?? 10_000,
    health: async () => {
      const config = await loadConfig();
      if (config.HEALTH_PORT === 0) return undefined;
      return {
        hostname: config.HEALTH_HOST,
        port: config.HEALTH_PORT,
        staleAfterMs: config.HEALTH_STALE_MS,
      };
    },
    openQueue: async () => {
      const config = await loadConfig();
      if (config.RUN_QUEUE === "off" || !/^postgres(ql)?:\/\//i.test(config.RUNS_URL)) {
        return undefined;
      }
      return await (await import("./resources/queue/open.ts")).openQueue(config.RUNS_URL, {
        onLibraryLog: (level, message) => console.error(`graphile-worker ${level}: ${message}`),
      });
    },
    // Asked after openQueue, so the configuration is loaded by then.
    queueLimits: () => queueLimits(loadedConfig),
    queueMaxRetries: () => loadedConfig?.QUEUE_MAX_RETRIES ?? 0,
    clock: options.clock ?? aligned as AlignedClock,
    commands: {
      ui: lazyCommand(
        "web UI on http://127.0.0.1:3000 (--host, --port); --help for options",
        async () => (await import("./ui/commands.ts")).uiCommands(app, loadConfig).ui,
      ),
      dev: lazyCommand(
        "web UI and the sensor daemon in one process (like dagster dev)",
        async () => (await import("./ui/commands.ts")).uiCommands(app, loadConfig).dev,
      ),
      dbt: lazyCommand(
        "dbt-core's CLI over the built-in dbt runner: build, run, test, seed, snapshot, show, ls, deps, docs generate, ...; dbt --help lists every command",
        async () => {
          const { runDbtCli } = await import("./resources/dbt/cli.ts");
          return {
            summary: "dbt",
            run: (args, io, signal) =>
              runDbtCli(args, {
                out: (line) => io.out(`${line}\n`),
                err: (line) => io.err(`${line}\n`),
              }, signal ? { signal } : {}),
          };
        },
      ),
      doctor: lazyCommand(
        "check that every configured resource answers (implementation, latency)",
        async () => {
          const config = await loadConfig();
          return (await import("./resources/doctor/command.ts")).doctorCommand(() => config);
        },
      ),
    },
  };
  return app;
}

/** The coordinator's limits from the configuration (validated when it loaded). */
function queueLimits(config: Config | undefined): QueueLimits {
  return parseLimits({
    maxConcurrentRuns: config?.QUEUE_MAX_RUNS ?? "",
    tagLimits: config?.QUEUE_TAG_LIMITS ?? "",
    poolLimits: config?.QUEUE_POOL_LIMITS ?? "",
    poolGranularity: config?.QUEUE_POOL_GRANULARITY ?? "run",
  });
}

/** The project as the CLI sees it, configured from the process environment. */
export const app: CliApp<AppResources> = createApp();

/** Loads `graph.ts`, or the module `PLATFORM_GRAPH` names (relative to the working directory). */
async function loadGraph(path: string | undefined): Promise<Graph<AppResources>> {
  // A literal specifier, so `deno compile` bundles the project's graph.
  if (!path) return (await import("./graph.ts")).graph;
  const url = pathToFileURL(path).href;
  let module: { graph?: Graph<AppResources> };
  try {
    module = await import(url);
  } catch (error) {
    throw new ConfigError(
      "config.platform_graph",
      // The runtime's message repeats the path, which may be very long.
      `Cannot load PLATFORM_GRAPH ${quote(clip(path))}: ${clip(toError(error).message, 600)}`,
      { input: "PLATFORM_GRAPH", cause: error },
    );
  }
  if (!module.graph) {
    throw new ConfigError(
      "config.platform_graph",
      `PLATFORM_GRAPH ${
        quote(clip(path))
      } does not export 'graph'; export the result of defineGraph(...) as 'graph'`,
      { input: "PLATFORM_GRAPH" },
    );
  }
  return module.graph;
}

/**
 * One line naming the inputs of the run that were sample data: the assets
 * whose materialization carries `sample_data` metadata (the sample seeders,
 * and `raw_weather` answered by the replay client when SAMPLE_DATA=true).
 */
function sampleNotes(result: RunResult): string[] {
  const used = result.steps.flatMap((step) => {
    const note = step.materialization?.metadata.sample_data;
    if (typeof note !== "string") return [];
    const id = step.partition === null ? step.assetKey : `${step.assetKey}[${step.partition}]`;
    return [`${id}: ${note}`];
  });
  return used.length === 0
    ? []
    : [`Sample inputs (SAMPLE_DATA=true; set SAMPLE_DATA=false for live data): ${used.join("; ")}`];
}

/**
 * Throws `config.not_writable` naming the variable when the folder of the
 * embedded store of `variable` cannot be written; returns when it can (the
 * store failed for another reason) or is not embedded.
 */
async function refuseUnwritable(config: Config, variable: "RUNS_URL"): Promise<void> {
  const { ensureWritable, storePlace } = await import("./resources/writable.ts");
  const place = storePlace(config, variable);
  if (place) await ensureWritable([place]);
}

/** A command whose module is imported only when it runs (keeps `--help` fast). */
function lazyCommand(summary: string, load: () => Promise<CliCommand>): CliCommand {
  return {
    summary,
    run: async (args, io, signal) => await (await load()).run(args, io, signal),
  };
}

/**
 * Wires SIGINT/SIGTERM and the launcher's end to cancellation: the first
 * request cancels cleanly, a second (not the same Ctrl-C delivered again)
 * exits at once.
 */
function cancelOnStop(): StopRequests {
  const stops = stopRequests({
    err: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
  });
  const onSignal = (cause: StopCause) => () =>
    stops.request(
      "Canceling: running assets are told to stop; press Ctrl-C again to exit at once",
      cause,
    );
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  watchLauncher({
    launcherPid: Deno.env.get(LAUNCHER_PID_VARIABLE),
    onGone: (message) => stops.request(message, "SIGTERM"),
  });
  return stops;
}

if (import.meta.main) {
  // Before anything can fail and print: the passwords of every *_URL and the
  // values of secret-named variables are redacted from every output.
  registerSecretsOf(Deno.env.toObject());
  const stops = cancelOnStop();
  const code = await runCli(Deno.args, app, processIo(), { signal: stops.signal });
  // A canceled command says what stopped it: 130 Ctrl-C, 143 SIGTERM (128 + the signal).
  Deno.exit(code === EXIT.canceled ? canceledExitCode(stops.cause()) : code);
}
