/**
 * Helpers for tests that run a warehouse in a child process: read its output
 * as it arrives, wait for its exit with a bound, and a temp dir that removes
 * itself.
 *
 * @module
 */

/** A child's stream read to the end, letting a test wait for a line as it arrives. */
export interface Collected {
  /** Everything, once the stream ended. */
  readonly all: Promise<string>;
  /** Resolves with the first match of `pattern` in what arrived so far (or later). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
}

/** Reads a child's stream to the end, letting a test wait for a line as it arrives. */
export function collect(stream: ReadableStream<Uint8Array>): Collected {
  let text = "";
  let ended = false;
  const waiters: Array<() => void> = [];
  const wakeAll = () => waiters.splice(0).forEach((wake) => wake());
  const all = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      wakeAll();
    }
    ended = true;
    wakeAll();
    return text;
  })();
  return {
    all,
    async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      while (true) {
        const match = text.match(pattern);
        if (match) return match;
        if (ended) throw new Error(`stream ended without ${pattern}: ${text}`);
        await new Promise<void>((wake) => waiters.push(wake));
      }
    },
  };
}

/** Whether `child` exits within `ms` milliseconds. */
export async function exitedWithin(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([child.status.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A temp dir removed (with its contents) on dispose. */
export async function tempDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
