/**
 * The README's quick start, timed: a fresh clone of this repository in a temp
 * folder, then `deno task materialize` twice, each on a terminal (through
 * `script`, so the live progress view runs as a user sees it). Prints for
 * each run its wall time, exit code and the longest stretch with no output at
 * all (a "silent pause").
 *
 *     deno run -A bench/quick_start.ts           # with Deno's npm cache as it is
 *     deno run -A bench/quick_start.ts --cold    # with an empty DENO_DIR (fetches ~340 MB)
 *
 * Run it through /work/wt/heavy on the shared machine: it is a timing.
 *
 * @module
 */

const REPO = new URL("../", import.meta.url).pathname;

interface Timing {
  readonly seconds: number;
  readonly code: number;
  /** Longest gap between two output chunks, and when it began (s from start). */
  readonly silence: { seconds: number; at: number };
  readonly tail: string;
}

/** Runs `command` on a pseudo-terminal, timing its output. */
async function onTerminal(command: string, cwd: string, env: Record<string, string>) {
  const started = performance.now();
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd,
    env: { TERM: "xterm-256color", COLUMNS: "120", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let last = started;
  let silence = { seconds: 0, at: 0 };
  let tail = "";
  const note = (chunk: Uint8Array) => {
    const now = performance.now();
    if (now - last > silence.seconds * 1000) {
      silence = { seconds: (now - last) / 1000, at: (last - started) / 1000 };
    }
    last = now;
    tail = (tail + new TextDecoder().decode(chunk)).slice(-3000);
  };
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) note(chunk);
  };
  await Promise.all([drain(child.stdout), drain(child.stderr)]);
  const status = await child.status;
  const end = performance.now();
  if (end - last > silence.seconds * 1000) {
    silence = { seconds: (end - last) / 1000, at: (last - started) / 1000 };
  }
  return { seconds: (end - started) / 1000, code: status.code, silence, tail } satisfies Timing;
}

function show(name: string, t: Timing): void {
  console.log(
    `${name}: ${t.seconds.toFixed(1)} s, exit ${t.code}, longest silent pause ` +
      `${t.silence.seconds.toFixed(1)} s (from ${t.silence.at.toFixed(1)} s)`,
  );
}

if (import.meta.main) {
  const cold = Deno.args.includes("--cold");
  const dir = await Deno.makeTempDir({ prefix: "quick-start-" });
  try {
    const clone = await new Deno.Command("git", {
      args: ["clone", "-q", REPO, `${dir}/repo`],
    }).output();
    if (!clone.success) throw new Error(new TextDecoder().decode(clone.stderr));
    const env: Record<string, string> = cold ? { DENO_DIR: `${dir}/deno-dir` } : {};
    console.log(`fresh clone of ${REPO} in ${dir}/repo${cold ? ", empty DENO_DIR" : ""}`);
    const first = await onTerminal("deno task materialize", `${dir}/repo`, env);
    show("first run ", first);
    const second = await onTerminal("deno task materialize", `${dir}/repo`, env);
    show("second run", second);
    if (first.code !== 0 || second.code !== 0) {
      console.log(`--- last output\n${second.code !== 0 ? second.tail : first.tail}`);
      Deno.exitCode = 1;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
