/**
 * The real entry point. Help, usage errors, runs against a test graph
 * (PLATFORM_GRAPH) recorded in a SQLite run store, and bad settings go
 * through `runCli` in process with `createApp({ env })` (as Hono tests use
 * `app.request()`); only what needs a real process is spawned: Ctrl-C, a
 * second Ctrl-C, and a reader of stdout that goes away. Every path points
 * into a temp dir, so these tests never touch `.state/` or `data_lake/`.
 */

import assert from "node:assert/strict";
import { memoryIo } from "../core/cli/io.ts";
import { COALESCE_MS, runCli } from "../core/cli/mod.ts";
import { createApp } from "../main.ts";
import { openRunStore } from "../resources/run_store/open.ts";
import { SqliteRunStore } from "../resources/run_store/sqlite.ts";
import { type Sandbox, sandbox, spawnMain, until } from "./_helpers/main_process.ts";
import { startPostgres } from "./_helpers/postgres.ts";
import { needs } from "./_helpers/tools.ts";

/** Runs the CLI in process with `env` as the whole environment and no `.env` file. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const io = memoryIo();
  const code = await runCli(args, createApp({ env, dotenvPath: null }), io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

function assertCode(outcome: { code: number; stdout: string; stderr: string }, code: number) {
  assert.equal(
    outcome.code,
    code,
    `exit ${outcome.code}, expected ${code}\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`,
  );
}

const jsonLines = (text: string) => text.trimEnd().split("\n").map((line) => JSON.parse(line));

const TWO_ASSETS = `
export const graph = defineGraph({
  assets: [
    defineAsset({ key: "numbers", materialize: () => ({ rows: 3 }) }),
    defineAsset({ key: "total", deps: ["numbers"], materialize: (ctx) => ({
      sum: Number(ctx.upstream.numbers?.metadata.rows ?? 0) * 2,
    }) }),
  ],
});`;

Deno.test("main.ts: help and usage errors", async (t) => {
  const cases: [args: string[], code: number, stream: "stdout" | "stderr", pattern: RegExp][] = [
    [
      ["materialize", "--help"],
      0,
      "stdout",
      /^Usage: materialize \[SELECTION\] \[options\][^]*--concurrency N/,
    ],
    [
      ["--help"],
      0,
      "stdout",
      /\n {2}materialize\b[^]*\n {2}list\b[^]*\n {2}runs\b[^]*\n {2}show\b[^]*\n {2}doctor\b/,
    ],
    // The dbt line listed 12 of its 16 commands (no show, retry, clean, run-operation).
    [["--help"], 0, "stdout", /\n {2}dbt .*; dbt --help lists every command\n/],
    [[], 2, "stderr", /^Usage: deno task cli COMMAND/],
    [["bogus"], 2, "stderr", /Unknown command 'bogus'/],
    [
      ["materialize", "--concurency", "2"],
      2,
      "stderr",
      /Unknown option '--concurency'.*did you mean '--concurrency'/,
    ],
  ];
  for (const [args, code, stream, pattern] of cases) {
    await t.step(`${args.join(" ") || "(nothing)"} exits ${code}`, async () => {
      // --help and usage errors load neither the graph nor the configuration:
      // an environment that would fail both does not matter.
      const outcome = await cli(args, { PLATFORM_GRAPH: "nowhere.ts", RUNS_URL: "bogus" });
      assertCode(outcome, code);
      assert.match(outcome[stream], pattern);
      if (code === 0) assert.equal(outcome.stderr, "");
    });
  }
});

Deno.test("main.ts: a run of PLATFORM_GRAPH is recorded in RUNS_URL and seen by the next command", async () => {
  await using box = await sandbox();
  const env = { ...box.env, PLATFORM_GRAPH: await box.graph("two", TWO_ASSETS) };

  const run = await cli(["materialize"], env);
  assertCode(run, 0);
  // Not a terminal: JSON lines.
  const lines = jsonLines(run.stdout);
  const runId = lines[0]?.run_id;
  assert.equal(typeof runId, "string");
  const done = lines.filter((l) => l.step === "asset" && l.status === "success");
  assert.deepStrictEqual(done.map((l) => [l.asset, l.metadata]), [
    ["numbers", { rows: 3 }],
    ["total", { sum: 6 }],
  ]);

  const runs = await cli(["runs", "--json"], env);
  assertCode(runs, 0);
  const [recorded] = jsonLines(runs.stdout);
  assert.equal(recorded.run_id, runId);
  assert.equal(recorded.status, "success");

  const list = await cli(["list", "--json"], env);
  assertCode(list, 0);
  const total = jsonLines(list.stdout).find((a) => a.asset === "total");
  assert.equal(total?.last_materialization?.run_id, runId);

  // Nothing was written outside the sandbox's state dir.
  assert.deepStrictEqual(
    [...Deno.readDirSync(box.dir)].map((e) => e.name).sort(),
    ["state", "two.ts"],
  );
});

Deno.test("main.ts: failures and bad settings", async (t) => {
  await using box = await sandbox();
  const graphs = {
    two: await box.graph("two", TWO_ASSETS),
    failing: await box.graph(
      "failing",
      `export const graph = defineGraph({ assets: [
        defineAsset({ key: "loader", materialize: () => { throw new Error("file 'x.csv' is empty"); } }),
      ] });`,
    ),
    empty: await box.graph("empty", "export const nothing = 1;"),
  };
  const cases: {
    name: string;
    args: string[];
    env: Record<string, string>;
    code: number;
    stderr: RegExp[];
    hidden?: string;
  }[] = [
    {
      name: "a failing asset: exit 1, a short report on stderr",
      args: ["materialize"],
      env: { PLATFORM_GRAPH: graphs.failing },
      code: 1,
      stderr: [/✗ loader: Error: file 'x\.csv' is empty/, /Details: deno task cli show \S+/],
    },
    {
      name: "a bad setting of the platform: exit 2, naming it",
      args: ["materialize"],
      env: { PLATFORM_GRAPH: graphs.two, RUN_HEARTBEAT_INTERVAL_MS: "soon" },
      code: 2,
      stderr: [/error \[config\.invalid\]: .*RUN_HEARTBEAT_INTERVAL_MS/],
    },
    {
      name: "an exclusion of everything: says nothing is selected, exit 2",
      args: ["materialize", "--exclude", "numbers,total"],
      env: { PLATFORM_GRAPH: graphs.two },
      code: 2,
      stderr: [/The selection every asset minus 'numbers,total' selects no asset: nothing to run/],
    },
    {
      name: "a selection whose exclusion takes it all: exit 2",
      args: ["materialize", "total", "--exclude", "+total"],
      env: { PLATFORM_GRAPH: graphs.two },
      code: 2,
      stderr: [/The selection 'total' minus '\+total' selects no asset/],
    },
    {
      name: "an unknown asset: exit 2 with the nearest key",
      args: ["materialize", "totl"],
      env: { PLATFORM_GRAPH: graphs.two },
      code: 2,
      stderr: [/Unknown asset 'totl' \(did you mean 'total'\?\)/],
    },
    {
      name: "cancel of a run id that does not exist: exit 2, like show, pointing at runs",
      args: ["cancel", "nope"],
      env: { PLATFORM_GRAPH: graphs.two },
      code: 2,
      stderr: [/^error: No run or queued run has the id 'nope'; '.*runs' lists recent runs\n$/],
    },
    {
      name: "PLATFORM_GRAPH that does not exist: a configuration error, exit 2, named",
      args: ["list"],
      env: { PLATFORM_GRAPH: `${box.dir}/nowhere.ts` },
      code: 2,
      stderr: [/Cannot load PLATFORM_GRAPH '.*nowhere\.ts'/],
    },
    {
      // Before: the 5,000-character path came back four times (message and cause, each
      // quoting the module URL).
      name: "PLATFORM_GRAPH of 5,000 characters: exit 2, the path clipped",
      args: ["list"],
      env: { PLATFORM_GRAPH: "a".repeat(5000) },
      code: 2,
      stderr: [/Cannot load PLATFORM_GRAPH 'a{200}\.\.\. \(5000 characters\)'/, /^[\s\S]{0,3500}$/],
    },
    {
      name: "PLATFORM_GRAPH that exports no graph: exit 2, named",
      args: ["list"],
      env: { PLATFORM_GRAPH: graphs.empty },
      code: 2,
      stderr: [/PLATFORM_GRAPH '.*empty\.ts' does not export 'graph'/],
    },
    ...(["runs", "materialize", "show", "automation"] as const).map((command) => ({
      // Before: `runs` (and every command but materialize of graph.ts) exited 1 with SQLite's
      // "unable to open database file"; a place the platform cannot write is a setting: exit 2.
      name: `${command} with a STATE_DIR the run store cannot be made in: exit 2, names STATE_DIR`,
      args: command === "show" ? [command, "some-run"] : [command],
      env: {
        PLATFORM_GRAPH: graphs.two,
        STATE_DIR: `${box.dir}/a-file/state`,
        RUNS_URL: `sqlite:${box.dir}/a-file/state/runs.db`,
      },
      code: 2,
      stderr: [
        /error \[config\.not_writable\]: Cannot write to .*a-file\/state \(Not a directory\).*run state.*Set STATE_DIR to a writable folder/,
      ],
    })),
    {
      name: "a bad RUNS_URL: exit 2, names the variable, hides the password",
      args: ["runs"],
      env: { PLATFORM_GRAPH: graphs.two, RUNS_URL: "mysql://admin:hunter2@db:3306/runs" },
      code: 2,
      stderr: [/RUNS_URL/],
      hidden: "hunter2",
    },
  ];
  await Deno.writeTextFile(`${box.dir}/a-file`, "a file where a folder is needed\n");
  for (const c of cases) {
    await t.step(c.name, async () => {
      const outcome = await cli(c.args, { ...box.env, ...c.env });
      assertCode(outcome, c.code);
      for (const pattern of c.stderr) assert.match(outcome.stderr, pattern);
      if (c.hidden) {
        assert.ok(!`${outcome.stdout}${outcome.stderr}`.includes(c.hidden), outcome.stderr);
      }
    });
  }
});

Deno.test("main.ts: ui on a port another process holds: exit 2, names the address, no stack", async () => {
  await using box = await sandbox();
  const graph = await box.graph("two", TWO_ASSETS);
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = held.addr as Deno.NetAddr;
  const outcome = await cli(["ui", "--port", String(port)], { ...box.env, PLATFORM_GRAPH: graph });
  assertCode(outcome, 2);
  assert.match(
    outcome.stderr,
    new RegExp(
      `error \\[ui\\.address_in_use\\]: Cannot serve the UI on 127\\.0\\.0\\.1:${port}: ` +
        `another process listens there.*--port 0 picks a free one`,
    ),
  );
  assert.doesNotMatch(outcome.stderr, /AddrInUse|\bat \S+ \(|\[object Object\]/);
});

/** A graph whose one asset runs until its signal aborts, then writes `marker`. */
function slowGraph(box: Sandbox, marker: string): Promise<string> {
  return box.graph(
    "slow",
    `export const graph = defineGraph({ assets: [
      defineAsset({ key: "slow", materialize: (ctx) => new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 60_000);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          Deno.writeTextFileSync(${JSON.stringify(marker)}, "yes");
          reject(new Error("stopped"));
        });
      }) }),
      defineAsset({ key: "after", deps: ["slow"], materialize: () => ({}) }),
    ] });`,
  );
}

