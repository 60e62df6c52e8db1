/**
 * Server faults (issue 15 item 10): a throwaway PostgreSQL holding the run
 * store, the warehouse and a PostGIS workspace is crashed and restarted
 * (`pg_ctl stop -m immediate`, down 1.5 s, start) at seeded random points of
 * runs. Every run must end (nothing hangs), the lost connections must be
 * retried as transient failures (the assets declare no retries), and the
 * state afterwards must be consistent: each run recorded once as it ended,
 * no run left `running`, every table written exactly once per run.
 */

import assert from "node:assert/strict";
import { assetFactory } from "../core/asset.ts";
import { defineGraph } from "../core/definitions.ts";
import { materialize } from "../core/executor.ts";
import { defineResource } from "../core/resource.ts";
import { PostgresRunStore } from "../resources/run_store/postgres.ts";
import { PostgisEngine } from "../resources/spatial/postgis.ts";
import { withWorkspace } from "../resources/spatial/engine.ts";
import { PostgresWarehouse } from "../resources/warehouse/postgres.ts";
import { ensurePostgis, startPostgres } from "./_helpers/postgres.ts";
import { needs } from "./_helpers/tools.ts";

/** A small seeded generator (mulberry32), so a failing point can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The resources of this test's graph. */
interface Resources {
  warehouse: PostgresWarehouse;
  spatial: PostgisEngine;
}
const defineAsset = assetFactory<Resources>();

const ROWS = 20;
const RUNS = Number(Deno.env.get("SERVER_FAULT_RUNS") ?? 3);
const SEED = Number(Deno.env.get("SERVER_FAULT_SEED") ?? 20261205);

Deno.test({
  name:
    "server faults: PostgreSQL crashed and restarted mid-run: retried, nothing hangs, state consistent",
  ignore: (await needs("postgres-binaries", "postgis")) || Boolean(Deno.env.get("DATABASE_URL")),
  async fn() {
    await using pg = await startPostgres({ databaseUrl: undefined, durable: true });
    await ensurePostgis(pg.url);
    const restart = pg.restart;
    assert.ok(restart, "a throwaway cluster can be restarted");
    const random = seeded(SEED);
    await using store = await PostgresRunStore.open(pg.url, { flushIntervalMs: 20 });
    const graph = defineGraph<Resources>({
      resources: {
        warehouse: defineResource("warehouse", () => PostgresWarehouse.open(pg.url)),
        spatial: defineResource("PostGIS", () => PostgisEngine.open(pg.url, { janitor: false })),
      },
      assets: [
        // Rewrites its rows in one transaction, slowly: a crash inside it rolls back whole.
        defineAsset({
          key: "load",
          resources: ["warehouse"],
          materialize: async (ctx) => {
            const { warehouse } = ctx.resources;
            await warehouse.execute("CREATE TABLE IF NOT EXISTS loaded (run text, n int)");
            await warehouse.transaction(async (tx) => {
              await tx.execute("DELETE FROM loaded WHERE run = $1", [ctx.runId]);
              for (let n = 0; n < ROWS; n++) {
                await tx.execute("INSERT INTO loaded SELECT $1, $2 FROM pg_sleep(0.02)", [
                  ctx.runId,
                  n,
                ]);
              }
            });
            return { attempt: ctx.attempt };
          },
        }),
        defineAsset({
          key: "shapes",
          deps: ["load"],
          resources: ["spatial"],
          materialize: async (ctx) => {
            const { spatial } = ctx.resources;
            const area = await withWorkspace(spatial, ctx.runId, async (ws) => {
              await ws.run(
                "SELECT 1 AS id, ST_Buffer(ST_MakePoint(0, 0), 1) AS geom FROM pg_sleep(0.3)",
                "shape",
              );
              return "ok";
            });
            return { area, attempt: ctx.attempt };
          },
        }),
      ],
    });

    const runIds: string[] = [];
    let retried = 0;
    for (let i = 0; i < RUNS; i++) {
      const runId = `fault-${i}`;
      runIds.push(runId);
      const crashAfter = 50 + Math.floor(random() * 700);
      const run = materialize(graph, {
        runStore: store,
        runId,
        heartbeatIntervalMs: 200,
        concurrency: 1,
      });
      await new Promise((resolve) => setTimeout(resolve, crashAfter));
      await restart({ downMs: 1_500 });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        run,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`run ${runId} hung (crash after ${crashAfter} ms)`)),
            90_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const steps = result.steps.map((s) => `${s.assetKey}:${s.status}:${s.attempts}`);
      assert.equal(
        result.status,
        "success",
        `run ${runId} (crash after ${crashAfter} ms, seed ${SEED}): ${steps.join(", ")}; ` +
          `${result.errorSummary}; ${result.steps.map((s) => s.error?.message).join(" | ")}`,
      );
      retried += result.steps.reduce((sum, s) => sum + s.attempts - 1, 0);
    }
    assert.ok(retried > 0, "at least one crash hit a step, which was retried");

    // The state afterwards: every run recorded once, ended; every table written once per run.
    await store.flush();
    assert.deepEqual(await store.listRuns({ status: "running" }), []);
    for (const runId of runIds) {
      const run = await store.getRun(runId);
      assert.equal(run?.status, "success", runId);
      const steps = await store.listSteps(runId);
      assert.deepEqual(steps.map((s) => [s.assetKey, s.status]), [
        ["load", "success"],
        ["shapes", "success"],
      ]);
    }
    await using warehouse = await PostgresWarehouse.open(pg.url);
    const counts = await warehouse.query<{ run: string; rows: number; distinct: number }>(
      "SELECT run, count(*)::int AS rows, count(DISTINCT n)::int AS distinct FROM loaded GROUP BY run ORDER BY run",
    );
    assert.deepEqual(counts, runIds.map((run) => ({ run, rows: ROWS, distinct: ROWS })));
    const scratch = await warehouse.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'proc\\_%'",
    );
    assert.equal(scratch[0]?.n, 0, "every PostGIS workspace was dropped");
  },
});
