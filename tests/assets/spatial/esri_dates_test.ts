/**
 * Esri JSON `esriFieldTypeDate` values (milliseconds since 1970): gdal3.js
 * (GDAL 3.8) published them as ISO 8601 text, native GDAL 3.6 as the
 * number's text, so the engines made different tables of one file
 * (`_esri_dates.ts`).
 */

import assert from "node:assert/strict";
import { runBatch } from "./_fixtures.ts";
import { assertDone, engines, landing, ourFeatures } from "./_batches.ts";
import { esriDatesAsText } from "../../../assets/spatial/_esri_dates.ts";

const feature = (id: number, inspected: unknown, note = "") => ({
  attributes: { OBJECTID: id, NOTE: note, INSPECTED: inspected, UPDATED: 1704103200000 },
  geometry: { x: -12000000 + id * 10, y: 5000000 },
});

const ESRI_JSON = JSON.stringify({
  objectIdFieldName: "OBJECTID",
  geometryType: "esriGeometryPoint",
  spatialReference: { wkid: 102100, latestWkid: 3857 },
  fields: [
    { name: "OBJECTID", type: "esriFieldTypeOID" },
    { name: "NOTE", type: "esriFieldTypeString", length: 80 },
    { name: "INSPECTED", type: "esriFieldTypeDate", length: 8 },
    { name: "UPDATED", type: "esriFieldTypeDate", length: 8 },
  ],
  features: [
    feature(1, 1704103200123),
    feature(2, 0),
    feature(3, -86400000),
    feature(4, null),
    // A text value that only looks like an attribute: left as it is.
    feature(5, 1500000000000.5, '"INSPECTED": 5'),
    feature(6, "1704103200000"),
  ],
});

const EXPECTED = [
  "2024-01-01T10:00:00.123Z",
  "1970-01-01T00:00:00.000Z",
  "1969-12-31T00:00:00.000Z",
  null,
  "2017-07-14T02:40:00.000Z",
  "2024-01-01T10:00:00.000Z",
];

Deno.test("esriDatesAsText: only the declared date fields' values, never text inside a value", async () => {
  const dir = await Deno.makeTempDir({ prefix: "esri-dates-unit-" });
  try {
    await Deno.writeTextFile(`${dir}/a.json`, ESRI_JSON);
    const out = await esriDatesAsText(`${dir}/a.json`, ["NOTE", "INSPECTED"], `${dir}/x`);
    assert.equal(out, `${dir}/x/a.json`);
    const json = JSON.parse(await Deno.readTextFile(out!)) as {
      features: { attributes: Record<string, unknown> }[];
    };
    assert.deepEqual(json.features.map((f) => f.attributes.INSPECTED), EXPECTED);
    assert.equal(json.features[4]!.attributes.NOTE, '"INSPECTED": 5');
    // UPDATED is read as a date by this GDAL (not listed): left as milliseconds.
    assert.equal(json.features[0]!.attributes.UPDATED, 1704103200000);
    assert.equal(await esriDatesAsText(`${dir}/a.json`, ["NOTE"], `${dir}/y`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spatial Esri JSON: date fields are the same ISO 8601 text on both engines", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "esri-dates-" });
  try {
    await Deno.writeTextFile(`${dir}/inspections.json`, ESRI_JSON);
    for (const [engine, gdal] of engines) {
      await t.step(engine, async () => {
        const batch = `esri-dates-${engine}`;
        const l = await landing(batch, [{
          name: "inspections.json",
          from: `${dir}/inspections.json`,
          type: "vector",
          format: "gdal:ESRIJSON",
          crs: "EPSG:3857",
        }]);
        await using _store = l.store;
        const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
        const features = await ourFeatures(l, docs[0]!.key);
        assert.deepEqual(features.map((f) => f.properties.INSPECTED), EXPECTED);
        assert.ok(features.every((f) => f.properties.UPDATED === "2024-01-01T10:00:00.000Z"));
        assert.equal(features[4]!.properties.NOTE, '"INSPECTED": 5');
        // The layer keeps the file's name.
        assert.match(docs[0]!.key, /\/inspections\.parquet$/);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
