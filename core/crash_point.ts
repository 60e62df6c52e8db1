/**
 * Crash points: the places where a `kill -9` is most likely to leave a half
 * state (an object renamed into place before its metadata, a landing file
 * archived, a run's end, a database's checkpoint), named so the reliability
 * suite can kill the process exactly there. A kill at a random moment
 * almost never lands in a phase that lasts 12 ms (the archive of a batch),
 * so the phases that matter most were the least tested.
 *
 * `PLATFORM_CRASH_AT=<name>[~<prefix>][#<n>][@<ms>]` makes the process kill
 * itself with SIGKILL the `n`-th time (default the first) it reaches the
 * point `name` with a detail (an object's `bucket/key`) starting with
 * `prefix`;
 * with `@<ms>` the kill comes from a worker thread `ms` milliseconds later,
 * so it lands inside the work that follows the point even when that work
 * holds the main thread (a WASM database's checkpoint). Before dying it
 * prints `crash point <name> reached` to stderr, so the suite knows the
 * point was hit. Unset (everywhere but that suite), a point costs one
 * comparison. Used as FoundationDB's BUGGIFY or Rust's fail-rs are.
 *
 * @module
 */

interface Armed {
  readonly name: string;
  readonly prefix: string;
  remaining: number;
  readonly delayMs: number | undefined;
}

/** The environment variable that arms a crash point. */
export const CRASH_AT_VARIABLE = "PLATFORM_CRASH_AT";

let armed: Armed | null | undefined;

function readArmed(): Armed | null {
  let text: string | undefined;
  try {
    text = Deno.env.get(CRASH_AT_VARIABLE);
  } catch {
    return null; // no permission to read the environment: never armed
  }
  const match = text === undefined
    ? null
    : /^([\w.:-]+)(?:~([^#@]*))?(?:#(\d+))?(?:@(\d+))?$/.exec(text);
  if (!match) return null;
  return {
    name: match[1] as string,
    prefix: match[2] ?? "",
    remaining: Number(match[3] ?? "1"),
    delayMs: match[4] === undefined ? undefined : Number(match[4]),
  };
}

/**
 * Kills this process with SIGKILL when `PLATFORM_CRASH_AT` names this point
 * (and a prefix of `detail`) and this is the arrival it counts; otherwise
 * does nothing.
 *
 * @example
 * ```ts
 * import { crashPoint } from "./crash_point.ts";
 * crashPoint("lake.put.renamed"); // nothing happens unless PLATFORM_CRASH_AT=lake.put.renamed
 * ```
 */
export function crashPoint(name: string, detail = ""): void {
  armed ??= readArmed();
  if (armed === null || armed.name !== name || !detail.startsWith(armed.prefix)) return;
  if (--armed.remaining > 0) return;
  const delayMs = armed.delayMs;
  armed = null;
  const pid = Deno.pid;
  try {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`crash point ${name} reached${detail ? ` at ${detail}` : ""}\n`),
    );
    if (delayMs === undefined) {
      Deno.kill(pid, "SIGKILL");
    } else {
      // A worker has a thread of its own: its timer fires while this one is busy in
      // WASM, and it dies with the process, so it can never kill a later one.
      const code = `setTimeout(() => Deno.kill(${pid}, "SIGKILL"), ${delayMs});`;
      new Worker(`data:text/javascript,${encodeURIComponent(code)}`, { type: "module" });
    }
  } catch {
    // No permission to signal: the next best thing to a kill, without cleanup.
    Deno.exit(137);
  }
}
