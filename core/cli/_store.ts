/**
 * How every command opens the project's run store: then, before anything
 * else, it fails the runs whose process died (`reapDeadRuns`), so a run
 * killed with -9 does not show `running` for ever and its sensor can
 * relaunch it. A reap that fails is reported and the command goes on.
 *
 * @module
 */

import { systemClock } from "../clock.ts";
import { toError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { reapDeadRuns } from "../reaper.ts";
import type { RunStore } from "../run_store/types.ts";
import type { CliApp } from "./app.ts";
import type { CliIo } from "./io.ts";

/** Opens `app`'s run store and reaps the runs of dead processes, reporting them on stderr. */
export async function openStore<R>(app: CliApp<R>, io: CliIo): Promise<RunStore> {
  const store = await app.openRunStore();
  const clock = app.clock ?? systemClock;
  try {
    await reapDeadRuns(store, {
      clock,
      log: createLogger((record) => io.err(`warning: ${record.message}\n`), () => clock.now()),
    });
  } catch (error) {
    io.err(`warning: cannot fail the runs of dead processes: ${toError(error).message}\n`);
  }
  return store;
}