Deno.test("main.ts: SIGINT cancels the run cleanly: exit 130, recorded as canceled", async () => {
  await using box = await sandbox();
  const marker = `${box.dir}/cleanup_ran`;
  const env = { ...box.env, PLATFORM_GRAPH: await slowGraph(box, marker) };
  await using main = spawnMain(["materialize"], { cwd: box.dir, env });
  await main.waitFor(/"asset":"slow","partition":null,"step":"asset","status":"running"/);
  main.kill("SIGINT");
  const out = await main.finish();
  assert.equal(out.code, 130, `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
  assert.match(out.stderr, /Canceling: running assets are told to stop/);
  assert.match(out.stderr, /Run \S+ canceled/);
  assert.equal(await Deno.readTextFile(marker), "yes", "the asset saw the abort signal");
  assert.match(out.stdout, /"step":"run","status":"canceled"/);

  await using store = SqliteRunStore.open(box.runsDb);
  const [run] = await store.listRuns();
  assert.ok(run);
  assert.equal(run.status, "canceled");
  assert.notEqual(run.finishedAt, null);
  const steps = await store.listSteps(run.runId);
  assert.deepStrictEqual(steps.map((s) => [s.assetKey, s.status]), [
    ["slow", "canceled"],
    ["after", "canceled"],
  ]);
});

Deno.test("main.ts: SIGTERM cancels the run cleanly and exits 143 (128 + SIGTERM), as a shell reports it", async () => {
  await using box = await sandbox();
  const marker = `${box.dir}/cleanup_ran`;
  const env = { ...box.env, PLATFORM_GRAPH: await slowGraph(box, marker) };
  await using main = spawnMain(["materialize"], { cwd: box.dir, env });
  await main.waitFor(/"asset":"slow","partition":null,"step":"asset","status":"running"/);
  main.kill("SIGTERM");
  const out = await main.finish();
  assert.equal(out.signal, null, "handled, not killed by the signal");
  assert.equal(out.code, 143, `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
  assert.match(out.stderr, /Run \S+ canceled/);
  assert.equal(await Deno.readTextFile(marker), "yes", "the asset saw the abort signal");
  await using store = SqliteRunStore.open(box.runsDb);
  const [run] = await store.listRuns();
  assert.equal(run?.status, "canceled");
});

Deno.test("main.ts: a second SIGINT exits at once, even when an asset ignores the signal", async () => {
  await using box = await sandbox();
  const env = {
    ...box.env,
    PLATFORM_GRAPH: await box.graph(
      "stubborn",
      `export const graph = defineGraph({ assets: [
        defineAsset({ key: "stubborn", materialize: () => new Promise((resolve) => {
          setTimeout(resolve, 60_000);
        }) }),
      ] });`,
    ),
  };
  await using main = spawnMain(["materialize"], { cwd: box.dir, env });
  await main.waitFor(/"asset":"stubborn",.*"status":"running"/);
  const started = performance.now();
  main.kill("SIGINT");
  // The second Ctrl-C comes once the first was handled (its notice is on stderr
  // at once) and a moment later: signals a few milliseconds apart are one Ctrl-C
  // delivered again (by the terminal, `deno task` and the launcher).
  await main.waitFor(/Canceling: running assets are told to stop/, { stream: "stderr" });
  await new Promise((resolve) => setTimeout(resolve, COALESCE_MS + 200));
  main.kill("SIGINT");
  const out = await main.finish();
  assert.equal(out.code, 130, out.stderr);
  // The asset holds on for 60 s: ending well before that is not waiting for it, and
  // 45 s leaves a loaded CI machine its time to start the handlers and exit.
  assert.ok(performance.now() - started < 45_000, "exits without waiting for the asset");
});

Deno.test("main.ts: when the reader of stdout goes away, the run still finishes and is recorded", async () => {
  await using box = await sandbox();
  const env = {
    ...box.env,
    PLATFORM_GRAPH: await box.graph(
      "many",
      `export const graph = defineGraph({ assets: Array.from({ length: 20 }, (_, i) =>
        defineAsset({ key: \`a\${i}\`, materialize: async () => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return { i };
        } })) });`,
    ),
  };
  // Like `deno task materialize | head -1`.
  await using main = spawnMain(["materialize", "--concurrency", "1"], { cwd: box.dir, env });
  await main.waitFor(/"step":"run","status":"running"/);
  await main.closeStdout();
  const out = await main.finish();
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /standard output was closed; the command goes on/);
  await using store = SqliteRunStore.open(box.runsDb);
  const [run] = await store.listRuns();
  assert.equal(run?.status, "success");
  assert.equal((await store.listSteps(run.runId)).filter((s) => s.status === "success").length, 20);
});

