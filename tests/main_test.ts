/**
 * The real entry point, run as a subprocess: help, usage errors, a run against
 * a test graph (PLATFORM_GRAPH) recorded in a SQLite run store in a temp dir,
 * and Ctrl-C. Every path the process may write to points into a temp dir, so
 * these tests never touch the repository's `.state/` or `data_lake/`.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { SqliteRunStore } from "../resources/run_store/mod.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const CORE = new URL("../core/mod.ts", import.meta.url).href;

/** A temp dir holding the test graphs and every state path of the child. */
async function sandbox() {
  const dir = await Deno.makeTempDir({ prefix: "main_test_" });
  const env = {
    RUNS_URL: `sqlite:${dir}/state/runs.db`,
    STATE_DIR: `${dir}/state`,
    LAKE_URL: `file://${dir}/data_lake`,
    LEDGER_URL: `sqlite:${dir}/state/ledger.db`,
    WAREHOUSE_URL: `pglite:${dir}/state/warehouse`,
    NO_COLOR: "1",
  };
  return {
    dir,
    env,
    runsDb: `${dir}/state/runs.db`,
    /** Writes a graph module and returns its path. */
    async graph(name: string, body: string): Promise<string> {
      const path = `${dir}/${name}.ts`;
      await Deno.writeTextFile(
        path,
        `import { defineAsset, defineGraph } from "${CORE}";\n${body}\n`,
      );
      return path;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs main.ts to completion. `cwd` defaults to the sandbox so no `.env` of the repo is read. */
async function runMain(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, MAIN, ...args],
    cwd: options.cwd,
    env: options.env ?? {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

function assertCode(outcome: { code: number; stdout: string; stderr: string }, code: number) {
  assert.equal(
    outcome.code,
    code,
    `exit ${outcome.code}, expected ${code}\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`,
  );
}

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
  await t.step(
    "`deno run -A main.ts materialize --help` exits 0 and prints the usage",
    async () => {
      // As a user types it, from the project folder; --help loads neither graph nor config.
      const outcome = await runMain(["materialize", "--help"], { cwd: ROOT });
      assertCode(outcome, 0);
      assert.match(outcome.stdout, /^Usage: materialize \[SELECTION\] \[options\]/);
      assert.match(outcome.stdout, /--concurrency N/);
      assert.equal(outcome.stderr, "");
    },
  );

  await t.step("`main.ts --help` lists the commands, the project's included", async () => {
    const outcome = await runMain(["--help"], { cwd: ROOT });
    assertCode(outcome, 0);
    for (const command of ["materialize", "list", "runs", "show", "doctor"]) {
      assert.match(outcome.stdout, new RegExp(`\\n  ${command}\\b`));
    }
  });

  await t.step("`deno run -A main.ts bogus` exits 2 and says so", async () => {
    const outcome = await runMain(["bogus"], { cwd: ROOT });
    assertCode(outcome, 2);
    assert.match(outcome.stderr, /Unknown command 'bogus'/);
  });
});

Deno.test("main.ts: a run of PLATFORM_GRAPH is recorded in RUNS_URL and seen by the next process", async () => {
  await using box = await sandbox();
  const env = { ...box.env, PLATFORM_GRAPH: await box.graph("two", TWO_ASSETS) };

  const run = await runMain(["materialize"], { cwd: box.dir, env });
  assertCode(run, 0);
  // stdout is a pipe, not a terminal: JSON lines.
  const lines = run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  const runId = lines[0]?.run_id;
  assert.equal(typeof runId, "string");
  const done = lines.filter((l) => l.step === "asset" && l.status === "success");
  assert.deepStrictEqual(done.map((l) => [l.asset, l.metadata]), [
    ["numbers", { rows: 3 }],
    ["total", { sum: 6 }],
  ]);

  const runs = await runMain(["runs", "--json"], { cwd: box.dir, env });
  assertCode(runs, 0);
  const [recorded] = runs.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.equal(recorded.run_id, runId);
  assert.equal(recorded.status, "success");

  const list = await runMain(["list", "--json"], { cwd: box.dir, env });
  assertCode(list, 0);
  const total = list.stdout.trimEnd().split("\n").map((line) => JSON.parse(line)).find((a) =>
    a.asset === "total"
  );
  assert.equal(total?.last_materialization?.run_id, runId);

  // Nothing was written outside the sandbox's state dir.
  assert.deepStrictEqual(
    [...Deno.readDirSync(box.dir)].map((e) => e.name).sort(),
    ["state", "two.ts"],
  );
});

Deno.test("main.ts: failures and bad settings", async (t) => {
  await using box = await sandbox();

  await t.step("a failing asset: exit 1, a short report on stderr", async () => {
    const env = {
      ...box.env,
      PLATFORM_GRAPH: await box.graph(
        "failing",
        `export const graph = defineGraph({ assets: [
          defineAsset({ key: "loader", materialize: () => { throw new Error("file 'x.csv' is empty"); } }),
        ] });`,
      ),
    };
    const outcome = await runMain(["materialize"], { cwd: box.dir, env });
    assertCode(outcome, 1);
    assert.match(outcome.stderr, /✗ loader: Error: file 'x\.csv' is empty/);
    assert.match(outcome.stderr, /Details: deno task cli show \S+/);
  });

  await t.step("an unknown asset: exit 2 with the nearest key", async () => {
    const env = { ...box.env, PLATFORM_GRAPH: await box.graph("two", TWO_ASSETS) };
    const outcome = await runMain(["materialize", "totl"], { cwd: box.dir, env });
    assertCode(outcome, 2);
    assert.match(outcome.stderr, /Unknown asset 'totl' \(did you mean 'total'\?\)/);
  });

  await t.step(
    "PLATFORM_GRAPH that does not exist or exports no graph: exit 1, named",
    async () => {
      const missing = await runMain(["list"], {
        cwd: box.dir,
        env: { ...box.env, PLATFORM_GRAPH: "nowhere.ts" },
      });
      assertCode(missing, 1);
      assert.match(missing.stderr, /Cannot load PLATFORM_GRAPH 'nowhere\.ts'/);
      const empty = await runMain(["list"], {
        cwd: box.dir,
        env: { ...box.env, PLATFORM_GRAPH: await box.graph("empty", "export const nothing = 1;") },
      });
      assertCode(empty, 1);
      assert.match(empty.stderr, /PLATFORM_GRAPH '.*empty\.ts' does not export 'graph'/);
    },
  );

  await t.step("a bad RUNS_URL: exit 1, names the variable, hides the password", async () => {
    const env = {
      ...box.env,
      PLATFORM_GRAPH: await box.graph("two", TWO_ASSETS),
      RUNS_URL: "mysql://admin:hunter2@db:3306/runs",
    };
    const outcome = await runMain(["runs"], { cwd: box.dir, env });
    assertCode(outcome, 1);
    assert.match(outcome.stderr, /RUNS_URL/);
    assert.doesNotMatch(outcome.stderr, /hunter2/);
  });
});

Deno.test("main.ts: SIGINT cancels the run cleanly: exit 130, recorded as canceled", async () => {
  await using box = await sandbox();
  const marker = `${box.dir}/cleanup_ran`;
  const env = {
    ...box.env,
    PLATFORM_GRAPH: await box.graph(
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
    ),
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, MAIN, "materialize"],
    cwd: box.dir,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // Wait until the slow asset is running, reading the JSON lines as they come.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!/"asset":"slow","partition":null,"step":"asset","status":"running"/.test(stdout)) {
      const { value, done } = await reader.read();
      if (done) assert.fail(`main.ts ended before 'slow' ran:\n${stdout}\n${await stderr}`);
      stdout += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  const status = await child.status;
  const err = await stderr;
  assert.equal(status.code, 130, `stdout:\n${stdout}\nstderr:\n${err}`);
  assert.match(err, /Canceling: running assets are told to stop/);
  assert.match(err, /Run \S+ canceled/);
  assert.equal(await Deno.readTextFile(marker), "yes", "the asset saw the abort signal");
  assert.match(stdout, /"step":"run","status":"canceled"/);

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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, MAIN, "materialize"],
    cwd: box.dir,
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!/"asset":"stubborn",.*"status":"running"/.test(stdout)) {
      const { value, done } = await reader.read();
      if (done) assert.fail(`main.ts ended before 'stubborn' ran:\n${stdout}`);
      stdout += value;
    }
    const started = performance.now();
    child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill("SIGINT");
    await reader.cancel();
    const status = await child.status;
    assert.equal(status.code, 130);
    assert.ok(performance.now() - started < 10_000, "exits without waiting for the asset");
  } finally {
    clearTimeout(deadline);
  }
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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, MAIN, "materialize", "--concurrency", "1"],
    cwd: box.dir,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  assert.match(first.value ?? "", /"step":"run","status":"running"/);
  await reader.cancel();
  const status = await child.status;
  const err = await stderr;
  assert.equal(status.code, 0, err);
  assert.match(err, /standard output was closed; the command goes on/);
  await using store = SqliteRunStore.open(box.runsDb);
  const [run] = await store.listRuns();
  assert.equal(run?.status, "success");
  assert.equal((await store.listSteps(run.runId)).filter((s) => s.status === "success").length, 20);
});
