/**
 * The probes and the skip rule of `tools.ts`, and the runner's summary: each
 * case runs `deno test` (or the runner) in a child process over a small test
 * file, with PATH pointing at a folder of fake tools, so "present", "missing"
 * and "present but broken" are all produced here, whatever is installed.
 */

import assert from "node:assert/strict";
import { count, parseJunit, reasons, summaryLine } from "./run_tests.ts";
import type { SkipRecord } from "./tools.ts";

const TOOLS = new URL("./tools.ts", import.meta.url).href;
const RUNNER = new URL("./run_tests.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const GDAL = ["ogr2ogr", "gdalinfo", "gdal_translate"];

interface Child {
  code: number;
  /** stdout then stderr. */
  out: string;
  stdout: string;
}

/** A scratch folder with a test file and a `bin/` holding the given fake tools. */
async function scratch(
  testSource: string,
  tools: Record<string, "ok" | "fails" | "not-executable">,
): Promise<{ dir: string; bin: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "tools-test-" });
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  for (const [name, kind] of Object.entries(tools)) {
    await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\nexit ${kind === "fails" ? 1 : 0}\n`);
    await Deno.chmod(`${bin}/${name}`, kind === "not-executable" ? 0o644 : 0o755);
  }
  await Deno.writeTextFile(`${dir}/probe_test.ts`, testSource);
  return { dir, bin, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

async function run(args: string[], cwd: string, env: Record<string, string>): Promise<Child> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, out: text, stdout: new TextDecoder().decode(out.stdout) };
}

function childEnv(bin: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: bin,
    HOME: Deno.env.get("HOME") ?? "/tmp",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    TOOLS_PROBE_GDAL_PYTHON: "0",
    ...extra,
  };
}

const GDAL_TEST = `
import { needs } from "${TOOLS}";
Deno.test("needs gdal", { ignore: await needs("gdal") }, () => {});
Deno.test("needs nothing", () => {});
`;

Deno.test("a missing tool skips the test with one line naming it and its install command", async () => {
  await using s = await scratch(GDAL_TEST, {});
  const child = await run(
    ["test", "-A", "--no-check", "--config", CONFIG, "probe_test.ts"],
    s.dir,
    childEnv(s.bin),
  );
  assert.equal(child.code, 0, child.out);
  const skips = child.out.split("\n").filter((l) => l.startsWith("SKIP "));
  assert.deepEqual(skips, [
    "SKIP probe_test.ts: gdal-bin missing (ogr2ogr, gdalinfo, gdal_translate not found or " +
    "not runnable); install: sudo apt-get install -y gdal-bin",
  ]);
  assert.match(child.out, /needs gdal \.\.\. ignored/);
  assert.match(child.out, /needs nothing \.\.\. ok/);
});

Deno.test("a tool that runs is present; one that fails or cannot execute is missing", async (t) => {
  for (
    const [name, broken, expected] of [
      ["all run", undefined, /needs gdal \.\.\. ok/],
      ["gdalinfo exits 1", "fails", /gdal-bin missing \(gdalinfo not found or not runnable\)/],
      ["gdalinfo not executable", "not-executable", /gdal-bin missing \(gdalinfo not found/],
    ] as const
  ) {
    await t.step(name, async () => {
      const tools: Record<string, "ok" | "fails" | "not-executable"> = {};
      for (const tool of GDAL) tools[tool] = "ok";
      if (broken) tools.gdalinfo = broken;
      await using s = await scratch(GDAL_TEST, tools);
      const child = await run(
        ["test", "-A", "--no-check", "--config", CONFIG, "probe_test.ts"],
        s.dir,
        childEnv(s.bin),
      );
      assert.equal(child.code, 0, child.out);
      assert.match(child.out, expected);
    });
  }
});

Deno.test("with CI=true a missing tool fails the run instead of skipping", async () => {
  await using s = await scratch(GDAL_TEST, {});
  const child = await run(
    ["test", "-A", "--no-check", "--config", CONFIG, "probe_test.ts"],
    s.dir,
    childEnv(s.bin, { CI: "true" }),
  );
  assert.notEqual(child.code, 0, child.out);
  assert.match(child.out, /CI requires gdal-bin \.\.\. FAILED/);
  assert.match(
    child.out,
    /CI=true and gdal-bin missing .*install: sudo apt-get install -y gdal-bin/,
  );
  assert.doesNotMatch(child.out, /ignored/);
});

Deno.test("with CI=true a step that needs a missing tool fails its test", async () => {
  const source = `
import { needs } from "${TOOLS}";
Deno.test("outer", async (t) => {
  await t.step({ name: "inner", ignore: await needs("gdal"), fn() {} });
});
`;
  await using s = await scratch(source, {});
  const child = await run(
    ["test", "-A", "--no-check", "--config", CONFIG, "probe_test.ts"],
    s.dir,
    childEnv(s.bin, { CI: "true" }),
  );
  assert.notEqual(child.code, 0, child.out);
  assert.match(child.out, /outer \.\.\. FAILED/);
  assert.match(child.out, /CI=true and gdal-bin missing/);
});

Deno.test("MongoDB without MONGODB_URI skips, also in CI", async () => {
  const source = `
import { needs } from "${TOOLS}";
Deno.test("needs mongo", { ignore: await needs("mongodb") }, () => {});
`;
  await using s = await scratch(source, {});
  const child = await run(
    ["test", "-A", "--no-check", "--config", CONFIG, "probe_test.ts"],
    s.dir,
    childEnv(s.bin, { CI: "true" }),
  );
  assert.equal(child.code, 0, child.out);
  assert.match(child.out, /SKIP probe_test\.ts: MongoDB missing \(MONGODB_URI is not set\)/);
  assert.match(child.out, /needs mongo \.\.\. ignored/);
});

Deno.test("the runner ends with the skipped tests, their reasons, and the counts", async () => {
  const source = `
import { needs } from "${TOOLS}";
Deno.test("needs gdal", { ignore: await needs("gdal") }, () => {});
Deno.test("passes", () => {});
Deno.test("fails", () => { throw new Error("boom"); });
Deno.test("ignored by hand", { ignore: true }, () => {});
Deno.test("steps", async (t) => {
  await t.step({ name: "needs mongo", ignore: await needs("mongodb"), fn() {} });
  await t.step("runs", () => {});
});
`;
  await using s = await scratch(source, {});
  const child = await run(
    [
      "run",
      "-A",
      "--no-check",
      "--config",
      CONFIG,
      RUNNER,
      "--no-check",
      "--config",
      CONFIG,
      "probe_test.ts",
    ],
    s.dir,
    childEnv(s.bin),
  );
  assert.equal(child.code, 1, child.out);
  // The run ends (on stdout) with the list of skipped and failed tests, then the counts.
  const tail = child.stdout.slice(child.stdout.lastIndexOf("Skipped ("));
  const lines = tail.trim().split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "Skipped (3):",
    "  probe_test.ts > needs gdal: gdal-bin missing (ogr2ogr, gdalinfo, gdal_translate not " +
    "found or not runnable); install: sudo apt-get install -y gdal-bin",
    "  probe_test.ts > ignored by hand: ignored in code (no tool probe)",
    "  probe_test.ts > steps > needs mongo: MongoDB missing (MONGODB_URI is not set); install: " +
    "set MONGODB_URI=mongodb://USER:PASS@HOST:PORT/DB to a MongoDB server",
  ]);
  assert.deepEqual(lines.slice(4, 6), ["Failed (1):", "  probe_test.ts > fails"]);
  assert.match(
    lines.at(-1)!,
    /^Summary: 2 passed, 1 failed, 2 skipped \(steps: 1 passed, 0 failed, 1 skipped\) in \d+ s$/,
  );
});

Deno.test("runner: JUnit cases, counts and reasons", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="4" failures="1" errors="0" time="0.010">
  <testsuite name="./a_test.ts" tests="4" disabled="2" errors="0" failures="1">
    <testcase name="one" classname="./a_test.ts" time="0.002" line="1" col="6"></testcase>
    <testcase name="two" classname="./a_test.ts" time="0" line="5" col="6"><skipped/></testcase>
    <testcase name="three" classname="./a_test.ts" time="0" line="9" col="6">
      <failure message="boom">boom</failure>
    </testcase>
    <testcase name="three &gt; s1" classname="./a_test.ts" time="0" line="12" col="11"><skipped/></testcase>
  </testsuite>
</testsuites>`;
  const cases = parseJunit(xml);
  assert.deepEqual(cases.map((c) => [c.name, c.line, c.outcome]), [
    ["one", 1, "passed"],
    ["two", 5, "skipped"],
    ["three", 9, "failed"],
    ["three > s1", 12, "skipped"],
  ]);
  const counts = count(cases);
  assert.deepEqual(counts, {
    passed: 1,
    failed: 1,
    skipped: 1,
    stepsPassed: 0,
    stepsFailed: 0,
    stepsSkipped: 1,
  });
  assert.equal(
    summaryLine(counts, 12.4),
    "Summary: 1 passed, 1 failed, 1 skipped (steps: 0 passed, 0 failed, 1 skipped) in 12 s",
  );
  const record = (line: number, label: string): SkipRecord => ({
    file: "file:///repo/a_test.ts",
    line,
    label,
    missing: "x",
    install: "y",
  });
  // Each skipped case takes the probe between its line and the next case's.
  assert.deepEqual(reasons(cases, [record(6, "A"), record(13, "B")], "/repo"), [
    { name: "a_test.ts > two", reason: "A missing (x); install: y" },
    { name: "a_test.ts > three > s1", reason: "B missing (x); install: y" },
  ]);
  // A probe outside every window (a helper's call site) explains the
  // skipped case whose own window is empty; with none, no probe was used.
  assert.deepEqual(reasons(cases, [record(13, "B"), record(40, "C")], "/repo"), [
    { name: "a_test.ts > two", reason: "C missing (x); install: y" },
    { name: "a_test.ts > three > s1", reason: "B missing (x); install: y" },
  ]);
  assert.deepEqual(reasons(cases, [record(13, "B")], "/repo")[0], {
    name: "a_test.ts > two",
    reason: "ignored in code (no tool probe)",
  });
});
