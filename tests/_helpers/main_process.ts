/**
 * `main.ts` for tests: a sandbox (temp dir holding the test graphs and every
 * state path: run store, lake, ledger, warehouse) and, for what only a real
 * process can show (signals, kill -9, a closed stdout), one way to spawn it
 * and read its output as it comes. Everything else goes through `runCli`
 * in-process (see tests/main_test.ts).
 *
 * @example
 * ```ts
 * import { sandbox, spawnMain } from "./main_process.ts";
 * await using box = await sandbox();
 * const graph = await box.graph("one", `export const graph = defineGraph({ assets: [] });`);
 * await using main = spawnMain(["list"], { cwd: box.dir, env: { ...box.env, PLATFORM_GRAPH: graph } });
 * const { code } = await main.finish();
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * How long a wait for a child's output or another process's write may take
 * before it fails. A wait ends as soon as its condition holds, so this only
 * decides when a broken child is reported: on a loaded 2-core CI machine a
 * child's cold start (Deno compiling its graph, PGlite's initdb: 30 s
 * measured at load 19) eats most of a minute before it does anything.
 */
export const WAIT_MS = 240_000;

/** The default hard limit of a child's life: above every wait, still bounded. */
const KILL_AFTER_MS = 600_000;

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const CORE = new URL("../../core/mod.ts", import.meta.url).href;

/** A temp dir with the environment that keeps a `main.ts` inside it. */
export interface Sandbox extends AsyncDisposable {
  /** The temp dir. */
  readonly dir: string;
  /** Environment pointing every state path into the dir. */
  readonly env: Record<string, string>;
  /** Path of the SQLite run store. */
  readonly runsDb: string;
  /** Writes a graph module (with `defineAsset`, `defineGraph` imported) and returns its path. */
  graph(name: string, body: string): Promise<string>;
}