/**
 * Starts `materialize` and kills it with SIGKILL once its running step is on
 * disk (steps are committed in batches, within 50 ms), as a crash would.
 */
async function killMaterializeWhileRunning(
  box: Sandbox,
  env: Record<string, string>,
): Promise<void> {
  const main = spawnMain(["materialize"], { cwd: box.dir, env });
  await main.waitFor(/"asset":"slow","partition":null,"step":"asset","status":"running"/);
  await until("the running step is committed", async () => {
    await using store = SqliteRunStore.open(box.runsDb);
    const [run] = await store.listRuns();
    return (await store.listSteps(run?.runId ?? "")).some((s) => s.status === "running");
  });
  main.kill("SIGKILL");
  assert.equal((await main.finish()).signal, "SIGKILL");
  await main[Symbol.asyncDispose]();
}

Deno.test("main.ts: a materialize killed with -9 is failed by the next CLI start; nothing stays running", async () => {
  await using box = await sandbox();
  const marker = `${box.dir}/cleanup_ran`;
  const env = {
    ...box.env,
    PLATFORM_GRAPH: await slowGraph(box, marker),
    RUN_HEARTBEAT_INTERVAL_MS: "100",
  };
  await killMaterializeWhileRunning(box, env);

  // The next CLI start, whatever the command, fails the run of the dead process.
  const runs = await cli(["runs", "--json"], env);
  assertCode(runs, 0);
  assert.match(runs.stderr, /warning: run \S+ failed: owner process died \(process .* is gone\)/);
  const [recorded] = jsonLines(runs.stdout);
  assert.equal(recorded.status, "failed");
  await using store = SqliteRunStore.open(box.runsDb);
  const [run] = await store.listRuns();
  assert.ok(run);
  assert.equal(run.status, "failed");
  assert.notEqual(run.finishedAt, null);
  assert.match(run.errorSummary ?? "", /^owner process died/);
  assert.deepStrictEqual((await store.listSteps(run.runId)).map((s) => [s.assetKey, s.status]), [
    ["slow", "failed"],
    ["after", "canceled"],
  ]);
  assert.deepEqual(await store.listRuns({ status: "running" }), []);
  // A second start finds nothing more to do.
  const again = await cli(["runs"], env);
  assert.doesNotMatch(again.stderr, /owner process died/);
});

