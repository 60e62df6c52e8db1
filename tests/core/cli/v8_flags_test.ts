/**
 * `dbt parse` and `dbt ls` start with a large old generation (no full
 * collection of a project that stays live to the end; core/cli/v8_flags.ts),
 * through the launcher as `deno task dbt parse` runs them; every other
 * command, `dbt build` among them (its PGlite peak memory is a goal), keeps
 * the commands' default V8 flags.
 */

import assert from "node:assert/strict";
import {
  commandV8Flags,
  DBT_LOAD_V8_FLAGS,
  V8_FLAGS,
  v8FlagsOption,
} from "../../../core/cli/v8_flags.ts";
import { launchCommand } from "../../../launch.ts";

const ENV = { get: (_name: string) => undefined, toObject: () => ({}) };

Deno.test("v8 flags: dbt parse / ls / list load with a large old generation, other commands do not", () => {
  const load = v8FlagsOption([...V8_FLAGS, ...DBT_LOAD_V8_FLAGS]);
  assert.match(load, /--initial-old-space-size=\d+/);
  for (
    const args of [["dbt", "parse"], ["dbt", "ls", "-s", "m"], ["dbt", "list"], [
      "dbt",
      "parse",
      "--project-dir",
      "p",
    ]]
  ) {
    assert.equal(v8FlagsOption(commandV8Flags(args)), load, args.join(" "));
    const argv = launchCommand(args, { env: ENV, dotenvPath: null });
    assert.ok(
      argv.includes(load),
      `deno task ${args.join(" ")} runs without them: ${argv.join(" ")}`,
    );
  }
  for (
    const args of [["dbt", "build"], ["dbt", "run", "-s", "parse"], ["materialize"], ["dbt"], []]
  ) {
    assert.equal(v8FlagsOption(commandV8Flags(args)), v8FlagsOption(), args.join(" "));
    const argv = launchCommand(args, { env: ENV, dotenvPath: null });
    assert.ok(argv.includes(v8FlagsOption()), `${args.join(" ")}: ${argv.join(" ")}`);
    assert.ok(
      !argv.some((a) => a.includes("initial-old-space")),
      `${args.join(" ")}: ${argv.join(" ")}`,
    );
  }
});