/** Makes a {@linkcode Sandbox}; `await using` removes it. */
export async function sandbox(): Promise<Sandbox> {
  const dir = await Deno.makeTempDir({ prefix: "main_test_" });
  return {
    dir,
    env: {
      RUNS_URL: `sqlite:${dir}/state/runs.db`,
      STATE_DIR: `${dir}/state`,
      LAKE_URL: `file://${dir}/data_lake`,
      LEDGER_URL: `sqlite:${dir}/state/ledger.db`,
      WAREHOUSE_URL: `pglite:${dir}/state/warehouse`,
      NO_COLOR: "1",
    },
    runsDb: `${dir}/state/runs.db`,
    async graph(name, body) {
      const path = `${dir}/${name}.ts`;
      await Deno.writeTextFile(
        path,
        `import { defineAsset, defineGraph } from "${CORE}";\n${body}\n`,
      );
      return path;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** How a spawned `main.ts` ended. */
export interface MainOutcome {
  /** Exit code (128 + signal number when killed). */
  readonly code: number;
  /** The signal that ended it, if any. */
  readonly signal: Deno.Signal | null;
  /** Everything it wrote to stdout. */
  readonly stdout: string;
  /** Everything it wrote to stderr. */
  readonly stderr: string;
}

/** A running `main.ts` whose output is read as it comes. */
export interface MainProcess extends AsyncDisposable {
  /** The process id. */
  readonly pid: number;
  /**
   * Waits until `pattern` matches all the child wrote so far to `stream`
   * (stdout by default); returns that text. Fails, with the output so far,
   * when the process ends first or `timeoutMs` passes.
   */
  waitFor(
    pattern: RegExp,
    options?: { stream?: "stdout" | "stderr"; timeoutMs?: number },
  ): Promise<string>;
  /** Sends `signal` (nothing when the child has already ended). */
  kill(signal: Deno.Signal): void;
  /** Stops reading stdout, as `| head -1` does. */
  closeStdout(): Promise<void>;
  /** Waits for the process to end. */
  finish(): Promise<MainOutcome>;
}

/** Options of {@linkcode spawnMain}. */
export interface SpawnMainOptions {
  /** Working directory (a sandbox, so no `.env` of the repository is read). */
  readonly cwd: string;
  /** Environment of the child, over the test process's own. */
  readonly env: Record<string, string>;
  /**
   * Hard limit: the child is killed with SIGKILL after this long.
   * @default {600000}
   */
  readonly killAfterMs?: number;
  /**
   * The `deno` arguments before ARGS, e.g. a task's `run ... launch.ts materialize`.
   * @default {["run", "-A", "--config=<deno.json>", "<main.ts>"]}
   */
  readonly denoArgs?: readonly string[];
  /**
   * Start from an empty environment (only `env`), as a fresh shell would.
   * @default {false}
   */
  readonly clearEnv?: boolean;
  /**
   * A program (and its arguments) that runs `deno` in turn, e.g.
   * `["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]` for a
   * process in its own pid namespace, as in another container.
   * @default {[] (deno itself)}
   */
  readonly wrapper?: readonly string[];
}

/**
 * Spawns `deno run -A main.ts ARGS` (or `deno DENO_ARGS ARGS`). `await using` (or `finish`) makes sure
 * it has ended; a child still running at dispose is killed with SIGKILL.
 */
export function spawnMain(args: readonly string[], options: SpawnMainOptions): MainProcess {
  const deno = [...(options.denoArgs ?? ["run", "-A", `--config=${CONFIG}`, MAIN]), ...args];
  const [program, ...before] = options.wrapper ?? [];
  const child = new Deno.Command(program ?? Deno.execPath(), {
    args: program === undefined ? deno : [...before, Deno.execPath(), ...deno],
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv ?? false,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = { stdout: "", stderr: "" };
  let wake = () => {};
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const notify = () => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };
  const readers = {
    stdout: child.stdout.pipeThrough(new TextDecoderStream()).getReader(),
    stderr: child.stderr.pipeThrough(new TextDecoderStream()).getReader(),
  };
  const pump = async (name: "stdout" | "stderr") => {
    try {
      for (;;) {
        const { value, done } = await readers[name].read();
        if (done) return;
        text[name] += value;
        notify();
      }
    } catch {
      // The reader was canceled (closeStdout, dispose).
    }
  };
  const pumps = Promise.all([pump("stdout"), pump("stderr")]);
  let ended = false;
  const status = child.status.finally(() => {
    ended = true;
    notify();
  });
  const guard = setTimeout(() => kill("SIGKILL"), options.killAfterMs ?? KILL_AFTER_MS);
  function kill(signal: Deno.Signal): void {
    if (ended) return;
    try {
      child.kill(signal);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // it exited meanwhile
    }
  }
  const finish = async (): Promise<MainOutcome> => {
    try {
      const { code, signal } = await status;
      await pumps;
      return { code, signal, stdout: text.stdout, stderr: text.stderr };
    } finally {
      clearTimeout(guard);
    }
  };
  return {
    pid: child.pid,
    async waitFor(pattern, { stream = "stdout", timeoutMs = WAIT_MS } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text[stream])) {
        if (ended) {
          await pumps;
          if (pattern.test(text[stream])) break;
          throw new Error(
            `main.ts exited (${(await status).code}) before ${pattern} on ${stream}:\n` +
              `--- stdout\n${text.stdout}\n--- stderr\n${text.stderr}`,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `timed out waiting for ${pattern} on ${stream}:\n--- stdout\n${text.stdout}\n` +
              `--- stderr\n${text.stderr}`,
          );
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          changed,
          new Promise((resolve) => (timer = setTimeout(resolve, left))),
        ]);
        clearTimeout(timer);
      }
      return text[stream];
    },
    kill,
    async closeStdout() {
      await readers.stdout.cancel();
    },
    finish,
    async [Symbol.asyncDispose]() {
      kill("SIGKILL");
      await status;
      await readers.stdout.cancel().catch(() => {});
      await readers.stderr.cancel().catch(() => {});
      await pumps;
      clearTimeout(guard);
    },
  };
}

/**
 * Polls `ok` every `pollMs` until it holds, failing after `timeoutMs`: for a
 * condition only another process can make true (a row it commits, a file it
 * writes), where nothing can be awaited directly.
 */
export async function until(
  what: string,
  ok: () => Promise<boolean>,
  { timeoutMs = WAIT_MS, pollMs = 20 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Polls `probe` until it returns a value (not `undefined`) and returns it,
 * failing after `timeoutMs`. A probe that throws is asked again until then:
 * for a server whose connections a test cuts, or that restarts.
 */
export async function untilValue<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = WAIT_MS, pollMs = 50 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
