/**
 * `deno task test`: runs `deno test` over `tests/` (or the paths given) and
 * ends with one summary line counting passed / failed / skipped tests,
 * preceded by the list of skipped tests, each with the reason its probe gave
 * (`tests/_helpers/tools.ts`): what is missing and the command that installs
 * it.
 *
 * `deno test`'s own output streams through unchanged. The counts and the
 * skipped tests come from its JUnit report (`--junit-path`); the reasons from
 * the records `needs()` appends to the folder named by `TEST_SKIP_LOG`. A
 * skipped test with no record was ignored by code that does not use a probe
 * and is listed as such. The reliability tests' count lines (`RELIABILITY
 * name: tried=.. handled=.. lost=.. leaked=..`, tests/_helpers/reliability.ts)
 * are repeated together before the summary. A dependency that assigns
 * `__proto__` during the run (recorded by the preloaded proto_guard.ts) is
 * listed with its stack and fails the run. The exit code is `deno test`'s,
 * else 1 for such an assignment.
 *
 * Usage: `deno task test [deno test flags] [paths...]`.
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";
import { SKIP_LOG_ENV, SKIP_LOG_FILE, type SkipRecord } from "./tools.ts";
import { countLine, RELIABILITY_LOG_FILE, type ReliabilityRecord } from "./reliability.ts";
import { PROTO_GUARD_ENV } from "./proto_guard.ts";

/** The preload recording `__proto__` assignments (tests/_helpers/proto_guard.ts). */
const PROTO_GUARD = new URL("./proto_guard.ts", import.meta.url).pathname;

/** One test (or step) as the JUnit report gives it. */
export interface TestCase {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly outcome: "passed" | "failed" | "skipped";
}

/** Counts of a run, top-level tests and steps apart (as `deno test` counts them). */
export interface Counts {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly stepsPassed: number;
  readonly stepsFailed: number;
  readonly stepsSkipped: number;
}

/** Reads Deno's JUnit report into test cases. */
export function parseJunit(xml: string): TestCase[] {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    isArray: (name) => name === "testsuite" || name === "testcase",
  });
  const doc = parser.parse(xml) as {
    testsuites?: { testsuite?: { name: string; testcase?: Record<string, unknown>[] }[] };
  };
  const cases: TestCase[] = [];
  for (const suite of doc.testsuites?.testsuite ?? []) {
    for (const tc of suite.testcase ?? []) {
      const outcome = "skipped" in tc
        ? "skipped"
        : ("failure" in tc || "error" in tc)
        ? "failed"
        : "passed";
      cases.push({
        file: String(tc.classname ?? suite.name),
        name: String(tc.name),
        line: Number(tc.line ?? 0),
        outcome,
      });
    }
  }
  return cases;
}

/** Counts passed/failed/skipped, steps (names with ` > `) apart. */
export function count(cases: readonly TestCase[]): Counts {
  const n = (outcome: TestCase["outcome"], step: boolean) =>
    cases.filter((c) => c.outcome === outcome && c.name.includes(" > ") === step).length;
  return {
    passed: n("passed", false),
    failed: n("failed", false),
    skipped: n("skipped", false),
    stepsPassed: n("passed", true),
    stepsFailed: n("failed", true),
    stepsSkipped: n("skipped", true),
  };
}

/** How far below a test's line its `ignore:` may sit (the options object). */
const WINDOW_LINES = 12;

/**
 * The reason of each skipped case. A test's `ignore:` sits between its own
 * line and the next test's (and within its options object), so a record in that window is its reason. A test
 * registered by a helper (a contract suite's loop) has its `ignore:` computed
 * at the helper's call site instead: the file's records no window claimed are
 * then its reason. A skipped case with neither was ignored without a probe.
 */
