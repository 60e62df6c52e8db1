import assert from "node:assert/strict";
import { assetFactory, checkFactory, defineAsset } from "../../../core/asset.ts";
import { parseMaterializeArgs, UsageError } from "../../../core/cli/mod.ts";
import { dailyPartitions, staticPartitions } from "../../../core/partitions.ts";
import { catchError, deferred } from "../_helpers.ts";
import { macrotask } from "../_executor.ts";
import { assertExit, cli, EXIT, jsonLines, testApp } from "./_app.ts";

type Resources = Record<string, unknown>;
const asset = assetFactory<Resources>();
const check = checkFactory<Resources>();

/** raw -> clean -> report, plus an independent `side` asset in group "other". */
function pipeline(ran: string[] = []) {
  const track = (key: string, deps: string[] = [], group = "main", tags: string[] = []) =>
    defineAsset({ key, deps, group, tags, materialize: () => void ran.push(key) });
  return [
    track("raw", [], "main", ["nightly"]),
    track("clean", ["raw"]),
    track("report", ["clean"]),
    track("side", [], "other"),
  ];
}

/** Asset keys of the `success` lines, in the order they were printed. */
function succeeded(stdout: string): string[] {
  return jsonLines(stdout).filter((l) => l.step === "asset" && l.status === "success").map((l) =>
    l.partition === null ? String(l.asset) : `${l.asset}[${l.partition}]`
  );
}

Deno.test("materialize: exit 0 when every asset succeeds; the store is closed", async (t) => {
  await t.step("all assets by default", async () => {
    const ran: string[] = [];
    const { app, store, opened } = testApp(pipeline(ran));
    const outcome = await cli(app, ["materialize"]);
    assertExit(outcome, EXIT.ok);
    assert.deepStrictEqual(ran.toSorted(), ["clean", "raw", "report", "side"]);
    assert.equal(outcome.stderr, "");
    const [run] = await store.listRuns();
    assert.equal(run?.status, "success");
    assert.deepStrictEqual(opened, { count: 1, closed: 1 });
  });

  await t.step("a selection runs only what it names", async () => {
    const cases: [string[], string[]][] = [
      [["clean"], ["clean"]],
      [["+report"], ["clean", "raw", "report"]],
      [["raw+"], ["clean", "raw", "report"]],
      [["group:other"], ["side"]],
      [["tag:nightly"], ["raw"]],
      [["raw,side"], ["raw", "side"]],
      [["raw", "side"], ["raw", "side"]],
      [["+report", "--exclude", "clean"], ["raw", "report"]],
      [["--exclude", "group:main"], ["side"]],
    ];
    for (const [args, expected] of cases) {
      const ran: string[] = [];
      const { app } = testApp(pipeline(ran));
      const outcome = await cli(app, ["materialize", ...args]);
      assertExit(outcome, EXIT.ok);
      assert.deepStrictEqual(ran.toSorted(), expected, args.join(" "));
    }
  });

  await t.step("--help prints the usage and runs nothing", async () => {
    const ran: string[] = [];
    const { app, store } = testApp(pipeline(ran));
    for (const flag of ["--help", "-h"]) {
      const outcome = await cli(app, ["materialize", flag]);
      assertExit(outcome, EXIT.ok);
      assert.match(outcome.stdout, /^Usage: materialize \[SELECTION\]/);
      assert.match(outcome.stdout, /--exclude SELECTION/);
      assert.match(outcome.stdout, /--from KEY --to KEY/);
    }
    assert.deepStrictEqual(ran, []);
    assert.deepStrictEqual(await store.listRuns(), []);
  });
});

