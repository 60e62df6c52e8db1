/**
 * A UI server with data behind it, for the UI tests: a lake (landing zone,
 * data lake, quarantine reports incl. an unreadable one), a ledger document,
 * and a DuckDB warehouse with a table and a view.
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { MemoryLedger } from "../../resources/ledger/memory.ts";
import { MemoryObjectStore } from "../../resources/object_store/memory.ts";
import { openWarehouse } from "../../resources/warehouse/open.ts";
import type { Warehouse } from "../../resources/warehouse/types.ts";
import { serveUi } from "../../ui/serve.ts";
import { SCRIPT } from "./_fixture.ts";

const encoder = new TextEncoder();

/** The server, its ledger document, and a dispose that removes everything. */
export async function dataServer() {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "bronze_things",
        metadata: { tables: ["raw.things", "raw.missing"] },
        materialize: () => {},
      }),
      defineAsset({
        key: "things_mart",
        deps: ["bronze_things"],
        metadata: {
          relation: '"analytics"."things_mart"',
          compiled_sql: `select * from "raw"."things" -- ${SCRIPT}`,
        },
        materialize: () => {},
      }),
      defineAsset({
        key: "ephemeral_model",
        metadata: { relation: "analytics.eph", materialized: "ephemeral" },
        materialize: () => {},
      }),
    ],
  });
  const lake = new MemoryObjectStore();
  for (const bucket of ["landing-zone", "data-lake"]) await lake.ensureBucket(bucket);
  const ledger = new MemoryLedger();
  const body = encoder.encode('{"rows": 3}');
  const put = await lake.put("data-lake", "raw/things/2026/a.json", body, {
    contentType: "application/json",
  });
  const doc = await ledger.upsert({
    bucket: "data-lake",
    key: "raw/things/2026/a.json",
    sha256: put.sha256,
    size: put.size,
    run_id: "run-1",
    asset_key: "bronze_things",
    partition: null,
    format: "json",
    metadata: {},
  });
  await lake.put("data-lake", "raw/things/2026/b.json", body);
  await lake.put(
    "landing-zone",
    "quarantine/b2.error.json",
    encoder.encode(JSON.stringify({ batch_id: "b2", problems: [SCRIPT] })),
  );
  await lake.put("landing-zone", "quarantine/bad.error.json", encoder.encode("{not json"));
  const dir = await Deno.makeTempDir({ prefix: "ui-api-data-" });
  const url = `duckdb:${dir}/warehouse.duckdb`;
  const warehouse: Warehouse = await openWarehouse(url);
  await warehouse.execute("CREATE SCHEMA raw");
  await warehouse.execute("CREATE SCHEMA analytics");
  await warehouse.execute(
    "CREATE TABLE raw.things (id integer, day date, label text, big bigint, blob blob)",
  );
  await warehouse.execute(
    `INSERT INTO raw.things SELECT i, DATE '2026-01-01' + CAST(i AS INTEGER), '<b>' || i, 9007199254740993, '\\x01\\x02'::blob
     FROM range(30) t(i)`,
  );
  await warehouse.execute("CREATE VIEW analytics.things_mart AS SELECT id FROM raw.things");
  const server = await serveUi({
    graph,
    store: new MemoryRunStore(),
    port: 0,
    sources: {
      openLake: () => Promise.resolve(lake),
      openLedger: () => Promise.resolve(ledger),
      openWarehouse: () => openWarehouse(url),
    },
  });
  return {
    server,
    doc,
    lake,
    ledger,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await warehouse[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