export function reasons(
  cases: readonly TestCase[],
  records: readonly SkipRecord[],
  cwd: string,
): { name: string; reason: string }[] {
  const out: { name: string; reason: string }[] = [];
  const text = (rs: readonly SkipRecord[]) =>
    [...new Set(rs.map((r) => `${r.label} missing (${r.missing}); install: ${r.install}`))]
      .join("; ");
  const skipped = cases.filter((c) => c.outcome === "skipped");
  const pathOfCase = (c: TestCase) => c.file.replace(/^\.\//, "");
  const windowOf = (c: TestCase, mine: readonly SkipRecord[]) => {
    const next = Math.min(
      c.line + WINDOW_LINES,
      ...cases.filter((o) => o.file === c.file && o.line > c.line).map((o) => o.line),
    );
    return mine.filter((r) => r.line >= c.line && r.line < next);
  };
  for (const c of skipped) {
    const path = pathOfCase(c);
    const mine = records.filter((r) => pathOf(r.file, cwd) === path);
    const inWindow = windowOf(c, mine);
    let reason: string;
    if (inWindow.length > 0) {
      reason = text(inWindow);
    } else {
      const claimed = new Set(
        skipped.filter((o) => o.file === c.file).flatMap((o) => windowOf(o, mine)),
      );
      const unclaimed = mine.filter((r) => !claimed.has(r));
      reason = unclaimed.length > 0 ? text(unclaimed) : "ignored in code (no tool probe)";
    }
    out.push({ name: `${path} > ${c.name}`, reason });
  }
  return out;
}

function pathOf(fileUrl: string, cwd: string): string {
  const path = fileUrl.startsWith("file://")
    ? decodeURIComponent(new URL(fileUrl).pathname)
    : fileUrl;
  return path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path;
}

/** The summary line, e.g. `Summary: 401 passed, 0 failed, 3 skipped (steps: 210 passed, ...)`. */
export function summaryLine(counts: Counts, seconds: number): string {
  const steps = counts.stepsPassed + counts.stepsFailed + counts.stepsSkipped > 0
    ? ` (steps: ${counts.stepsPassed} passed, ${counts.stepsFailed} failed, ${counts.stepsSkipped} skipped)`
    : "";
  return `Summary: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped` +
    `${steps} in ${Math.round(seconds)} s`;
}

async function main(args: string[]): Promise<number> {
  const scratch = await Deno.makeTempDir({ prefix: "deno-test-run-" });
  try {
    const junit = `${scratch}/junit.xml`;
    const paths = await Promise.all(args.map((a) => Deno.stat(a).then(() => true, () => false)));
    const protoLog = `${scratch}/proto.jsonl`;
    const testArgs = [
      "test",
      "-A",
      "--parallel",
      `--preload=${PROTO_GUARD}`,
      `--junit-path=${junit}`,
      ...args,
    ];
    if (!paths.some(Boolean)) testArgs.push("tests/");
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: testArgs,
      env: { [SKIP_LOG_ENV]: scratch, [PROTO_GUARD_ENV]: protoLog },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const forward = (signal: Deno.Signal) => () => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    };
    const onInt = forward("SIGINT");
    const onTerm = forward("SIGTERM");
    Deno.addSignalListener("SIGINT", onInt);
    Deno.addSignalListener("SIGTERM", onTerm);
    const status = await child.status;
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
    const seconds = (performance.now() - started) / 1000;

    const xml = await Deno.readTextFile(junit).catch(() => undefined);
    if (xml === undefined) {
      console.log(`\nSummary: deno test wrote no report (exit ${status.code})`);
      return status.code || 1;
    }
    const cases = parseJunit(xml);
    const records = (await Deno.readTextFile(`${scratch}/${SKIP_LOG_FILE}`).catch(() => ""))
      .split("\n").filter(Boolean).map((line) => JSON.parse(line) as SkipRecord);
    const skipped = reasons(cases, records, Deno.cwd());
    console.log("");
    if (skipped.length > 0) {
      console.log(`Skipped (${skipped.length}):`);
      for (const s of skipped) console.log(`  ${s.name}: ${s.reason}`);
    }
    const reliability = (await Deno.readTextFile(`${scratch}/${RELIABILITY_LOG_FILE}`)
      .catch(() => "")).split("\n").filter(Boolean)
      .map((line) => JSON.parse(line) as ReliabilityRecord);
    if (reliability.length > 0) {
      console.log(`Reliability (${reliability.length}):`);
      for (const r of reliability) console.log(`  ${countLine(r)}`);
    }
    const failed = cases.filter((c) => c.outcome === "failed");
    if (failed.length > 0) {
      console.log(`Failed (${failed.length}):`);
      for (const f of failed) console.log(`  ${f.file.replace(/^\.\//, "")} > ${f.name}`);
    }
    // A dependency assigning __proto__ fails the run (issue 16 item 4: no warnings).
    const protoSites = [
      ...new Set((await Deno.readTextFile(protoLog).catch(() => "")).split("\n").filter(Boolean)),
    ].map((line) => JSON.parse(line) as { site: string; stack: string[] });
    if (protoSites.length > 0) {
      console.log(
        `__proto__ assigned (${protoSites.length}; Deno notes it under every error; ` +
          "keep that code out of the tests or pin around the dependency):",
      );
      for (const p of protoSites) console.log(`  ${p.stack.join("\n    ")}`);
    }
    console.log(summaryLine(count(cases), seconds));
    return status.code || (protoSites.length > 0 ? 1 : 0);
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
