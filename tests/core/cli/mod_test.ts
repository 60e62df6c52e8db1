import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { type CliApp, type CliCommand, UsageError } from "../../../core/cli/mod.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { ConfigError, ResourceError } from "../../../core/errors.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { assertExit, cli, EXIT, testApp } from "./_app.ts";

Deno.test("runCli: help and unknown commands", async (t) => {
  const { app } = testApp([defineAsset({ key: "a", materialize: () => {} })]);

  await t.step("--help, -h and help print the commands and exit 0", async () => {
    for (const flag of ["--help", "-h", "help"]) {
      const outcome = await cli(app, [flag]);
      assertExit(outcome, EXIT.ok);
      assert.match(outcome.stdout, /^Usage: platform COMMAND \[options\]/);
      for (const command of ["materialize", "list", "runs", "show RUN_ID"]) {
        assert.ok(outcome.stdout.includes(`\n  ${command} `), command);
      }
    }
  });

  await t.step("no command prints the usage on stderr and exits 2", async () => {
    // Before: on stdout, so `deno task cli > out` hid why it exited 2.
    const outcome = await cli(app, []);
    assertExit(outcome, EXIT.usage);
    assert.match(outcome.stderr, /^Usage: platform COMMAND/);
    assert.equal(outcome.stdout, "");
  });

  await t.step("an unknown command exits 2 and says where the list is", async () => {
    const outcome = await cli(app, ["bogus"]);
    assertExit(outcome, EXIT.usage);
    assert.equal(outcome.stdout, "");
    assert.equal(
      outcome.stderr,
      "error: Unknown command 'bogus'; 'platform --help' lists the commands\n",
    );
  });
});

Deno.test("runCli: commands a project adds", async (t) => {
  const calls: string[][] = [];
  const hello: CliCommand = {
    summary: "say hello",
    run: (args, io) => {
      calls.push([...args]);
      if (args[0] === "--bad") throw new UsageError("hello takes no --bad");
      io.out("hello\n");
      return Promise.resolve(args[0] === "--fail" ? EXIT.failed : EXIT.ok);
    },
  };
  const { app: base } = testApp([defineAsset({ key: "a", materialize: () => {} })]);
  const app = { ...base, commands: { hello } };

  await t.step("listed in --help, aligned with the built-in commands", async () => {
    const { stdout } = await cli(app, ["--help"]);
    const lines = stdout.split("\n");
    const list = lines.find((l) => l.startsWith("  list "));
    const mine = lines.find((l) => l.startsWith("  hello "));
    assert.ok(list && mine, stdout);
    assert.equal(mine.indexOf("say hello"), list.indexOf("assets, their deps"), stdout);
  });

  await t.step("run with the rest of the arguments; their exit code is returned", async () => {
    assertExit(await cli(app, ["hello", "x", "--y"]), EXIT.ok);
    assertExit(await cli(app, ["hello", "--fail"]), EXIT.failed);
    assert.deepStrictEqual(calls.slice(0, 2), [["x", "--y"], ["--fail"]]);
  });

  await t.step("their usage errors exit 2", async () => {
    const outcome = await cli(app, ["hello", "--bad"]);
    assertExit(outcome, EXIT.usage);
    assert.equal(outcome.stderr, "error: hello takes no --bad\n");
  });
});

Deno.test("runCli: errors outside a run never escape as exceptions", async (t) => {
  const store = new MemoryRunStore();
  const app = (loadGraph: CliApp<Record<string, unknown>>["loadGraph"]) => ({
    name: "platform",
    loadGraph,
    openRunStore: () => Promise.resolve(store),
  });

  await t.step("a broken graph: exit 1, the code and the message, no stack", async () => {
    const broken = app(() => {
      return Promise.resolve(defineGraph({
        assets: [defineAsset({ key: "a", deps: ["missing"], materialize: () => {} })],
      }));
    });
    const outcome = await cli(broken, ["materialize"]);
    assertExit(outcome, EXIT.failed);
    assert.match(
      outcome.stderr,
      /^error \[graph\.[a-z_]+\]: Cannot load the asset graph: .*'missing'/,
    );
    assert.doesNotMatch(outcome.stderr, /\n\s+at /);
  });

  await t.step("a configuration error: exit 2, names the variable and its cause", async () => {
    const misconfigured = app(() =>
      Promise.reject(
        new ConfigError("config.invalid", "RUNS_URL must start with 'sqlite:'", {
          cause: new Error("got 'mysql:'"),
        }),
      )
    );
    const outcome = await cli(misconfigured, ["list"]);
    assertExit(outcome, EXIT.usage);
    assert.equal(
      outcome.stderr,
      "error [config.invalid]: RUNS_URL must start with 'sqlite:'\n  caused by: got 'mysql:'\n",
    );
  });

  await t.step("an unexpected error: exit 1 with its stack, for a bug report", async () => {
    const buggy = app(() => Promise.reject(new TypeError("x is not a function")));
    const outcome = await cli(buggy, ["list"]);
    assertExit(outcome, EXIT.failed);
    assert.match(outcome.stderr, /^error: TypeError: x is not a function\n\s+at /);
  });

  await t.step(
    "a store that fails, then fails again as it closes: both named, no SuppressedError",
    async () => {
      // What a full disk does to the SQLite run store: the run's end cannot be recorded, and the
      // close (a WAL checkpoint) fails too. `await using` wraps the two in a SuppressedError.
      const full = () => new ResourceError("run_store.unavailable", "database or disk is full");
      const inner = new MemoryRunStore();
      const store = new Proxy(inner, {
        get(target, property) {
          if (property === Symbol.asyncDispose) {
            return () => Promise.reject(new Error("disk I/O error while closing"));
          }
          if (property === "updateRun") return () => Promise.reject(full());
          const value: unknown = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const outcome = await cli({
        name: "platform",
        loadGraph: () =>
          Promise.resolve(defineGraph({
            assets: [defineAsset({ key: "a", materialize: () => {} })],
          })),
        openRunStore: () => Promise.resolve(store),
      }, ["materialize", "--json"]);
      assertExit(outcome, EXIT.failed);
      assert.match(
        outcome.stderr,
        /^error \[run_store\.unavailable\]: Run '[0-9a-f-]{36}' success, and its end cannot be recorded: database or disk is full\n/m,
      );
      assert.match(outcome.stderr, /then, closing: disk I\/O error while closing/);
      assert.doesNotMatch(outcome.stderr, /SuppressedError|\[object Object\]/);
    },
  );

  await t.step("a thrown non-Error is printed as what it is, never [object Object]", async () => {
    const odd = app(() => Promise.reject({ name: "ErrnoError", errno: 28 }));
    const outcome = await cli(odd, ["list"]);
    assertExit(outcome, EXIT.failed);
    assert.match(outcome.stderr, /ErrnoError.*28/);
    assert.doesNotMatch(outcome.stderr, /\[object Object\]/);
  });

  await t.step("the run store is closed even when the command fails", async () => {
    const { app: failing, opened } = testApp([
      defineAsset({
        key: "a",
        materialize: () => {
          throw new Error("no");
        },
      }),
    ]);
    assertExit(await cli(failing, ["materialize"]), EXIT.failed);
    assertExit(await cli(failing, ["materialize", "zzz"]), EXIT.usage);
    assertExit(await cli(failing, ["show", "nope"]), EXIT.usage);
    assert.equal(opened.closed, opened.count);
  });
});
