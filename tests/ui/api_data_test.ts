/**
 * The data endpoints with data behind them: the lake browser and an object
 * with its ledger document, quarantine reports, the map layers, and the
 * warehouse preview with compiled SQL (DuckDB in memory).
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
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

async function dataServer() {
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
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await warehouse[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

Deno.test("api: lake folders and objects with their ledger document; quarantine reports; bad input", async () => {
  await using data = await dataServer();
  const { server, doc } = data;
  const top = await get(`${server.url}/api/lake/objects?bucket=data-lake&prefix=raw/things/`);
  assertEquals(top.status, 200);
  assertEquals(top.body.prefixes, ["raw/things/2026/"]);
  const leaf = await get(
    `${server.url}/api/lake/objects?bucket=data-lake&prefix=raw/things/2026/`,
  );
  assertEquals(
    (leaf.body.objects as { key: string }[]).map((o) => o.key),
    ["raw/things/2026/a.json", "raw/things/2026/b.json"],
  );
  const one = await get(
    `${server.url}/api/lake/object?bucket=data-lake&key=raw/things/2026/a.json`,
  );
  assertEquals(one.status, 200);
  assertEquals((one.body.ledger as { id: string }).id, doc.id);
  const orphan = await get(
    `${server.url}/api/lake/object?bucket=data-lake&key=raw/things/2026/b.json`,
  );
  assertEquals(orphan.body.ledger, null);
  assertEquals(
    (await get(`${server.url}/api/lake/object?bucket=data-lake&key=raw/none.json`)).status,
    404,
  );
  const badBucket = await get(`${server.url}/api/lake/objects?bucket=secrets`);
  assertEquals(badBucket.status, 400);
  assertEquals(badBucket.body.error, "unknown_bucket");
  assertEquals((await get(`${server.url}/api/lake/object?bucket=x&key=a`)).status, 400);
  const quarantine = await get(`${server.url}/api/lake/quarantine`);
  const reports = quarantine.body.reports as { key: string; report: Record<string, unknown> }[];
  assertEquals(reports.map((r) => r.key).sort(), [
    "quarantine/b2.error.json",
    "quarantine/bad.error.json",
  ]);
  assertMatch(String(reports.find((r) => r.key.includes("bad"))?.report.error), /unreadable/);
  // Pages: the object page links the ledger document, which links back.
  const page = await (await fetch(
    `${server.url}/lake/object?bucket=data-lake&key=raw/things/2026/a.json`,
  )).text();
  assert(page.includes(`/lake/doc/${doc.id}`));
  assertEquals((await fetch(`${server.url}/lake/doc/${doc.id}`)).status, 200);
  assertEquals((await fetch(`${server.url}/lake/doc/nope`)).status, 404);
  const lakePage = await (await fetch(`${server.url}/lake`)).text();
  assert(!lakePage.includes(SCRIPT) && lakePage.includes("&lt;script&gt;"));
  assertEquals(
    (await fetch(`${server.url}/lake/object?bucket=data-lake&key=none`)).status,
    404,
  );
});

Deno.test("api: map layers without spatial outputs; preview of tables and views with compiled SQL", async () => {
  await using data = await dataServer();
  const { server } = data;
  const map = await get(`${server.url}/api/map/layers`);
  assertEquals(map.status, 200);
  assertEquals(map.body.layers, []);
  assertEquals((await get(`${server.url}/api/map/layers?batch=b9`)).status, 404);

  const bronze = await get(`${server.url}/api/assets/bronze_things/preview`);
  const [things, missing] = bronze.body.previews as {
    relation: string;
    columns: string[];
    types: string[];
    rows: unknown[][];
    total: number | null;
    exists: boolean;
  }[];
  assertEquals(things?.relation, "raw.things");
  assertEquals(things?.columns, ["id", "day", "label", "big", "blob"]);
  assertEquals(things?.total, 30);
  assertEquals(things?.rows.length, 20);
  assertEquals(things?.rows[1], [1, "2026-01-02", "<b>1", "9007199254740993", "<2 bytes>"]);
  assertEquals(missing, {
    relation: "raw.missing",
    columns: [],
    types: [],
    exists: false,
    rows: [],
    total: null,
  });
  assertEquals(bronze.body.compiledSql, null);
  const mart = await get(`${server.url}/api/assets/things_mart/preview`);
  assertEquals((mart.body.previews as { total: number }[])[0]?.total, 30);
  assertMatch(String(mart.body.compiledSql), /^select \* from "raw"."things"/);
  const eph = await get(`${server.url}/api/assets/ephemeral_model/preview`);
  assertEquals(eph.body.previews, []);

  const page = await (await fetch(`${server.url}/assets/bronze_things`)).text();
  assert(page.includes('data-preview="raw.things"'));
  assert(page.includes("raw.missing does not exist yet"));
  assert(page.includes("&lt;b&gt;1") && !page.includes("<b>1"));
  const martPage = await (await fetch(`${server.url}/assets/things_mart`)).text();
  assert(martPage.includes("data-compiled-sql") && !martPage.includes(SCRIPT));
});
