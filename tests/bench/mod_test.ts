/**
 * `deno task bench`'s own arguments: `--help` lists the benchmarks and runs
 * none, a name runs that one, an unknown name is a usage error.
 *
 * @module
 */

import assert from "node:assert/strict";
import { BENCHES, parseBenchArgs } from "../../bench/mod.ts";

const ROOT = new URL("../../", import.meta.url);

async function bench(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "bench", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    // Before the fix `--help` started every benchmark (minutes of CPU): cut it short.
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("deno task bench --help lists every benchmark and runs none; exit 0", async () => {
  const { code, stdout, stderr } = await bench("--help");
  assert.deepEqual(code, 0, stderr);
  assert.match(stdout, /^Usage: deno task bench \[NAME\.\.\.\]/);
  for (const name of Object.keys(BENCHES)) assert.match(stdout, new RegExp(`^  ${name} `, "m"));
  assert.ok(!stdout.includes("=== bench/"), stdout);
});

Deno.test("deno task bench with an unknown name exits 2 naming it and the known ones", async () => {
  const { code, stdout, stderr } = await bench("nosuch");
  assert.deepEqual(code, 2, stdout);
  assert.match(stderr, /unknown benchmark 'nosuch': one of core, object_store, .*dbt, ui/);
  assert.deepEqual(stdout, "");
});

Deno.test("bench names select benchmarks in the listed order; none selects all", () => {
  assert.deepEqual(parseBenchArgs(["dbt", "core"]), { names: ["core", "dbt"] });
  assert.deepEqual(parseBenchArgs([]), { names: Object.keys(BENCHES) });
  assert.deepEqual(parseBenchArgs(["core", "-h"]), { help: true });
});
