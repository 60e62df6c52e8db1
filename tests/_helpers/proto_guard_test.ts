import assert from "node:assert/strict";

const RUN_TESTS = new URL("./run_tests.ts", import.meta.url).pathname;

/**
 * Runs `deno task test` (run_tests.ts) over a folder holding `body` in
 * `case_test.ts` beside clean test files (run in parallel, as the suite is).
 */
async function runTests(body: string): Promise<{ code: number; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "proto_guard_" });
  try {
    for (const name of ["a", "b"]) {
      await Deno.writeTextFile(`${dir}/${name}_test.ts`, `Deno.test("${name}", () => {});\n`);
    }
    await Deno.writeTextFile(`${dir}/case_test.ts`, body);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", RUN_TESTS, dir],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { code: out.code, out: text };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task test fails a run in which code assigns __proto__, naming where", async () => {
  const dirty = await runTests(`
function legacyInherit(child: object, parent: object) {
  (child as { __proto__: object }).__proto__ = parent;
}
Deno.test("passes, but a dependency-like helper assigns __proto__", () => {
  legacyInherit({}, {});
});
`);
  assert.equal(dirty.code, 1, dirty.out);
  assert.match(dirty.out, /__proto__ assigned \(1;/);
  assert.match(dirty.out, /at legacyInherit \(file:\/\/\S+case_test\.ts:3:/);
  assert.match(dirty.out, /Summary: 3 passed, 0 failed/);

  const clean = await runTests(`
Deno.test("sets prototypes the standard way", () => {
  Object.setPrototypeOf({}, {});
});
`);
  assert.equal(clean.code, 0, clean.out);
  assert.doesNotMatch(clean.out, /__proto__ assigned/);
});