Deno.test("materialize: exit 1 on any failure, with a short report on stderr", async (t) => {
  await t.step("a failing asset is named with its message; downstream is skipped", async () => {
    const ran: string[] = [];
    const assets = [
      ...pipeline(ran).filter((a) => a.key !== "clean"),
      defineAsset({
        key: "clean",
        deps: ["raw"],
        materialize: () => {
          throw new Error("column 'temp' is missing");
        },
      }),
    ];
    const { app, store } = testApp(assets);
    const outcome = await cli(app, ["materialize"]);
    assertExit(outcome, EXIT.failed);
    assert.deepStrictEqual(ran.toSorted(), ["raw", "side"], "independent branches still run");
    const [run] = await store.listRuns();
    assert.ok(run);
    assert.equal(run.status, "failed");
    const lines = outcome.stderr.trimEnd().split("\n");
    assert.ok(lines.length <= 5, `the report stays short:\n${outcome.stderr}`);
    assert.match(lines[0] ?? "", new RegExp(`^Run ${run.runId} failed: 1 failed: clean`));
    assert.ok(
      lines.includes("  ✗ clean: Error: column 'temp' is missing"),
      outcome.stderr,
    );
    assert.equal(lines.at(-1), `Details: platform show ${run.runId}`);
    assert.doesNotMatch(outcome.stderr, /\n\s+at /, "no stack trace in the short report");
  });

  await t.step("the cause of a wrapped error is shown", async () => {
    const { app } = testApp([
      defineAsset({
        key: "fetch",
        materialize: () => {
          throw new Error("cannot fetch weather", { cause: new Error("ECONNREFUSED") });
        },
      }),
    ]);
    const outcome = await cli(app, ["materialize"]);
    assertExit(outcome, EXIT.failed);
    assert.match(
      outcome.stderr,
      /✗ fetch: Error: cannot fetch weather\n\s+caused by: ECONNREFUSED/,
    );
  });

  await t.step("a failing error-severity check fails the run; a warning does not", async () => {
    const rows = asset({
      key: "rows",
      materialize: () => ({ rows: 0 }),
      checks: [{ name: "not_empty", run: (ctx) => Number(ctx.materialization.metadata.rows) > 0 }],
    });
    const { app } = testApp([rows]);
    const failed = await cli(app, ["materialize"]);
    assertExit(failed, EXIT.failed);
    assert.match(failed.stderr, /✗ check 'not_empty' on rows/);

    const warned = testApp([defineAsset({ key: "rows", materialize: () => ({ rows: 0 }) })], {
      checks: [check({ asset: "rows", name: "few", severity: "warn", run: () => false })],
    });
    const outcome = await cli(warned.app, ["materialize"]);
    assertExit(outcome, EXIT.ok);
    assert.equal(outcome.stderr, "");
  });
});

Deno.test("materialize: exit 2 on a usage error, saying which and what to type", async (t) => {
  const ran: string[] = [];
  const { app, store } = testApp([
    ...pipeline(ran),
    defineAsset({ key: "daily", partitions: dailyPartitions("2024-01-01"), materialize: () => {} }),
    defineAsset({
      key: "regions",
      partitions: staticPartitions(["eu", "us"]),
      materialize: () => {},
    }),
  ]);
  const usage = async (args: string[], ...patterns: RegExp[]) => {
    const outcome = await cli(app, ["materialize", ...args]);
    assertExit(outcome, EXIT.usage);
    assert.equal(outcome.stdout, "", args.join(" "));
    assert.match(outcome.stderr, /^error: /);
    assert.equal(outcome.stderr.trimEnd().split("\n").length, 1, "one line, no stack");
    for (const pattern of patterns) assert.match(outcome.stderr, pattern, args.join(" "));
  };

  await t.step("unknown asset: named, with the nearest key", async () => {
    await usage(["claen"], /Unknown asset 'claen'/, /did you mean 'clean'\?/);
    await usage(["+reprot"], /Unknown asset 'reprot'/, /did you mean 'report'\?/);
    await usage(["raw,sied"], /'sied'/, /did you mean 'side'\?/);
    await usage(["--exclude", "rwa"], /Unknown asset 'rwa'/, /did you mean 'raw'\?/);
    await usage(["zzzzzzzzzz"], /Unknown asset 'zzzzzzzzzz'/);
  });

  await t.step(
    "control characters in a selection or a partition are escaped, not printed",
    async () => {
      // deno-lint-ignore no-control-regex
      const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/;
      for (
        const [args, shown] of [
          [["cl\x1b[31mean"], /'cl\\u001b\[31mean'/],
          [["group:\x07bell"], /'group:\\u0007bell'/],
          [["regions", "--partition", "e\nu"], /Partition 'e\\nu' does not exist/],
          [["regions", "--partition", "\u202eue"], /Partition '\\u202eue' does not exist/],
          [["daily", "--from", "2024-01-02\r"], /'2024-01-02\\r'/],
        ] as const
      ) {
        await usage([...args], shown);
        const outcome = await cli(app, ["materialize", ...args]);
        assert.doesNotMatch(outcome.stderr, raw, JSON.stringify(args));
      }
    },
  );

  await t.step("unknown group or tag", async () => {
    await usage(["group:mian"], /No asset has group 'mian'/, /did you mean 'main'\?/);
    await usage(["tag:nightyl"], /No asset has tag 'nightyl'/, /did you mean 'nightly'\?/);
  });

  await t.step("bad selection syntax", async () => {
    await usage(["raw,,clean"], /empty term/);
    await usage(["group:"], /needs a name after 'group:'/);
    await usage(["raw$"], /'raw\$' is not a key/);
    await usage(["no/match/*"], /No asset matches 'no\/match\/\*'/);
  });

  await t.step("unknown flag, with the nearest option", async () => {
    await usage(["--bogus"], /Unknown option '--bogus' for materialize/, /materialize --help/);
    await usage(["--exlude", "raw"], /did you mean '--exclude'\?/);
    await usage(["-x"], /Unknown option '-x'/);
  });

  await t.step("a flag without its value", async () => {
    await usage(["--exclude"], /--exclude/);
    await usage(["--partition"], /--partition/);
  });

  await t.step("bad --concurrency", async () => {
    for (const value of ["0", "abc", "1.5", ""]) {
      await usage(["--concurrency", value], new RegExp(`--concurrency must be .*'${value}'`));
    }
    await usage(["--concurrency=-1"], /--concurrency must be a whole number >= 1, got '-1'/);
    // Node's parser reads `-1` as an option; the message says how to pass it.
    await usage(["--concurrency", "-1"], /--concurrency needs a value; write --concurrency=VALUE/);
  });

  await t.step("bad --tag", async () => {
    await usage(["--tag", "novalue"], /--tag must be KEY=VALUE, got 'novalue'/);
    await usage(["--tag", "=x"], /--tag must be KEY=VALUE/);
  });

  await t.step("bad --partition and --from/--to", async () => {
    await usage(
      ["regions", "--partition", "asia"],
      /Asset 'regions'/,
      /Partition 'asia'/,
      /eu .. us/,
    );
    await usage(["daily", "--partition", "2024-02-30"], /Partition '2024-02-30' does not exist/);
    await usage(["daily", "--from", "2023-12-31", "--to", "2024-01-02"], /'2023-12-31'/);
    await usage(["daily", "--from", "2024-01-05", "--to", "2024-01-02"], /comes after --to/);
    await usage(["daily", "--partition", "2024-01-01", "--from", "2024-01-01"], /not both/);
  });

  await t.step(
    "an empty value (an unset shell variable) is refused, never 'everything'",
    async () => {
      // `materialize "$ASSET"` with ASSET unset ran every asset; `--partition "$DAY"` with DAY
      // unset ran the latest partition.
      await usage([""], /selection '' names no asset/);
      await usage([",,"], /selection ',,' names no asset/);
      await usage(["daily", "--partition", ""], /--partition '' names no partition key/);
      await usage(["daily", "--partition", "2024-01-01,"], /--partition '2024-01-01,'/);
      await usage(["daily", "--from", "", "--to", "2024-01-02"], /--from needs a partition key/);
      await usage(["daily", "--from", "2024-01-01", "--to", " "], /--to needs a partition key/);
      await usage(["--exclude", ""], /--exclude '' names no asset/);
    },
  );

  await t.step("nothing ran and nothing was recorded", async () => {
    assert.deepStrictEqual(ran, []);
    assert.deepStrictEqual(await store.listRuns(), []);
  });
});

