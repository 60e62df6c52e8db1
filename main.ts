/**
 * Entry point of the command line: `deno task cli COMMAND`, or through the
 * `materialize`, `sensor`, `ui` and `doctor` tasks.
 *
 * The graph is imported lazily so `--help` starts fast and a broken graph is
 * reported as an error, not a stack trace.
 *
 * @module
 */

import { type CliApp, processIo, runCli } from "./core/mod.ts";
import type { AppResources } from "./resources/mod.ts";
import { loadConfig } from "./resources/config.ts";
import { openRunStore } from "./resources/run_store/mod.ts";
import { doctorCommand } from "./resources/doctor/mod.ts";

/** The project as the CLI sees it. */
export const app: CliApp<AppResources> = {
  name: "deno task cli",
  loadGraph: async () => (await import("./graph.ts")).graph,
  openRunStore: () => openRunStore(loadConfig().RUNS_URL),
  commands: { doctor: doctorCommand(() => loadConfig()) },
};

/** Wires SIGINT/SIGTERM to cancellation: the first cancels cleanly, the second exits at once. */
function cancelOnSignals(): AbortController {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) Deno.exit(130);
    Deno.stderr.writeSync(new TextEncoder().encode("\nCanceling: running assets are told to stop; press Ctrl-C again to exit at once\n"));
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
  return controller;
}

if (import.meta.main) {
  const controller = cancelOnSignals();
  Deno.exit(await runCli(Deno.args, app, processIo(), { signal: controller.signal }));
}
