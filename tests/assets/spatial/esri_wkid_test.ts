/**
 * An Esri JSON whose CRS is ArcGIS's `"wkid": 102100` with no `latestWkid`
 * (ArcGIS Server 10.0 and older, `f=json` queries): GDAL looks the id up as
 * EPSG:102100, which PROJ lacks, so the file was refused as unknown_crs on
 * both engines; it is ESRI:102100, Web Mercator (`_esri_wkid.ts`). So is a
 * GeoJSON whose legacy `"crs"` names `urn:ogc:def:crs:EPSG::102100`, which
 * GDAL read as WGS 84 after saying it did not know the code.
 */

import assert from "node:assert/strict";
import { runBatch } from "./_fixtures.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { assertDone, assertQuarantined, engines, landing, ourFeatures } from "./_batches.ts";

const ESRI_JSON = JSON.stringify({
  objectIdFieldName: "OBJECTID",
  geometryType: "esriGeometryPoint",
  spatialReference: { wkid: 102100 },
  fields: [
    { name: "OBJECTID", type: "esriFieldTypeOID", alias: "OBJECTID" },
    { name: "NAME", type: "esriFieldTypeString", alias: "Name", length: 50 },
  ],
  features: [
    { attributes: { OBJECTID: 1, NAME: "Station A" }, geometry: { x: -12000000.5, y: 5000000.25 } },
    { attributes: { OBJECTID: 2, NAME: "Station B" }, geometry: { x: -12001000, y: 5001000 } },
  ],
});

Deno.test("spatial Esri JSON: ArcGIS's wkid 102100 is Web Mercator on both engines", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "esri-wkid-" });
  try {
    await Deno.writeTextFile(`${dir}/stations.json`, ESRI_JSON);
    const upload = (crs: string) => [{
      name: "stations.json",
      from: `${dir}/stations.json`,
      type: "vector" as const,
      format: "gdal:ESRIJSON",
      crs,
    }];
    for (const [engine, gdal] of engines) {
      await t.step(`${engine}: declared EPSG:3857, published in lon/lat`, async () => {
        const batch = `esri-wkid-${engine}`;
        const l = await landing(batch, upload("EPSG:3857"));
        await using _store = l.store;
        const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
        const [first] = await ourFeatures(l, docs[0]!.key);
        assert.equal(first?.properties.NAME, "Station A");
        // x = -12000000.5 m in Web Mercator is 107.7978...° W.
        const [lon, lat] = first!.geometry!.coordinates as number[];
        assert.ok(Math.abs(lon! - -107.79783858591898) < 1e-9, String(lon));
        assert.ok(Math.abs(lat! - 40.91627616774484) < 1e-9, String(lat));
      });
      await t.step(`${engine}: declared EPSG:4326, told the file's CRS`, async () => {
        const batch = `esri-wkid-4326-${engine}`;
        const l = await landing(batch, upload("EPSG:4326"));
        await using _store = l.store;
        const problems = await assertQuarantined(l, batch, await runBatch(l, batch, {}, { gdal }));
        assert.equal(problems[0]?.code, "crs_mismatch", problems[0]?.message);
        assert.match(
          problems[0]!.message,
          /stations\.json' is in ESRI:102100 .* declares EPSG:4326/,
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A GeoJSON as ArcGIS clients write Web Mercator: its legacy crs names EPSG::102100. */
const geoJson = (name: string) =>
  JSON.stringify({
    type: "FeatureCollection",
    crs: { type: "name", properties: { name } },
    features: [
      {
        type: "Feature",
        properties: { NAME: "Station A" },
        geometry: { type: "Point", coordinates: [-12000000.5, 5000000.25] },
      },
      {
        type: "Feature",
        properties: { NAME: "Station B" },
        geometry: { type: "Point", coordinates: [-12001000, 5001000] },
      },
    ],
  });

Deno.test("spatial GeoJSON: a crs named EPSG::102100 is ArcGIS's Web Mercator on both engines", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "geojson-102100-" });
  try {
    await Deno.writeTextFile(`${dir}/urn.geojson`, geoJson("urn:ogc:def:crs:EPSG::102100"));
    await Deno.writeTextFile(`${dir}/short.geojson`, geoJson("EPSG:102100"));
    await Deno.writeTextFile(`${dir}/unknown.geojson`, geoJson("urn:ogc:def:crs:EPSG::999999"));
    const upload = (name: string, crs: string) => [{
      name,
      from: `${dir}/${name}`,
      type: "vector" as const,
      format: "geojson",
      crs,
    }];
    for (const [engine, gdal] of engines) {
      for (const name of ["urn.geojson", "short.geojson"]) {
        await t.step(`${engine}: ${name} declared EPSG:3857, published in lon/lat`, async () => {
          const batch = `geojson-102100-${name.split(".")[0]}-${engine}`;
          const l = await landing(batch, upload(name, "EPSG:3857"));
          await using _store = l.store;
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          const [first] = await ourFeatures(l, docs[0]!.key);
          assert.equal(first?.properties.NAME, "Station A");
          const [lon, lat] = first!.geometry!.coordinates as number[];
          assert.ok(Math.abs(lon! - -107.79783858591898) < 1e-9, String(lon));
          assert.ok(Math.abs(lat! - 40.91627616774484) < 1e-9, String(lat));
          const bbox = SpatialLedgerMetadata.parse(docs[0]!.metadata).bbox!;
          assert.ok(Math.abs(bbox[0]! - -107.807) < 0.01, JSON.stringify(bbox));
        });
      }
      await t.step(`${engine}: declared EPSG:4326, told the file's CRS`, async () => {
        const batch = `geojson-102100-4326-${engine}`;
        const l = await landing(batch, upload("urn.geojson", "EPSG:4326"));
        await using _store = l.store;
        const problems = await assertQuarantined(l, batch, await runBatch(l, batch, {}, { gdal }));
        assert.equal(problems[0]?.code, "crs_mismatch", problems[0]?.message);
        assert.match(problems[0]!.message, /urn\.geojson' is in ESRI:102100 .* declares EPSG:4326/);
      });
      await t.step(`${engine}: a code neither EPSG nor ESRI has stays unknown_crs`, async () => {
        const batch = `geojson-999999-${engine}`;
        const l = await landing(batch, upload("unknown.geojson", "EPSG:3857"));
        await using _store = l.store;
        const problems = await assertQuarantined(l, batch, await runBatch(l, batch, {}, { gdal }));
        assert.equal(problems[0]?.code, "unknown_crs", problems[0]?.message);
        assert.match(problems[0]!.message, /unknown\.geojson'.*EPSG::999999/);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