Deno.test("materialize: --concurrency bounds the steps running at once", async () => {
  let running = 0;
  let peak = 0;
  const wide = Array.from({ length: 6 }, (_, i) =>
    defineAsset({
      key: `a${i}`,
      materialize: async () => {
        peak = Math.max(peak, ++running);
        // Give the executor turns to start more steps while this one runs.
        for (let turn = 0; turn < 5; turn++) await macrotask();
        running--;
      },
    }));
  const { app } = testApp(wide);
  assertExit(await cli(app, ["materialize", "--concurrency", "2"]), EXIT.ok);
  assert.equal(peak, 2);
  peak = 0;
  assertExit(await cli(app, ["materialize", "--concurrency", "1"]), EXIT.ok);
  assert.equal(peak, 1);
});

Deno.test("materialize: --partition and --from/--to", async (t) => {
  const seen: string[] = [];
  const release = deferred();
  const { app, store } = testApp([
    defineAsset({
      key: "daily",
      partitions: dailyPartitions("2024-01-01"),
      dependsOnPast: true,
      materialize: async (ctx) => {
        // The first partition is the slowest; order must still hold.
        if (ctx.partitionKey === "2024-01-01") await release.promise;
        seen.push(`daily[${ctx.partitionKey}]`);
      },
    }),
    defineAsset({
      key: "regions",
      partitions: staticPartitions(["eu", "us", "asia"]),
      materialize: (ctx) => void seen.push(`regions[${ctx.partitionKey}]`),
    }),
  ]);

  await t.step("a backfill of an asset that depends on its past runs in order", async () => {
    // The slow first partition ends only after the executor had many turns to start others.
    void (async () => {
      for (let turn = 0; turn < 20; turn++) await macrotask();
      release.resolve();
    })();
    const outcome = await cli(app, [
      "materialize",
      "daily",
      "--from",
      "2024-01-01",
      "--to",
      "2024-01-05",
      "--concurrency",
      "4",
      "--json",
    ]);
    assertExit(outcome, EXIT.ok);
    const expected = ["01", "02", "03", "04", "05"].map((d) => `daily[2024-01-${d}]`);
    assert.deepStrictEqual(seen, expected);
    assert.deepStrictEqual(succeeded(outcome.stdout), expected);
    const [run] = await store.listRuns({ limit: 1 });
    assert.equal(run?.partitions, "2024-01-01..2024-01-05");
  });

  await t.step(
    "--partition takes repeats and commas, runs each once, in partition order",
    async () => {
      seen.length = 0;
      const outcome = await cli(app, [
        "materialize",
        "regions",
        "--partition",
        "asia,eu",
        "--partition",
        "eu",
        "--json",
      ]);
      assertExit(outcome, EXIT.ok);
      assert.deepStrictEqual(seen, ["regions[eu]", "regions[asia]"]);
    },
  );

  await t.step("--from alone runs to the last partition", async () => {
    seen.length = 0;
    assertExit(await cli(app, ["materialize", "regions", "--from", "us"]), EXIT.ok);
    assert.deepStrictEqual(seen, ["regions[us]", "regions[asia]"]);
  });
});

