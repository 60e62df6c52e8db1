/**
 * `launch.ts` and the `main.ts` it starts, as real processes: the launcher
 * killed with -9 in the middle of `deno task sensor` and of `deno task
 * materialize` leaves no orphan (the command notices within a second and
 * stops as on SIGTERM, so the next start takes over at once, with leases far
 * too long to have lapsed), SIGINT and SIGTERM to the launcher alone reach the
 * command, and the launcher's exit code is the command's.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openObjectStore } from "../resources/object_store/mod.ts";
import { SqliteRunStore } from "../resources/run_store/sqlite.ts";
import type { RunRecord } from "../core/mod.ts";
import { type Sandbox, sandbox, spawnMain, until } from "./_helpers/main_process.ts";
import { taskCommand } from "./_helpers/deno_tasks.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Heartbeats every minute: a lease (four of them) cannot lapse during a test. */
const LONG_LEASE = { RUN_HEARTBEAT_INTERVAL_MS: "60000" };

/** The `deno` arguments of `deno task NAME`. */
function taskArgs(name: string): string[] {
  return taskCommand(name).split(/\s+/).slice(1);
}

/** Whether a process with this pid exists (`kill -0`). */
async function alive(pid: number): Promise<boolean> {
  const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
    .output();
  return out.success;
}

/**
 * Fails unless `pid` (the command of a launcher just killed or signaled) ends
 * within 60 s (it polls its parent every 250 ms; without that watch it would
 * never end, and a loaded CI machine can stretch its graceful stop past 10 s);
 * a command still there then is killed, so no test leaves one behind.
 */
async function orphanStops(pid: number, after = "the launcher's kill -9"): Promise<void> {
  try {
    await until(
      `the command (pid ${pid}) stopped after ${after}`,
      async () => !(await alive(pid)),
      {
        timeoutMs: 60_000,
        pollMs: 100,
      },
    );
  } finally {
    if (await alive(pid)) Deno.kill(pid, "SIGKILL");
  }
}

async function runs(dir: string): Promise<RunRecord[]> {
  await using store = SqliteRunStore.open(join(dir, "state", "runs.db"));
  return await store.listRuns({ limit: 100 });
}

/** A sandbox with the daemon fixture graph's landing zone and marker file. */
async function daemonWorld() {
  const box = await sandbox();
  const marker = join(box.dir, "marker.txt");
  await Deno.writeTextFile(marker, "");
  const lake = openObjectStore(box.env.LAKE_URL!);
  await lake.ensureBucket("landing-zone");
  return {
    box,
    marker,
    env: {
      ...box.env,
      ...LONG_LEASE,
      PLATFORM_GRAPH: join(ROOT, "tests/sensors/_daemon_graph.ts"),
      FIXTURE_MARKER_FILE: marker,
      PLATFORM_ALLOW_ENV: "FIXTURE_*",
      PLATFORM_ALLOW_WRITE: marker,
      LEDGER_URL: "memory:",
      GDAL_ENGINE: "wasm",
    },
    commit: (batch: string) =>
      lake.put(
        "landing-zone",
        `manifests/${batch}.json`,
        new TextEncoder().encode(JSON.stringify({ batch_id: batch, uploader: "ana" })),
      ),
    lines: async () => (await Deno.readTextFile(marker)).split("\n").filter(Boolean),
    async [Symbol.asyncDispose]() {
      await lake[Symbol.asyncDispose]();
      await box[Symbol.asyncDispose]();
    },
  };
}

Deno.test("launch.ts killed with -9 mid-run of `deno task sensor`: its daemon stops within seconds, the next one retries the batch at once", async () => {
  await using w = await daemonWorld();
  await w.commit("held");
  await using first = spawnMain(["--interval", "50"], {
    cwd: ROOT,
    env: { ...w.env, FIXTURE_HOLD: "1" },
    denoArgs: taskArgs("sensor"),
    killAfterMs: 180_000,
  });
  await until("the run started", async () => (await w.lines()).length === 1, {
    timeoutMs: 120_000,
  });
  const daemonPid = Number((await w.lines())[0]!.split(" ")[2]);
  assert.notEqual(daemonPid, first.pid, "the daemon is the launcher's child");
  first.kill("SIGKILL");
  await orphanStops(daemonPid);
  // finish() waits for the launcher and for every writer of its pipes: the daemon too.
  const outcome = await first.finish();
  assert.equal(outcome.signal, "SIGKILL");
  assert.match(outcome.stderr, /The launcher \(launch\.ts, pid \d+\) has ended/);
  assert.match(outcome.stdout, /shutting down: canceling 1 run\(s\) in flight/);
  assert.match(outcome.stdout, /sensor daemon .* stopped/);
  const [held] = await runs(w.box.dir);
  assert.equal(held?.status, "canceled", "the graceful path recorded the run's end");

  // The next daemon retries the canceled batch at once: no lease of a minute-long heartbeat lapsed.
  const restartedAt = Date.now();
  await using second = spawnMain(["--interval", "50"], {
    cwd: ROOT,
    env: w.env,
    denoArgs: taskArgs("sensor"),
    killAfterMs: 180_000,
  });
  await until("the retry succeeded", async () => {
    const all = await runs(w.box.dir).catch(() => []);
    return all.some((run) => run.status === "success");
  }, { timeoutMs: 120_000 });
  assert.ok(Date.now() - restartedAt < 4 * 60_000);
  second.kill("SIGTERM");
  const stopped = await second.finish();
  assert.equal(stopped.code, 0, stopped.stderr);
  const all = await runs(w.box.dir);
  assert.equal(all.length, 2);
  assert.ok(all.every((run) => run.status !== "running"), JSON.stringify(all));
  assert.deepEqual((await w.lines()).map((line) => line.split(" ")[0]), ["held", "held"]);
});

