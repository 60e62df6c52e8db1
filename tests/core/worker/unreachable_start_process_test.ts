/**
 * A worker and a sensor daemon started while their Postgres is down (the
 * whole stack starting at once, a database restarting): each waits, saying
 * so on each try with pauses that grow, and works once the server is up, as
 * Dagster's daemon does; before, both exited 1 at once, which an
 * orchestrator restarts in a loop. A worker stopped while it waits exits 0;
 * a bad database name (a person must fix it) still fails at once.
 */
import assert from "node:assert/strict";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { sandbox, spawnMain, untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";

const GRAPH = `export const graph = defineGraph({ assets: [
  defineAsset({ key: "a", group: "g", materialize: () => ({ ok: 1 }) }),
]});`;

Deno.test({
  name:
    "worker and sensor daemon started while Postgres is down: wait with a line per try, then runs; " +
    "SIGTERM while waiting exits 0, a missing database exits 1",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  await using box = await sandbox();
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PLATFORM_GRAPH: await box.graph("reachable_graph", GRAPH),
    RUN_HEARTBEAT_INTERVAL_MS: "1000",
  };
  // Tables made first, so what the worker waits for is only the server.
  await (await PostgresRunQueue.open(pg.url))[Symbol.asyncDispose]();
  assert.ok(pg.restart, "a throwaway cluster");

  await using worker = spawnMain(["worker"], { cwd: box.dir, env });
  await using daemon = spawnMain(["sensor"], { cwd: box.dir, env });
  await pg.restart({
    whileDown: async () => {
      await daemon.waitFor(/waiting for the run store \(try 2\): .*ECONNREFUSED/);
      const said = await worker.waitFor(/waiting for the run queue \(try 2\)/);
      assert.match(
        said,
        /worker: waiting for the run queue \(try 1\): Cannot connect to the run queue at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(RUNS_URL\): .*ECONNREFUSED.*; trying again in 1\.\d s/,
      );
      assert.match(said, /\(try 2\): .*trying again in [23]\.\d s/, "the pause grows");
    },
  });
  await worker.waitFor(/worker .* started on/);
  await daemon.waitFor(/holding the daemon lock/);
  await using queue = await PostgresRunQueue.open(pg.url);
  const runId = crypto.randomUUID();
  await queue.enqueue([{ runId, selection: "a", partitions: null, tags: {} }], Date.now());
  const entry = await untilValue("the run to finish", async () => {
    const e = await queue.get(runId);
    return e?.state === "finished" ? e : undefined;
  });
  assert.match(entry.outcome ?? "", /^success/);
  worker.kill("SIGTERM");
  const ended = await worker.finish();
  assert.equal(ended.code, 0, ended.stderr);
  daemon.kill("SIGTERM");
  const daemonEnded = await daemon.finish();
  assert.equal(daemonEnded.code, 0, daemonEnded.stderr);

  // Stopped while it waits: a clean stop, not a failure.
  const closed = `postgres://postgres@127.0.0.1:${closedPort()}/postgres`;
  const waiting = spawnMain(["worker"], { cwd: box.dir, env: { ...env, RUNS_URL: closed } });
  await waiting.waitFor(/waiting for the run queue \(try 1\)/);
  waiting.kill("SIGTERM");
  const stopped = await waiting.finish();
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);

  // A database that does not exist is no reason to wait.
  const missing = await spawnMain(["worker"], {
    cwd: box.dir,
    env: { ...env, RUNS_URL: pg.url.replace(/\/postgres$/, "/no_such_db") },
  }).finish();
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(missing.stderr, /no_such_db/);
  assert.doesNotMatch(missing.stdout, /waiting for/);
});

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