Deno.test("parseMaterializeArgs: what reaches the executor", async (t) => {
  await t.step("defaults", () => {
    assert.deepStrictEqual(parseMaterializeArgs([]), {
      selection: "",
      exclude: "",
      partitions: {},
      concurrency: undefined,
      tags: {},
      json: false,
      stale: false,
      queue: false,
      priority: undefined,
      maxRetries: undefined,
    });
  });

  await t.step("every option", () => {
    assert.deepStrictEqual(
      parseMaterializeArgs([
        "+a",
        "b+",
        "--exclude=c",
        "--partition",
        " p1 , p2 ",
        "--concurrency",
        "3",
        "--tag",
        "who=me",
        "--tag",
        "expr=a=b",
        "--json",
      ]),
      {
        selection: "+a,b+",
        exclude: "c",
        partitions: { keys: ["p1", "p2"] },
        concurrency: 3,
        tags: { who: "me", expr: "a=b" },
        json: true,
        stale: false,
        queue: false,
        priority: undefined,
        maxRetries: undefined,
      },
    );
  });

  await t.step("a range", () => {
    const parsed = parseMaterializeArgs(["--from", "2024-01-01", "--to", "2024-01-03"]);
    assert.notEqual(parsed, "help");
    if (parsed !== "help") {
      assert.deepStrictEqual(parsed.partitions, { from: "2024-01-01", to: "2024-01-03" });
    }
  });

  await t.step("usage errors are UsageError", () => {
    const error = catchError(() => parseMaterializeArgs(["--concurrency", "abc"]), UsageError);
    assert.equal(error.code, "cli.usage");
  });

  await t.step("--queue takes --priority and --max-retries; they need it", () => {
    const parsed = parseMaterializeArgs(["a", "--queue", "--priority", "5", "--max-retries", "2"]);
    assert.notEqual(parsed, "help");
    if (parsed !== "help") {
      assert.deepStrictEqual([parsed.queue, parsed.priority, parsed.maxRetries], [true, "5", "2"]);
    }
    const alone = catchError(() => parseMaterializeArgs(["a", "--priority", "5"]), UsageError);
    assert.match(alone.message, /apply to queued runs: add --queue/);
    const steps = catchError(
      () => parseMaterializeArgs(["a", "--queue", "--concurrency", "2"]),
      UsageError,
    );
    assert.match(steps.message, /--step-concurrency decides/);
  });
});

Deno.test("materialize: the run's tags are recorded", async () => {
  const { app, store } = testApp(pipeline());
  assertExit(await cli(app, ["materialize", "raw", "--tag", "who=ci", "--tag", "ticket=42"]), 0);
  const [run] = await store.listRuns();
  assert.deepStrictEqual(run?.tags, { who: "ci", ticket: "42" });
  assert.equal(run?.selection, "raw");
});

Deno.test("materialize: the app's run notes follow the run (stderr in JSON mode, stdout on a terminal)", async () => {
  const assets = [defineAsset({ key: "seed", materialize: () => ({ sample_data: "demo rows" }) })];
  const { app } = testApp(assets);
  const seen: string[][] = [];
  const noted = {
    ...app,
    runNotes: (result: { steps: readonly { assetKey: string }[] }) => {
      seen.push(result.steps.map((s) => s.assetKey));
      return ["Sample inputs: seed"];
    },
  };
  const json = await cli(noted, ["materialize"]);
  assertExit(json, EXIT.ok);
  assert.equal(json.stderr, "Sample inputs: seed\n");
  assert.doesNotMatch(json.stdout, /Sample inputs/, "stdout stays JSON lines");
  const terminal = await cli(noted, ["materialize"], { isTerminal: true });
  assertExit(terminal, EXIT.ok);
  assert.match(terminal.stdout, /Sample inputs: seed\n$/);
  assert.deepEqual(seen, [["seed"], ["seed"]]);
  // No notes, no line.
  const plain = await cli(app, ["materialize"]);
  assert.equal(plain.stderr, "");
});
