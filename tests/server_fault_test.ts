/**
 * Server faults (issue 15 item 10): a throwaway PostgreSQL holding the run
 * store, the warehouse and a PostGIS workspace is crashed and restarted
 * (`pg_ctl stop -m immediate`, down 1.5 s, start) at seeded random points of
 * runs. Every run must end (nothing hangs), the lost connections must be
 * retried as transient failures (the assets declare no retries), and the
 * state afterwards must be consistent: each run recorded once as it ended,
 * no run left `running`, every table written exactly once per run.
 *
 * Part of the reliability suite (tests/reliability/): how many restarts it
 * makes comes from `RELIABILITY_SERVER_FAULTS` (2 by default, 8 under
 * `CI=true`), the seed from `RELIABILITY_SEED`, and it prints its counts
 * (tried = runs crashed into, handled = ended in success, lost = hung or
 * failed, leaked = rows written twice or lost, scratch schemas left, runs left
 * `running`) before asserting.
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
import { Random, reliabilitySettings, reportCounts } from "./_helpers/reliability.ts";
import { needs } from "./_helpers/tools.ts";

/** The resources of this test's graph. */
interface Resources {
  warehouse: PostgresWarehouse;
  spatial: PostgisEngine;
}
const defineAsset = assetFactory<Resources>();

const ROWS = 20;
const settings = reliabilitySettings();
const RUNS = settings.serverFaults;
const SEED = settings.seed;

Deno.test({
  name:
    "server faults: PostgreSQL crashed and restarted mid-run: retried, nothing hangs, state consistent",
  ignore: (await needs("postgres-binaries", "postgis")) || Boolean(Deno.env.get("DATABASE_URL")),
  async fn() {
    await using pg = await startPostgres({ databaseUrl: undefined, durable: true });
    await ensurePostgis(pg.url);
    const restart = pg.restart;
    assert.ok(restart, "a throwaway cluster can be restarted");
    const random = new Random(SEED).fork("server-faults");
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
    const failures: string[] = [];
    let retried = 0;
    let hung = 0;
    for (let i = 0; i < RUNS; i++) {
      const runId = `fault-${i}`;
      runIds.push(runId);
      const crashAfter = random.int(50, 750);
      const run = materialize(graph, {
        runStore: store,
        runId,
        // A lease (4 beats = 8 s) longer than the outage: an owner whose heartbeats fail
        // until its lease would lapse stops its run (executor_heartbeat_test), which is not
        // what this test is about; it is about riding through a restart.
        heartbeatIntervalMs: 2_000,
        concurrency: 1,
      });
      await new Promise((resolve) => setTimeout(resolve, crashAfter));
      await restart({ downMs: 1_500 });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        run,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), 90_000);
        }),
      ]).finally(() => clearTimeout(timer));
      if (result === undefined) {
        failures.push(`run ${runId} hung past 90 s (crash after ${crashAfter} ms, seed ${SEED})`);
        hung++;
        continue;
      }
      const steps = result.steps.map((s) => `${s.assetKey}:${s.status}:${s.attempts}`);
      if (result.status !== "success") {
        failures.push(
          `run ${runId} (crash after ${crashAfter} ms, seed ${SEED}): ${steps.join(", ")}; ` +
            `${result.errorSummary}; ${result.steps.map((s) => s.error?.message).join(" | ")}`,
        );
      }
      retried += result.steps.reduce((sum, s) => sum + s.attempts - 1, 0);
    }

    // The state afterwards: every run recorded once, ended; every table written once per run.
    await store.flush();
    const leaks: string[] = [];
    for (const run of await store.listRuns({ status: "running" })) {
      leaks.push(`run ${run.runId} left running`);
    }
    for (const runId of runIds) {
      const run = await store.getRun(runId);
      if (run?.status !== "success") continue; // counted above (or hung)
      const steps = await store.listSteps(runId);
      const recorded = steps.map((s) => `${s.assetKey}:${s.status}`).join(",");
      if (recorded !== "load:success,shapes:success") {
        leaks.push(`run ${runId} recorded as ${recorded}`);
      }
    }
    await using warehouse = await PostgresWarehouse.open(pg.url);
    const counts = await warehouse.query<{ run: string; rows: number; distinct: number }>(
      "SELECT run, count(*)::int AS rows, count(DISTINCT n)::int AS distinct FROM loaded GROUP BY run ORDER BY run",
    );
    const succeeded = runIds.filter((id) => !failures.some((f) => f.startsWith(`run ${id} `)));
    for (const run of succeeded) {
      const row = counts.find((c) => c.run === run);
      if (row?.rows !== ROWS || row.distinct !== ROWS) {
        leaks.push(
          `run ${run} wrote ${row?.rows ?? 0} row(s) (${row?.distinct ?? 0} distinct) of ${ROWS}`,
        );
      }
    }
    const scratch = await warehouse.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'proc\\_%'",
    );
    if ((scratch[0]?.n ?? 0) > 0) leaks.push(`${scratch[0]?.n} PostGIS workspace(s) left`);

    await reportCounts("server_faults", {
      tried: RUNS,
      handled: RUNS - failures.length,
      lost: failures.length,
      leaked: leaks.length,
    }, { seed: SEED, detail: `${retried} step attempt(s) retried, ${hung} hung` });
    assert.deepEqual([...failures, ...leaks], [], "runs and state after the restarts");
    assert.ok(retried > 0, "at least one crash hit a step, which was retried");
  },
});