/** A graph whose asset appends its pid to a file and then waits until its run is canceled. */
const HOLD_GRAPH = `
export const graph = defineGraph({ assets: [
  defineAsset({ key: "held", materialize: async (ctx) => {
    await Deno.writeTextFile(Deno.env.get("FIXTURE_MARKER_FILE"), Deno.pid + "\\n", { append: true });
    if (Deno.env.get("FIXTURE_FAIL") === "1") throw new Error("failed on purpose");
    if (Deno.env.get("FIXTURE_HOLD") === "1") {
      await new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
    }
    return { pid: Deno.pid };
  } }),
] });`;

/** The hold graph in `box`, its marker file, and the environment that runs it under a task. */
async function holdWorld(box: Sandbox) {
  const marker = join(box.dir, "marker.txt");
  await Deno.writeTextFile(marker, "");
  const env: Record<string, string> = {
    ...box.env,
    ...LONG_LEASE,
    PLATFORM_GRAPH: await box.graph("hold", HOLD_GRAPH),
    FIXTURE_MARKER_FILE: marker,
    PLATFORM_ALLOW_ENV: "FIXTURE_*",
    PLATFORM_ALLOW_WRITE: marker,
    GDAL_ENGINE: "wasm",
  };
  return { marker, env };
}

Deno.test("launch.ts killed with -9 mid-run of `deno task materialize`: the run is recorded canceled, the next materialize runs at once", async () => {
  await using box = await sandbox();
  const { marker, env } = await holdWorld(box);
  await using first = spawnMain(["--json"], {
    cwd: ROOT,
    env: { ...env, FIXTURE_HOLD: "1" },
    denoArgs: taskArgs("materialize"),
    killAfterMs: 180_000,
  });
  await until("the run started", async () => (await Deno.readTextFile(marker)).length > 0, {
    timeoutMs: 120_000,
  });
  const childPid = Number((await Deno.readTextFile(marker)).trim());
  first.kill("SIGKILL");
  await orphanStops(childPid);
  const outcome = await first.finish();
  assert.match(outcome.stderr, /The launcher \(launch\.ts, pid \d+\) has ended/);
  const [held] = await runs(box.dir);
  assert.equal(held?.status, "canceled", JSON.stringify(held));

  await using second = spawnMain(["--json"], {
    cwd: ROOT,
    env,
    denoArgs: taskArgs("materialize"),
    killAfterMs: 180_000,
  });
  const next = await second.finish();
  assert.equal(next.code, 0, next.stderr);
  const all = await runs(box.dir);
  assert.deepEqual(all.map((run) => run.status).sort(), ["canceled", "success"]);
});

Deno.test("launch.ts passes SIGINT and SIGTERM sent to it alone on to the command, and exits with the command's code", async () => {
  await using box = await sandbox();
  const world = await holdWorld(box);
  const marker = world.marker;
  const env = { ...world.env, FIXTURE_HOLD: "1" };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await Deno.writeTextFile(marker, "");
    await using run = spawnMain(["--json"], {
      cwd: ROOT,
      env,
      denoArgs: taskArgs("materialize"),
      killAfterMs: 180_000,
    });
    await until("the run started", async () => (await Deno.readTextFile(marker)).length > 0, {
      timeoutMs: 120_000,
    });
    const childPid = Number((await Deno.readTextFile(marker)).trim());
    run.kill(signal); // the launcher's pid only, not its process group
    await orphanStops(childPid, `${signal} to the launcher`);
    const outcome = await run.finish();
    // The command canceled its run and exited 130 (Ctrl-C) or 143 (SIGTERM); the launcher
    // says the same.
    assert.equal(outcome.signal, null, `${signal}: ${outcome.stderr}`);
    assert.equal(outcome.code, signal === "SIGTERM" ? 143 : 130, `${signal}: ${outcome.stderr}`);
    assert.match(outcome.stderr, /Canceling: running assets are told to stop/);
  }
  // A command that fails, and one given bad usage: 1 and 2 through the launcher.
  const failed = await spawnMain([], {
    cwd: ROOT,
    env: { ...env, FIXTURE_FAIL: "1" },
    denoArgs: taskArgs("materialize"),
  }).finish();
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr + failed.stdout, /failed on purpose/);
  const usage = await spawnMain(["--no-such-flag"], {
    cwd: ROOT,
    env,
    denoArgs: taskArgs("cli"),
  }).finish();
  assert.equal(usage.code, 2, usage.stderr);
});
