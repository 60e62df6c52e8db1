/**
 * The data endpoints with data behind them: the lake browser and an object
 * with its ledger document, quarantine reports, the map layers, and the
 * warehouse preview with compiled SQL (DuckDB in memory).
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { dataServer } from "./_data_fixture.ts";
import { SCRIPT } from "./_fixture.ts";

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

Deno.test("page: an object's source files link where they are now (landing, archive or gone)", async () => {
  // Once its batch was archived, every source file's first link was a 404 ('No object ...').
  await using data = await dataServer();
  const { server, lake, ledger } = data;
  const body = new TextEncoder().encode("x");
  await lake.put("landing-zone", "b1/still.csv", body);
  await lake.put("landing-zone", "archive/b1/done.geojson", body);
  const out = await lake.put("data-lake", "proj/b1/layer.parquet", body);
  await ledger.upsert({
    bucket: "data-lake",
    key: "proj/b1/layer.parquet",
    sha256: out.sha256,
    size: out.size,
    run_id: "run-2",
    asset_key: "spatial/vector_geoparquet",
    partition: "b1",
    format: "geoparquet",
    metadata: {
      source_files: ["b1/still.csv", "b1/done.geojson", "b1/gone.tif"].map((key) => ({
        key,
        sha256: "ab".repeat(32),
      })),
    },
  });
  const page = await (await fetch(
    `${server.url}/lake/object?bucket=data-lake&key=proj/b1/layer.parquet`,
  )).text();
  const items = [...page.matchAll(/<li>(.*?)<\/li>/gs)].map((m) => m[1] ?? "");
  const hrefs = [...items.join("").matchAll(/href="([^"]+)"/g)].map((m) =>
    m[1]!.replaceAll("&amp;", "&")
  );
  assertEquals(hrefs, [
    "/lake/object?bucket=landing-zone&key=b1%2Fstill.csv",
    "/lake/object?bucket=landing-zone&key=archive%2Fb1%2Fdone.geojson",
  ]);
  for (const href of hrefs) assertEquals((await fetch(`${server.url}${href}`)).status, 200, href);
  assertMatch(items.find((i) => i.includes("gone.tif")) ?? "", /no longer in landing-zone/);
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
