/**
 * Seeded fuzz of every built-in command's arguments: empty strings, `--`,
 * `=` forms, unknown and misspelt options, values that are not numbers,
 * unicode, control characters and very long text, in random orders. Every
 * command line ends (no hang) with exit 0, 1 or 2, and what it prints on
 * standard error has no stack trace, no `[object Object]` and no raw control
 * character; a command line with an unknown option exits 2 naming it.
 *
 * `CLI_FUZZ_CASES` (default 300, about a second) and `CLI_FUZZ_SEED`
 * (default 7) widen or replay it; the seed is in every failure message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { dailyPartitions, staticPartitions } from "../../../core/partitions.ts";
import { Random } from "../../_helpers/reliability.ts";
import { cli, testApp } from "./_app.ts";

const CASES = Number(Deno.env.get("CLI_FUZZ_CASES") ?? 300);
const SEED = Number(Deno.env.get("CLI_FUZZ_SEED") ?? 7);

/** Each command and the options it takes (values are drawn from VALUES). */
const COMMANDS: Record<string, readonly string[]> = {
  materialize: [
    "--partition",
    "--from",
    "--to",
    "--exclude",
    "--concurrency",
    "--tag",
    "--json",
    "--stale",
    "--queue",
    "--priority",
    "--max-retries",
  ],
  list: ["--json"],
  runs: ["--limit", "--status", "--json"],
  show: ["--json"],
  automation: ["--limit", "--json"],
  sensor: ["--once", "--interval", "--grace", "--json"],
  queue: ["--json"],
  cancel: ["--json"],
  backfill: ["--partition", "--from", "--to", "--json"],
  migrate: ["--json"],
  // No queue in this app: it must say so (exit 2) whatever its options, not wait for runs.
  worker: ["--concurrency", "--step-concurrency", "--grace", "--no-coordinator", "--json"],
};

const VALUES: readonly string[] = [
  "",
  " ",
  "--",
  "-",
  "=",
  "0",
  "-1",
  "1",
  "0x10",
  "1e3",
  "99999999999999999999",
  "NaN",
  "raw",
  "raw+",
  "+clean",
  "group:main",
  "tag:",
  "north",
  "north,,south",
  "2024-01-02",
  "2024-13-45",
  "k=v",
  "=v",
  "k=",
  "ünïcödé",
  "\u001b[31mred",
  "a\u0000b",
  "\u202eevil",
  "x".repeat(10_000),
  "../../etc/passwd",
  "running",
  "bogus-status",
];

const NOISE: readonly string[] = [
  "--",
  "-",
  "---",
  "--=",
  "--=x",
  "-x",
  "--help=1",
  "--jsn",
  "--unknown-flag",
  "--concurency=2",
  "-h",
];

const FORBIDDEN: readonly [RegExp, string][] = [
  [/\[object Object\]/, "[object Object]"],
  [/\n\s+at .*:\d+:\d+/, "a stack trace"],
  // deno-lint-ignore no-control-regex
  [/[\u0000-\u0008\u000b-\u001f\u007f]/, "a raw control character"],
];

Deno.test(`CLI fuzz: ${CASES} command lines (seed ${SEED}) end with 0, 1 or 2 and readable errors`, async () => {
  const noop = () => {};
  const { app } = testApp([
    defineAsset({ key: "raw", group: "main", materialize: noop }),
    defineAsset({ key: "clean", deps: ["raw"], group: "main", materialize: noop }),
    defineAsset({
      key: "regions",
      partitions: staticPartitions(["north", "south"]),
      materialize: noop,
    }),
    defineAsset({ key: "daily", partitions: dailyPartitions("2024-01-01"), materialize: noop }),
  ]);
  const rng = new Random(SEED);
  const commands = Object.keys(COMMANDS);
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const command = i < commands.length ? commands[i]! : rng.pick(commands);
    const args: string[] = [command];
    for (let n = rng.int(0, 4); n > 0; n--) {
      const roll = rng.int(0, 9);
      const option = rng.pick(COMMANDS[command]!);
      if (roll < 4) args.push(option, rng.pick(VALUES));
      else if (roll < 6) args.push(`${option}=${rng.pick(VALUES)}`);
      else if (roll < 8) args.push(rng.pick(VALUES));
      else args.push(rng.pick(NOISE));
    }
    // The daemon only once: without --once it runs until stopped.
    if (command === "sensor" && !args.includes("--once")) args.push("--once");
    const where = `case ${i} (seed ${SEED}): ${JSON.stringify(args).slice(0, 300)}`;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 10_000);
    let outcome;
    try {
      outcome = await cli(app, args, { signal: stop.signal });
    } catch (error) {
      failures.push(`${where}: threw ${String(error)}`);
      continue;
    } finally {
      clearTimeout(timer);
    }
    if (stop.signal.aborted) failures.push(`${where}: still running after 10 s`);
    if (![0, 1, 2].includes(outcome.code)) failures.push(`${where}: exit ${outcome.code}`);
    for (const [pattern, what] of FORBIDDEN) {
      if (pattern.test(outcome.stderr)) {
        failures.push(`${where}: ${what} in ${JSON.stringify(outcome.stderr.slice(0, 400))}`);
      }
    }
    const unknown = args.slice(1).find((a) =>
      /^--(jsn|unknown-flag|concurency)(=|$)/.test(a) &&
      !args.slice(1, args.indexOf(a)).includes("--")
    );
    if (unknown !== undefined && outcome.code !== 2) {
      failures.push(`${where}: unknown option ${unknown} gave exit ${outcome.code}`);
    }
    if (
      outcome.code === 1 && /^error: /m.test(outcome.stderr) && !/\[[a-z_.]+\]/.test(outcome.stderr)
    ) {
      // Exit 1 is for a failed run; a usage problem is 2.
      failures.push(`${where}: exit 1 with ${JSON.stringify(outcome.stderr.slice(0, 300))}`);
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${CASES} cases failed`);
});
