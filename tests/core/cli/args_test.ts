import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { UsageError } from "../../../core/cli/app.ts";
import { wholeNumberOption } from "../../../core/cli/_args.ts";
import { assertExit, cli, EXIT, testApp } from "./_app.ts";

/** Values `Number()` reads as a number although nobody types them for a count. */
const NOT_DECIMAL = ["0x10", "0o7", "0b11", "1e3", "1E2", "", " ", "1.0", "+3", "Infinity", "NaN"];
/** Too large to be held exactly, so they were silently rounded. */
const HUGE = ["99999999999999999999", "9007199254740993", "1" + "0".repeat(400)];

Deno.test("wholeNumberOption: decimal digits only, within the range, naming the option", () => {
  assert.equal(wholeNumberOption("--limit", "12", 1), 12);
  assert.equal(wholeNumberOption("--limit", " 7 ", 1), 7);
  for (const text of [...NOT_DECIMAL, ...HUGE, "0", "-1"]) {
    assert.throws(
      () => wholeNumberOption("--limit", text, 1),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === `--limit must be a whole number >= 1, got '${text}'`,
      JSON.stringify(text),
    );
  }
  assert.throws(
    () => wholeNumberOption("--n", "11", 1, 10),
    /--n must be a whole number from 1 to 10, got '11'/,
  );
});

Deno.test("materialize, runs, automation: a count given as 0x10, 1e3 or huge exits 2", async () => {
  // Before: Number() took '0x10' as 16 and '1e3' as 1000 and ran with them (exit 0).
  const { app } = testApp([defineAsset({ key: "a", materialize: () => {} })]);
  for (
    const [command, option] of [
      ["materialize", "--concurrency"],
      ["runs", "--limit"],
      ["automation", "--limit"],
    ]
  ) {
    for (const value of ["0x10", "1e3", "99999999999999999999", " "]) {
      const outcome = await cli(app, [command as string, `${option}=${value}`]);
      assertExit(outcome, EXIT.usage);
      assert.match(
        outcome.stderr,
        new RegExp(`${option} must be a whole number >= 1, got '${value}'`),
      );
      assert.doesNotMatch(outcome.stderr, /\bat .*\.ts:\d+/, "no stack trace");
    }
  }
});

Deno.test("automation: an unknown asset exits 2 suggesting the nearest key, as materialize does", async () => {
  // Before: "Unknown asset 'raw_wether'; 'list' shows the assets", with no suggestion.
  const { app } = testApp([defineAsset({ key: "raw_weather", materialize: () => {} })]);
  const outcome = await cli(app, ["automation", "raw_wether"]);
  assertExit(outcome, EXIT.usage);
  assert.match(outcome.stderr, /Unknown asset 'raw_wether' \(did you mean 'raw_weather'\?\)/);
});

Deno.test("help: --json is promised only for the commands that take it", async () => {
  // Before: "Every command takes --json", and `cancel --json` / `migrate --json` exit 2.
  const { app } = testApp([defineAsset({ key: "a", materialize: () => {} })]);
  const help = await cli(app, ["--help"]);
  assertExit(help, EXIT.ok);
  assert.doesNotMatch(help.stdout, /Every command takes --json/);
  assert.match(help.stdout, /list, runs, show, automation,[^]*\stake --json/);
  assert.match(help.stdout, /Exit status: 0 success, 1 failure, 2 usage/);
  const listed = await cli(app, ["list", "--json"]);
  assertExit(listed, EXIT.ok);
});

Deno.test("a value option given twice exits 2 naming both values; repeatable options and flags still repeat", async () => {
  // Before: parseArgs kept the last value silently (`--concurrency 2 --concurrency 3` ran with 3).
  const ran: string[] = [];
  const { app } = testApp([defineAsset({ key: "a", materialize: () => void ran.push("a") })]);
  for (
    const args of [
      ["materialize", "--concurrency", "2", "--concurrency", "3"],
      ["materialize", "--concurrency=2", "--concurrency=3"],
      ["materialize", "--exclude", "a", "--exclude", "b"],
      ["sensor", "--once", "--interval", "10", "--interval=20"],
      ["runs", "--limit", "1", "--limit", "2"],
      ["automation", "--limit", "1", "--limit", "2"],
    ]
  ) {
    const outcome = await cli(app, args);
    assertExit(outcome, EXIT.usage);
    const option = args.find((a) => a.startsWith("--") && a !== "--once")?.replace(/=.*/, "");
    assert.match(
      outcome.stderr,
      new RegExp(`^error: ${option} is given twice \\('[^']*', then '[^']*'\\); give it once`),
    );
  }
  assert.deepEqual(ran, []);
  const repeated = await cli(app, [
    "materialize",
    "--tag",
    "x=1",
    "--tag",
    "y=2",
    "--json",
    "--json",
    "a",
  ]);
  assertExit(repeated, EXIT.ok);
  assert.deepEqual(ran, ["a"]);
});

Deno.test("an option that is no name ('--=', '---x') gets no suggestion", async () => {
  // Before: '--=' was answered "did you mean '--to'?" (two edits from '=').
  const { app } = testApp([defineAsset({ key: "a", materialize: () => {} })]);
  for (const option of ["--=", "---x", "--=2"]) {
    const outcome = await cli(app, ["materialize", option]);
    assertExit(outcome, EXIT.usage);
    assert.match(outcome.stderr, /Unknown option '-/);
    assert.doesNotMatch(outcome.stderr, /did you mean/, option);
  }
  assert.match(
    (await cli(app, ["materialize", "--concurency=2"])).stderr,
    /did you mean '--concurrency'\?/,
  );
});
