/**
 * The PostGIS engine's janitor during a long life: a workspace whose run
 * ended while the server was down (its drop failed with the connection) is
 * dropped once the server answers again, by the same open engine, without
 * waiting for the next open (a sensor daemon keeps its engine for days).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgisEngine } from "../../../resources/spatial/postgis.ts";
import { ensurePostgis, startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";

Deno.test({
  name: "PostGIS: workspaces whose runs ended during an outage are dropped when the server " +
    "is back, by the engine left open",
  ignore: await needs("postgres-binaries", "postgis"),
  async fn() {
    await using pg = await startPostgres({ databaseUrl: undefined, durable: true });
    await ensurePostgis(pg.url);
    const restart = pg.restart;
    assert.ok(restart, "a throwaway cluster can be restarted");
    await using engine = await PostgisEngine.open(pg.url);
    const schemas = async () => {
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proc\\_%'
                          ORDER BY 1`).map((r) => r.nspname as string);
      } finally {
        await sql.end();
      }
    };

    // A run's workspace, with a table in it, when the server goes down.
    const lost = await engine.createWorkspace("outage-run");
    await lost.run("SELECT 1 AS id, ST_MakePoint(0, 0) AS geom", "shape");
    assert.deepEqual(await schemas(), ["proc_outage_run"]);
    await restart({ downMs: 500 });
    // The run ends (canceled, failed): its drop meets a dead connection and says nothing.
    await lost.drop();
    assert.deepEqual(await schemas(), ["proc_outage_run"], "left behind by the outage");

    // The next run on the same engine, once the server is back: the orphan is gone.
    const next = await engine.createWorkspace("next-run");
    try {
      assert.deepEqual(await schemas(), ["proc_next_run"], "the orphan dropped, the live one kept");
    } finally {
      await next.drop();
    }
    assert.deepEqual(await schemas(), []);

    // An orphan left by a second outage with no run after it: dropped at the engine's close.
    const again = await engine.createWorkspace("second-outage");
    await restart({ downMs: 200 });
    await again.drop();
    assert.deepEqual(await schemas(), ["proc_second_outage"]);
    await engine[Symbol.asyncDispose]();
    assert.deepEqual(await schemas(), [], "dropped when the engine closes");
  },
});
