/**
 * Seeded fuzz of `deno task dbt`'s command line: every command with dbt's
 * flags given odd values (empty, numbers of every shape, unicode, control
 * characters, very long text, YAML that is not a map), `=` forms, repeated
 * flags, flags without their value and unknown or misspelt flags. Every line
 * ends (in process, no hang) with exit 0, 1 or 2, never throws, prints no
 * stack, `[object Object]` or raw control character, and an unknown flag is
 * exit 2 naming it. Commands that would build on a warehouse are given an
 * unknown flag or a bad value, so they stop at their arguments.
 *
 * `DBT_ARGS_FUZZ_CASES` (default 150) and `DBT_ARGS_FUZZ_SEED` (default 6).
 *
 * @module
 */

import assert from "node:assert/strict";
import { PlatformError } from "../../../core/errors.ts";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { Random } from "../../_helpers/reliability.ts";
import { writeProject } from "./_fixture.ts";

const CASES = Number(Deno.env.get("DBT_ARGS_FUZZ_CASES") ?? 150);
const SEED = Number(Deno.env.get("DBT_ARGS_FUZZ_SEED") ?? 6);

/** Commands that only read the project (run whatever the flags). */
const READING = ["parse", "ls", "list", "compile", "debug"];
/** Commands that build: each case also gets an unknown flag, so nothing is built. */
const BUILDING = [
  "build",
  "run",
  "test",
  "seed",
  "snapshot",
  "deps",
  "retry",
  "show",
  "clean",
  "run-operation",
  "docs",
  "source",
  "frobnicate",
];

const FLAGS = [
  "--select",
  "-s",
  "--models",
  "-m",
  "--exclude",
  "--selector",
  "--resource-type",
  "--exclude-resource-type",
  "--full-refresh",
  "--vars",
  "--target",
  "-t",
  "--threads",
  "--state",
  "--target-path",
  "--output",
  "--output-keys",
  "--args",
  "--limit",
  "--indirect-selection",
  "--log-format",
  "--printer-width",
  "--warn-error-options",
  "--event-time-start",
  "--event-time-end",
  "--inline",
  "--empty",
  "--fail-fast",
  "--quiet",
  "--no-partial-parse",
];

const VALUES: readonly string[] = [
  "",
  " ",
  "a",
  "+a+",
  "tag:nightly",
  "path:models",
  "config.materialized:view",
  "0",
  "-1",
  "0x10",
  "1e3",
  "99999999999999999999",
  "{a: 1}",
  "[1, 2]",
  "{",
  "a: [",
  '{"a": {"b": null}}',
  "json",
  "name",
  "model",
  "modle",
  "2024-01-01",
  "2024-13-45",
  "ünïcödé",
  "\u001b[31mred",
  "a\u0000b",
  "\u202eevil",
  "x".repeat(5000),
  "../../etc",
  "--",
  "-",
];

const NOISE = ["--selec", "--no-such-flag", "--thread=2", "-z", "--=", "---x"];

const FORBIDDEN: readonly [RegExp, string][] = [
  [/\[object Object\]/, "[object Object]"],
  [/\n\s+at .*:\d+:\d+/, "a stack trace"],
  // deno-lint-ignore no-control-regex
  [/[\u0000-\u0008\u000b-\u001f\u007f]/, "a raw control character"],
];

Deno.test(`dbt CLI fuzz: ${CASES} command lines (seed ${SEED}) end with 0, 1 or 2 and readable errors`, async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "models/b.sql": "{{ config(tags=['nightly']) }}select * from {{ ref('a') }}",
  });
  const rng = new Random(SEED);
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const reading = rng.chance(0.6);
    const command = reading ? rng.pick(READING) : rng.pick(BUILDING);
    const args: string[] = [command];
    for (let n = rng.int(0, 4); n > 0; n--) {
      const roll = rng.int(0, 9);
      const flag = rng.pick(FLAGS);
      if (roll < 4) args.push(flag, rng.pick(VALUES));
      else if (roll < 6) args.push(`${flag}=${rng.pick(VALUES)}`);
      else if (roll < 7) args.push(flag); // its value missing, or a boolean
      else if (roll < 8) args.push(rng.pick(VALUES));
      else args.push(rng.pick(NOISE));
    }
    if (!reading) args.splice(rng.int(1, args.length), 0, rng.pick(NOISE.slice(0, 3)));
    args.push("--project-dir", project.dir);
    const where = `case ${i} (seed ${SEED}): ${JSON.stringify(args).slice(0, 300)}`;
    const err: string[] = [];
    let code: number;
    try {
      // INIT_CWD: relative --target-path and --state values land in the project's temp dir,
      // not in the folder the tests run from.
      code = await runDbtCli(args, { out: () => {}, err: (line) => err.push(line) }, {
        env: (name) => (name === "INIT_CWD" ? project.dir : undefined),
      });
    } catch (error) {
      // The CLI prints a typed error ('error [code]: message') and exits 1: compile and debug
      // reach the profile's warehouse, which does not run here.
      if (!(error instanceof PlatformError) || /\[object Object\]/.test(error.message)) {
        failures.push(`${where}: threw ${String(error).slice(0, 300)}`);
      }
      continue;
    }
    const stderr = err.join("\n");
    if (![0, 1, 2].includes(code)) failures.push(`${where}: exit ${code}`);
    for (const [pattern, what] of FORBIDDEN) {
      if (pattern.test(stderr)) {
        failures.push(`${where}: ${what} in ${JSON.stringify(stderr.slice(0, 300))}`);
      }
    }
    const unknown = args.slice(1).find((a, at) =>
      /^--(selec|no-such-flag|thread)(=|$)/.test(a) && !args.slice(1, at + 1).includes("--") &&
      !FLAGS.includes(args[at] ?? "")
    );
    if (unknown !== undefined && code !== 2) {
      failures.push(`${where}: unknown flag ${unknown} gave exit ${code}: ${stderr.slice(0, 200)}`);
    }
    if (code === 1) failures.push(`${where}: exit 1 (no node ran): ${stderr.slice(0, 300)}`);
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${CASES} cases failed`);
});
