/**
 * When a command process stops: SIGINT/SIGTERM, and the end of the launcher
 * that started it. `launch.ts` starts `main.ts` as its child (to narrow its
 * permissions); a launcher killed with -9 cannot pass anything on, and its
 * orphaned child would go on holding run leases, tick claims, the PGlite
 * lock and the UI's port. So the launcher names itself in
 * {@linkcode LAUNCHER_PID_VARIABLE}, and the child watches its parent pid
 * (`Deno.ppid`: a system call, no `/proc` read, no permission): when it
 * changes (the child was re-parented), the launcher is gone and the command
 * stops as on SIGTERM (runs in flight canceled and recorded, resources
 * closed). Polling the parent pid rather than a pipe on stdin: stdin stays
 * the user's, and no descriptor has to survive `deno run`.
 *
 * One request may arrive several times: Ctrl-C in a terminal signals the
 * whole foreground process group (the launcher, `deno task` and this
 * process), and `deno task` and the launcher both pass it on. Requests within
 * {@linkcode StopOptions.coalesceMs} of the first are that same request; a
 * later one exits at once (the "press Ctrl-C again" of an impatient user).
 *
 * @module
 */

/**
 * Stop requests this close after the first are that same request delivered
 * again (measured: a terminal's Ctrl-C and the copies `deno task` and the
 * launcher pass on arrive within a few milliseconds of one another).
 */
export const COALESCE_MS = 300;

/** The variable in which `launch.ts` gives its child the launcher's pid. */
export const LAUNCHER_PID_VARIABLE = "PLATFORM_LAUNCHER_PID";

/** Options of {@linkcode stopRequests}; tests pass their own clock, parent and exit. */
export interface StopOptions {
  /** Writes a line to standard error. */
  readonly err: (text: string) => void;
  /** Ends the process with a code (a second request). @default {Deno.exit} */
  readonly exit?: (code: number) => void;
  /** Milliseconds now. @default {Date.now} */
  readonly now?: () => number;
  /** Requests this close after the first are the same one. @default {COALESCE_MS} */
  readonly coalesceMs?: number;
}

/** What asked a process to stop: Ctrl-C, or a supervisor's SIGTERM (also the launcher's end). */
export type StopCause = "SIGINT" | "SIGTERM";

/**
 * The exit code of a command canceled by `cause`: 128 + the signal's number,
 * as a shell reports a process the signal ended (130 for Ctrl-C, 143 for
 * SIGTERM). Long-running commands (`sensor`, `worker`, `ui`) that stop
 * cleanly exit 0 instead, as Dagster's daemon does: stopping is their
 * normal end.
 */
export function canceledExitCode(cause: StopCause | undefined): number {
  return cause === "SIGTERM" ? 143 : 130;
}

/** The stop requests of a process: aborts {@linkcode StopRequests.signal} on the first. */
export interface StopRequests {
  /** Aborted on the first request; its reason says which. */
  readonly signal: AbortSignal;
  /**
   * One request, with the line to print when it is the first (what happens
   * now), and what sent it.
   * @default {cause: "SIGINT"}
   */
  request(message: string, cause?: StopCause): void;
  /** What sent the first request, or `undefined` before any. */
  cause(): StopCause | undefined;
}

/**
 * Stop requests: the first aborts the signal (clean cancel), one more after
 * `coalesceMs` exits at once with {@linkcode canceledExitCode} of its cause
 * (130 for Ctrl-C, 143 for SIGTERM).
 *
 * @example
 * ```ts
 * import { stopRequests } from "./stop.ts";
 * const stops = stopRequests({ err: () => {}, exit: () => {}, now: () => 0 });
 * stops.request("Canceling");
 * stops.signal.aborted; // true
 * ```
 */
export function stopRequests(options: StopOptions): StopRequests {
  const controller = new AbortController();
  const now = options.now ?? Date.now;
  const exit = options.exit ?? Deno.exit;
  const coalesceMs = options.coalesceMs ?? COALESCE_MS;
  let firstAt: number | undefined;
  let first: StopCause | undefined;
  return {
    signal: controller.signal,
    request(message, cause = "SIGINT") {
      const at = now();
      if (firstAt === undefined) {
        firstAt = at;
        first = cause;
        options.err(`\n${message}\n`);
        controller.abort();
        return;
      }
      // The terminal's Ctrl-C reaches this process directly and again through the launcher.
      if (at - firstAt < coalesceMs) return;
      exit(canceledExitCode(cause));
    },
    cause: () => first,
  };
}

/** Options of {@linkcode watchLauncher}. */
export interface WatchLauncherOptions {
  /** The launcher's pid as the launcher gave it (the variable's value), or undefined. */
  readonly launcherPid: string | undefined;
  /** This process's parent pid now. @default {() => Deno.ppid} */
  readonly parentPid?: () => number;
  /** Called once when the launcher is gone, with a sentence saying so. */
  readonly onGone: (message: string) => void;
  /** How often the parent is looked at. @default {250} */
  readonly pollMs?: number;
}

/**
 * Watches the launcher while this process runs (the timer does not keep it
 * alive); returns a function that stops watching. No launcher named (plain
 * `deno run main.ts`, a compiled binary): nothing is watched. A parent that
 * is not the launcher already at start means the launcher died before this
 * process looked: reported at the first poll like a later death.
 *
 * @example
 * ```ts
 * import { watchLauncher } from "./stop.ts";
 * let told = "";
 * const stop = watchLauncher({ launcherPid: "4242", parentPid: () => 1, onGone: (m) => (told = m), pollMs: 10 });
 * setTimeout(() => { stop(); console.log(told); }, 50); // "the launcher (pid 4242) has ended ..."
 * ```
 */
export function watchLauncher(options: WatchLauncherOptions): () => void {
  const text = options.launcherPid?.trim() ?? "";
  if (!/^[1-9]\d{0,9}$/.test(text)) return () => {};
  const launcher = Number(text);
  const parentPid = options.parentPid ?? (() => Deno.ppid);
  const timer = setInterval(() => {
    const parent = parentPid();
    if (parent === launcher) return;
    clearInterval(timer);
    options.onGone(
      `The launcher (launch.ts, pid ${launcher}) has ended (this process's parent is now pid ` +
        `${parent}): stopping as on SIGTERM; running assets are told to stop`,
    );
  }, options.pollMs ?? 250);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
