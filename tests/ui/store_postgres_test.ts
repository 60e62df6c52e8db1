/**
 * A Postgres run store that goes down and comes back (a server restart):
 * while it is down every page is a 503 naming RUNS_URL's server, and once it
 * is back the same UI process answers again, without a restart.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { materialize } from "../../core/executor.ts";
import { PostgresRunStore } from "../../resources/run_store/postgres.ts";
import { serveUi } from "../../ui/serve.ts";
import { startPostgres } from "../_helpers/postgres.ts";
import { needs } from "../_helpers/tools.ts";
import { fixtureGraph } from "./_fixture.ts";

Deno.test({
  name: "store errors: a Postgres run store down is a 503 naming it; back up, the same UI answers",
  ignore: await needs("postgres"),
  async fn() {
    await using pg = await startPostgres({ databaseUrl: undefined });
    const { graph, release } = fixtureGraph();
    try {
      await using store = await PostgresRunStore.open(pg.url, { connectTimeoutSeconds: 2 });
      await materialize(graph, { runStore: store, exclude: "slow" });
      await using server = await serveUi({ graph, store, port: 0 });
      const get = async (path: string) => {
        const res = await fetch(`${server.url}${path}`);
        return { status: res.status, text: await res.text() };
      };
      assertEquals((await get("/api/runs")).status, 200);
      let up = false;
      const restarting = pg.restart!({ downMs: 3000 }).then(() => up = true);
      const seen: { status: number; text: string }[] = [];
      while (!up) {
        seen.push(await get("/api/runs"), await get("/runs"));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await restarting;
      const down = seen.filter((r) => r.status !== 200);
      assert(down.length > 0, "some request met the server down");
      for (const r of down) {
        assertEquals(r.status, 503, r.text.slice(0, 300));
        assertMatch(r.text, /Run store postgres/);
        assertMatch(r.text, /RUNS_URL/);
      }
      // Back up: the pool connects again by itself (bounded, for a loaded machine).
      let back = await get("/runs");
      for (let i = 0; i < 120 && back.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        back = await get("/runs");
      }
      assertEquals(back.status, 200, back.text.slice(0, 300));
      assertEquals((await get("/api/runs")).status, 200);
    } finally {
      release();
    }
  },
});
