import assert from "node:assert/strict";

const MODULE = new URL("../../core/crash_point.ts", import.meta.url).href;

/** Runs a script reaching points `a` (details d1, d2, d3) with `PLATFORM_CRASH_AT=armed`. */
async function reach(armed: string | undefined) {
  const script = `
    import { crashPoint } from "${MODULE}";
    for (const detail of ["bucket/d1", "bucket/d2", "other/d3"]) {
      console.log("before " + detail);
      crashPoint("a", detail);
    }
    // Busy, as a WASM checkpoint keeps the thread: a delayed kill must land in here.
    const until = Date.now() + 400;
    while (Date.now() < until) { /* spin */ }
    console.log("end");`;
  const env: Record<string, string> = armed === undefined ? {} : { PLATFORM_CRASH_AT: armed };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    env,
    clearEnv: false,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    signal: out.signal,
    stdout: new TextDecoder().decode(out.stdout).trim().split("\n"),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("crash point: unarmed, or armed for another point, nothing happens", async () => {
  for (const armed of [undefined, "b", "a~nowhere/", "not a spec!"]) {
    const out = await reach(armed);
    assert.equal(out.signal, null, String(armed));
    assert.equal(out.stdout.at(-1), "end");
  }
});

Deno.test("crash point: armed, the process is killed with SIGKILL at the n-th arrival matching the prefix, saying where", async () => {
  const second = await reach("a#2");
  assert.equal(second.signal, "SIGKILL");
  assert.deepEqual(second.stdout, ["before bucket/d1", "before bucket/d2"]);
  assert.match(second.stderr, /crash point a reached at bucket\/d2/);
  const other = await reach("a~other/");
  assert.equal(other.signal, "SIGKILL");
  assert.deepEqual(other.stdout.at(-1), "before other/d3");
  // A delay: the kill comes from a worker thread while the main thread is busy.
  const delayed = await reach("a#1@50");
  assert.equal(delayed.signal, "SIGKILL");
  assert.match(delayed.stderr, /crash point a reached at bucket\/d1/);
});
