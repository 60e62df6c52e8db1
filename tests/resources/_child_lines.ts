/**
 * A child Deno process for kill -9 tests: its output read as it comes, a
 * wait for a word it says, SIGKILL, and the files a folder holds.
 *
 * @module
 */

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** A running child whose output the test reads. */
export interface ChildLines {
  /** The process. */
  readonly process: Deno.ChildProcess;
  /** Waits until the child has said `word` (failing if it ends first); returns all it said. */
  said(word: string): Promise<string>;
  /** Kills it with SIGKILL (nothing if it ended) and waits for its end. */
  kill(): Promise<void>;
  /** Waits for its end: exit code and all it said. */
  finish(): Promise<{ code: number; said: string }>;
}

/** Runs `deno run -A module ...args` with `env` added, stdout piped. */
export function childLines(
  module: string,
  args: string[],
  env: Record<string, string> = {},
): ChildLines {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, module, ...args],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  return {
    process,
    async said(word) {
      while (!said.includes(word)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the child ended before saying ${word}: ${said}`);
        said += value;
      }
      return said;
    },
    async kill() {
      try {
        process.kill("SIGKILL");
      } catch {
        // Ended already (killed before, or finished).
      }
      await process.status;
      await reader.cancel().catch(() => {});
    },
    async finish() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        said += value;
      }
      return { code: (await process.status).code, said };
    },
  };
}

/** The names in `dir`, sorted ([] when it is gone). */
export async function names(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}