Deno.test("main.ts: a UI left open alone fails a materialize killed with -9; it does not show running for ever", async () => {
  await using box = await sandbox();
  const env = {
    ...box.env,
    PLATFORM_GRAPH: await slowGraph(box, `${box.dir}/cleanup_ran`),
    RUN_HEARTBEAT_INTERVAL_MS: "100",
  };
  await using ui = spawnMain(["ui", "--port", "0"], { cwd: box.dir, env });
  await ui.waitFor(/UI_URL=/);
  await killMaterializeWhileRunning(box, env);
  // No other command starts: the UI alone must notice (reading the store here reaps nothing).
  await until("the UI failed the run of the dead process", async () => {
    await using store = SqliteRunStore.open(box.runsDb);
    const [run] = await store.listRuns();
    return run?.status === "failed";
  }, { timeoutMs: 60_000, pollMs: 100 });
  await using store = SqliteRunStore.open(box.runsDb);
  const [run] = await store.listRuns();
  assert.match(run?.errorSummary ?? "", /owner process died/);
  assert.deepEqual(await store.listRuns({ status: "running" }), []);
});

Deno.test("main.ts: a run whose owner stopped heartbeating elsewhere is failed once its lease lapsed", async () => {
  await using box = await sandbox();
  const env = { ...box.env, PLATFORM_GRAPH: await box.graph("two", TWO_ASSETS) };
  // A run owned by a process on another machine, last heard of long ago.
  {
    await using store = SqliteRunStore.open(box.runsDb);
    await store.createRun({
      runId: "remote-1",
      status: "running",
      selection: "",
      partitions: null,
      tags: {},
      startedAt: Date.now() - 120_000,
      finishedAt: null,
      errorSummary: null,
      owner: { instanceId: "elsewhere", host: "another-machine", pid: 1 },
      heartbeatAt: Date.now() - 60_000,
      heartbeatTimeoutMs: 40_000,
    });
    await store.createRun({
      runId: "remote-2",
      status: "running",
      selection: "",
      partitions: null,
      tags: {},
      startedAt: Date.now(),
      finishedAt: null,
      errorSummary: null,
      owner: { instanceId: "elsewhere-2", host: "another-machine", pid: 2 },
      heartbeatTimeoutMs: 600_000,
    });
  }
  const outcome = await cli(["materialize"], env);
  assertCode(outcome, 0);
  assert.match(
    outcome.stderr,
    /run remote-1 failed: owner process died \(no heartbeat from another-machine pid 1 since/,
  );
  await using store = SqliteRunStore.open(box.runsDb);
  assert.equal((await store.getRun("remote-1"))?.status, "failed");
  assert.equal((await store.getRun("remote-2"))?.status, "running", "its lease still runs");
});

// The cancel the UI and the `cancel` command use: `RunStore.requestCancel` from
// another process, seen by the run's owner at its next heartbeat.
for (const backend of ["sqlite", "postgres"] as const) {
  Deno.test({
    name: `main.ts: a run canceled from another process (${backend} run store) stops within ` +
      "a heartbeat: steps canceled, cleanup ran, exit 130",
    ignore: backend === "postgres" ? await needs("postgres") : false,
    async fn() {
      await using box = await sandbox();
      await using pg = backend === "postgres" ? await startPostgres() : undefined;
      const marker = `${box.dir}/cleanup_ran`;
      const intervalMs = 1_000;
      const runsUrl = pg ? pg.url : `sqlite:${box.runsDb}`;
      const env = {
        ...box.env,
        RUNS_URL: runsUrl,
        PLATFORM_GRAPH: await slowGraph(box, marker),
        RUN_HEARTBEAT_INTERVAL_MS: String(intervalMs),
      };
      await using main = spawnMain(["materialize"], { cwd: box.dir, env });
      const seen = await main.waitFor(
        /"asset":"slow","partition":null,"step":"asset","status":"running"/,
      );
      const runId = jsonLines(seen)[0]?.run_id;
      await using store = await openRunStore(runsUrl);
      assert.equal(typeof runId, "string");
      // The run is recorded at start (not buffered), so another process sees it at once.
      assert.equal((await store.getRun(runId))?.status, "running");
      const requestedAt = Date.now();
      assert.equal(
        await store.requestCancel(runId, { time: requestedAt, reason: "canceled by the test" }),
        true,
      );
      const out = await main.finish();
      assert.equal(out.code, 130, `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
      assert.match(
        out.stderr,
        /^Run \S+ canceled: cancel requested: canceled by the test; 2 of 2 steps canceled$/m,
      );
      assert.match(out.stdout, /"message":"Run canceled: cancel requested: canceled by the test"/);
      assert.match(out.stdout, /"step":"run","status":"canceled"/);
      assert.equal(await Deno.readTextFile(marker), "yes", "the asset saw the abort signal");

      const run = await store.getRun(runId);
      assert.ok(run);
      assert.equal(run.status, "canceled");
      assert.equal(run.cancelRequestedAt, requestedAt);
      assert.equal(run.cancelReason, "canceled by the test");
      assert.match(run.errorSummary ?? "", /^canceled: cancel requested: canceled by the test/);
      // Seen at the owner's next heartbeat: within one interval, plus slack for a loaded CI
      // machine (the owner's heartbeat and its graceful cancel share 2 cores with the suite),
      // while the asset alone would have run 60 s.
      const tookMs = (run.finishedAt ?? Number.POSITIVE_INFINITY) - requestedAt;
      assert.ok(tookMs <= intervalMs + 20_000, `the run ended ${tookMs} ms after the request`);
      assert.deepStrictEqual((await store.listSteps(runId)).map((s) => [s.assetKey, s.status]), [
        ["slow", "canceled"],
        ["after", "canceled"],
      ]);
      // A second request finds no running run.
      assert.equal(await store.requestCancel(runId, { time: Date.now(), reason: "again" }), false);
    },
  });
}
