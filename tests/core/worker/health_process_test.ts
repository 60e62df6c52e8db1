/**
 * A worker's health endpoint while its PostgreSQL goes away: `/readyz` is
 * 200 while the run store answers and flips to 503 (naming the error) while
 * the server is down, `/livez` stays 200 all along (a restart would not bring
 * the server back), and both are 200 again once it is back.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { PostgresRunStore } from "../../../resources/run_store/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { sandbox, spawnMain, untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function probe(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

Deno.test({
  name: "worker health: /readyz flips to 503 while its PostgreSQL is down and back to 200 after; " +
    "/livez stays 200",
  ignore: await needs("postgres"),
  // The child's pipes are ours; the sanitizers would see them.
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using pg = await startPostgres();
  assert.ok(pg.restart, "the throwaway cluster can be restarted");
  await using box = await sandbox();
  // The queue's and the store's tables, as `migrate` makes them.
  await (await PostgresRunQueue.open(pg.url))[Symbol.asyncDispose]();
  await (await PostgresRunStore.open(pg.url))[Symbol.asyncDispose]();
  const port = freePort();
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PLATFORM_GRAPH: await box.graph(
      "health_worker_graph",
      `export const graph = defineGraph({ assets: [
        defineAsset({ key: "a", materialize: () => Promise.resolve({}) }),
      ]});`,
    ),
    HEALTH_PORT: String(port),
    RUN_HEARTBEAT_INTERVAL_MS: "500",
  };
  await using worker = spawnMain(["worker", "--no-coordinator"], { cwd: box.dir, env });
  await worker.waitFor(/worker .* started on/);
  await untilValue("the worker is ready", async () => {
    const { status } = await probe(port, "/readyz");
    return status === 200 ? status : undefined;
  }, { timeoutMs: 60_000 });
  const seen: string[] = [];
  await pg.restart({
    downMs: 300,
    whileDown: async () => {
      const down = await untilValue("/readyz says the store is away", async () => {
        const answer = await probe(port, "/readyz");
        return answer.status === 503 ? answer : undefined;
      }, { timeoutMs: 2_500, pollMs: 100 });
      seen.push(down.text);
      assert.equal((await probe(port, "/livez")).status, 200, "live while the store is away");
    },
  });
  assert.equal(seen.length, 1);
  const body = JSON.parse(seen[0] ?? "{}");
  assert.equal(body.status, "unhealthy");
  assert.equal(body.store.reachable, false);
  assert.match(body.store.error, /\S/);
  await untilValue("ready again", async () => {
    const { status } = await probe(port, "/readyz");
    return status === 200 ? status : undefined;
  }, { timeoutMs: 30_000, pollMs: 100 });
  worker.kill("SIGTERM");
  assert.equal((await worker.finish()).code, 0);
});
