/** Choosing a run store backend from `RUNS_URL`. */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ConfigError, MemoryRunStore, ResourceError } from "../../../core/mod.ts";
import {
  openRunStore,
  PostgresRunStore,
  SqliteRunStore,
} from "../../../resources/run_store/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import { rejected as rejects } from "../../_helpers/assert_errors.ts";

Deno.test("openRunStore: memory: opens the in-memory twin", async () => {
  await using store = await openRunStore("memory:");
  assert(store instanceof MemoryRunStore);
  assertEquals(store.description, "memory");
});

Deno.test("openRunStore: sqlite:PATH opens (and creates) that file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_store_factory_" });
  try {
    for (
      const [url, path] of [
        [`sqlite:${dir}/a/runs.db`, `${dir}/a/runs.db`],
        [`sqlite://${dir}/b/runs.db`, `${dir}/b/runs.db`],
      ] as const
    ) {
      await using store = await openRunStore(url);
      assert(store instanceof SqliteRunStore, url);
      assertEquals(store.description, `sqlite ${path}`);
      await store.setCursor("s", "1");
      assert((await Deno.stat(path)).isFile, `${path} exists`);
    }
    await using memory = await openRunStore("sqlite::memory:");
    assertEquals(memory.description, "sqlite :memory:");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openRunStore: sqlite: without a path is a ConfigError naming RUNS_URL", async () => {
  const error = await rejects(() => openRunStore("sqlite:"), ConfigError);
  assertEquals(error.code, "config.runs_url");
  assertEquals(error.input, "RUNS_URL");
  assert(error.message.includes("RUNS_URL"), error.message);
});

Deno.test("openRunStore: an unknown scheme is a ConfigError naming RUNS_URL, not the password", async () => {
  for (const url of ["mongodb://admin:hunter2@db/runs", "mysql://u:hunter2@h/db", "runs.db", ""]) {
    const error = await rejects(() => openRunStore(url), ConfigError);
    assertEquals(error.code, "config.runs_url", url);
    assertEquals(error.input, "RUNS_URL");
    assert(error.message.includes("RUNS_URL"), error.message);
    assert(error.message.includes("postgres://"), `says what is supported: ${error.message}`);
    assert(!error.message.includes("hunter2"), error.message);
  }
  const error = await rejects(() => openRunStore("mongodb://admin:hunter2@db/runs"), ConfigError);
  assert(error.message.includes("'mongodb:'"), error.message);
});

Deno.test("openRunStore: postgres:// and postgresql:// reach the Postgres backend", async () => {
  // Nothing listens on port 1: the Postgres store is the one that fails.
  for (const url of ["postgres://u:pw@127.0.0.1:1/db", "postgresql://u:pw@127.0.0.1:1/db"]) {
    const error = await rejects(() => openRunStore(url), ResourceError);
    assertEquals(error.code, "run_store.unreachable", url);
    assert(!error.message.includes(":pw@"), error.message);
  }
});

Deno.test({
  name: "openRunStore: postgres:// opens a PostgresRunStore in schema ops",
  ignore: await needs("postgres"),
  async fn() {
    await using pg = await startPostgres();
    for (const url of [pg.url, pg.url.replace(/^postgres:/, "postgresql:")]) {
      await using store = await openRunStore(url);
      assert(store instanceof PostgresRunStore, url);
      assert(store.description.endsWith("(ops)"), store.description);
      assertEquals(await store.addDynamicPartitions("d", ["x"]), url === pg.url ? ["x"] : []);
    }
  },
});
