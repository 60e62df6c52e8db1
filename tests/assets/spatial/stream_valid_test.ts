/**
 * On the wasm engine a Shapefile is streamed into a FlatGeobuf without
 * `-makevalid`; the rows JavaScript cannot prove valid are made valid apart
 * and written in their place (assets/spatial/_stream_valid.ts). The file
 * must be byte for byte the one a whole-layer `-makevalid` gives; a corrupt
 * record part-way and a worker killed during the conversion must fail the
 * batch naming the user's file, and the next batch must work.
 */

import assert from "node:assert/strict";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import {
  madeValidRows,
  repairsWhileStreaming,
  wkbToGeoJson,
} from "../../../assets/spatial/_stream_valid.ts";
import { flatgeobufToGeoParquet } from "../../../formats/flatgeobuf_pages.ts";
import type { GdalEngine } from "../../../resources/spatial/gdal.ts";
import { stopWasmInstances, wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { batchRun } from "./_fixtures.ts";
import { shapefileLanding, watchingOgr2ogr } from "./_batches.ts";

const CRS = { type: "GeographicCRS", name: "WGS 84" };

/** A ring of `n` vertices around (cx, cy) with full-precision coordinates (closed). */
function ring(cx: number, cy: number, n: number, r: number, z?: number): number[][] {
  const points = Array.from({ length: n }, (_, k) => {
    const a = (k / n) * 2 * Math.PI;
    const p = [cx + r * Math.cos(a) + Math.random() * 1e-9, cy + r * Math.sin(a)];
    return z === undefined ? p : [...p, z + k / 3];
  });
  return [...points, points[0]!];
}

/** Polygons: valid ones, bowties, overlapping multipolygon parts, a hole crossing its shell. */
function features(count: number, z: boolean) {
  const at = (i: number) => (z ? [i * 0.37] : []);
  return Array.from({ length: count }, (_, i) => {
    const cx = -116 + (i % 100) * 0.1 + 0.1 / 3;
    const cy = 44 + Math.floor(i / 100) * 0.1 - 0.1 / 7;
    let coordinates: unknown;
    let type = "Polygon";
    if (i % 7 === 3) {
      coordinates = [[[cx, cy], [cx + 0.01, cy + 0.01], [cx + 0.01, cy], [cx, cy + 0.01], [cx, cy]]
        .map((p) => [...p, ...at(i)])];
    } else if (i % 11 === 5) {
      type = "MultiPolygon";
      coordinates = [[ring(cx, cy, 9, 0.02, z ? i : undefined)], [
        ring(cx + 0.01, cy, 7, 0.02, z ? i : undefined),
      ]];
    } else if (i % 13 === 6) {
      coordinates = [
        ring(cx, cy, 12, 0.01, z ? i : undefined),
        ring(cx + 0.008, cy, 6, 0.005, z ? i : undefined),
      ];
    } else {
      coordinates = [ring(cx, cy, 5 + (i % 17), 0.004, z ? i : undefined)];
    }
    return {
      type: "Feature",
      properties: { n: i, name: `parcel ${i}`, value: i * 1.25 },
      geometry: { type, coordinates },
    };
  });
}

/** Writes a Shapefile of `count` polygons with gdal3.js into `dir`; returns its .shp path. */
async function shapefile(dir: string, name: string, count: number, z = false): Promise<string> {
  await using scratch = await wasmGdal.createScratch();
  await Deno.writeTextFile(
    scratch.hostPath(`${name}.geojson`),
    JSON.stringify({ type: "FeatureCollection", features: features(count, z) }),
  );
  const out = await scratch.gdal.ogr2ogr(
    scratch.gdalPath(`${name}.geojson`),
    ["-f", "ESRI Shapefile", "-nln", name, "-nlt", z ? "MULTIPOLYGON25D" : "MULTIPOLYGON"],
    name,
  );
  const host = scratch.toHost(out);
  const stem = host.replace(/\.shp$/, "");
  for (const ext of ["shp", "shx", "dbf", "prj", "cpg"]) {
    await Deno.copyFile(`${stem}.${ext}`, `${dir}/${name}.${ext}`).catch(() => {});
  }
  return `${dir}/${name}.shp`;
}

Deno.test("wasm stream: rows made valid apart give the whole-layer -makevalid file, byte for byte", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "stream-valid-test-" });
  try {
    for (const z of [false, true]) {
      await t.step(z ? "polygons with Z" : "polygons", async () => {
        const shp = await shapefile(dir, z ? "parcels_z" : "parcels", 3000, z);
        await using scratch = await wasmGdal.createScratch();
        for (const ext of ["shp", "shx", "dbf", "prj"]) {
          await Deno.copyFile(shp.replace(/shp$/, ext), scratch.hostPath(`in.${ext}`));
        }
        const args = [
          ...["-f", "FlatGeobuf", "-lco", "SPATIAL_INDEX=NO", "-nln", "input", "-unsetFid"],
          ...["-nlt", "CONVERT_TO_LINEAR", "-nlt", z ? "GEOMETRY25D" : "GEOMETRY"],
        ];
        const src = scratch.gdalPath("in.shp");
        // The writer follows GDAL a window of rows behind the repairs.
        const conversion = scratch.gdal.ogr2ogr(src, args, "stream");
        const repairs = repairsWhileStreaming(
          scratch,
          scratch.hostPath("stream.fgb"),
          conversion,
          "mv",
          { hasZ: z, open: { label: "b/parcels.shp" }, window: 700 },
        );
        const ours = await flatgeobufToGeoParquet(
          scratch.hostPath("stream.fgb"),
          scratch.hostPath("ours.parquet"),
          { crs: CRS, follow: conversion, replace: repairs.upTo },
        );
        assert.equal(await repairs.done, 3000);
        const replaced = await repairs.upTo(3000);
        assert.ok(replaced.size > 3000 / 7, `bowties and crossings made valid (${replaced.size})`);
        const whole = await scratch.gdal.ogr2ogr(src, [...args, "-makevalid"], "whole");
        const theirs = await flatgeobufToGeoParquet(
          scratch.toHost(whole),
          scratch.hostPath("theirs.parquet"),
          { crs: CRS },
        );
        assert.equal(ours.rows, 3000);
        assert.equal(theirs.rows, 3000);
        assert.deepEqual(
          await Deno.readFile(scratch.hostPath("ours.parquet")),
          await Deno.readFile(scratch.hostPath("theirs.parquet")),
        );
        // Without the replacements the file differs: the test sees the repair.
        await flatgeobufToGeoParquet(
          scratch.hostPath("stream.fgb"),
          scratch.hostPath("raw.parquet"),
          { crs: CRS },
        );
        assert.notDeepEqual(
          await Deno.readFile(scratch.hostPath("raw.parquet")),
          await Deno.readFile(scratch.hostPath("theirs.parquet")),
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** ISO WKB of a 2D polygon with one ring. */
function polygonWkb(points: number[][]): Uint8Array {
  const bytes = new Uint8Array(9 + 4 + points.length * 16);
  const view = new DataView(bytes.buffer);
  bytes[0] = 1;
  view.setUint32(1, 3, true);
  view.setUint32(5, 1, true);
  view.setUint32(9, points.length, true);
  points.forEach(([x, y], i) => {
    view.setFloat64(13 + i * 16, x!, true);
    view.setFloat64(21 + i * 16, y!, true);
  });
  return bytes;
}

Deno.test("wkbToGeoJson: every double reads back the same; what GeoJSON cannot carry is refused", () => {
  const xs = [
    0.1 + 0.2,
    -0,
    5e-324,
    1.7976931348623157e308,
    -116.00000000000001,
    1 / 3,
    2 ** 53 + 2,
  ];
  const wkb = polygonWkb([...xs.map((x, i) => [x, -xs[(i + 1) % xs.length]!]), [xs[0]!, -xs[1]!]]);
  const json = JSON.parse(wkbToGeoJson(wkb)!) as { type: string; coordinates: number[][][] };
  assert.equal(json.type, "Polygon");
  const back = json.coordinates[0]!;
  xs.forEach((x, i) => {
    assert.ok(Object.is(back[i]![0], x), `${x} read back as ${back[i]![0]}`);
    assert.ok(Object.is(back[i]![1], -xs[(i + 1) % xs.length]!));
  });
  // An empty point (NaN), a cut WKB, a collection: not carried.
  const empty = new Uint8Array(21);
  new DataView(empty.buffer).setUint32(1, 1, true);
  new DataView(empty.buffer).setFloat64(5, NaN, true);
  new DataView(empty.buffer).setFloat64(13, NaN, true);
  empty[0] = 1;
  assert.equal(wkbToGeoJson(empty), undefined);
  assert.equal(wkbToGeoJson(wkb.subarray(0, wkb.length - 3)), undefined);
  const collection = new Uint8Array(9);
  collection[0] = 1;
  new DataView(collection.buffer).setUint32(1, 7, true);
  assert.equal(wkbToGeoJson(collection), undefined);
});

Deno.test("madeValidRows: a geometry GeoJSON cannot carry leaves the layer to the GeoPackage route", async () => {
  await using scratch = await wasmGdal.createScratch();
  const empty = new Uint8Array(21);
  empty[0] = 1;
  new DataView(empty.buffer).setUint32(1, 1, true);
  new DataView(empty.buffer).setFloat64(5, NaN, true);
  new DataView(empty.buffer).setFloat64(13, NaN, true);
  const rows = new Map([[1, polygonWkb([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])], [2, empty]]);
  assert.equal(
    await madeValidRows(scratch, rows, "mv", { hasZ: false, open: { label: "b/x.shp" } }),
    undefined,
  );
  const made = await madeValidRows(scratch, new Map([[7, rows.get(1)!]]), "mv2", {
    hasZ: false,
    open: { label: "b/x.shp" },
  });
  assert.equal(made?.size, 1);
  assert.equal(new DataView(made.get(7)!.buffer, made.get(7)!.byteOffset).getUint32(1, true), 6);
});

async function batch(dir: string, name: string, gdal: GdalEngine) {
  const l = await shapefileLanding(dir, name, ["shx", "dbf", "prj"]);
  return await processVectorBatch(batchRun(l, name, { gdal }));
}

Deno.test("wasm stream: a corrupt record part-way and a killed worker fail naming the user's file; the next batch works", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "stream-valid-fail-" });
  try {
    const shp = await shapefile(dir, "parcels", 40_000);
    await t.step("a record cut part-way", async () => {
      for (const ext of ["shx", "dbf", "prj"]) {
        await Deno.copyFile(`${dir}/parcels.${ext}`, `${dir}/broken.${ext}`);
      }
      const bytes = await Deno.readFile(shp);
      const shx = await Deno.readFile(`${dir}/parcels.shx`);
      // Record 30000's point count made huge: GDAL has read 29999 features by then.
      const offset = new DataView(shx.buffer).getInt32(100 + 29_999 * 8, false) * 2;
      new DataView(bytes.buffer).setInt32(offset + 8 + 40, 4, true);
      new DataView(bytes.buffer).setInt32(offset + 8 + 40 + 4, 0x7fffff00, true);
      await Deno.writeFile(`${dir}/broken.shp`, bytes);
      const error = await batch(dir, "broken", wasmGdal).then(() => undefined, (e: Error) => e);
      assert.ok(error instanceof Error, "the batch fails");
      assert.match(error.message, /'broken\/broken\.shp'/);
      assert.doesNotMatch(error.message, /job-|_stream|\/output\//);
    });
    await t.step("the gdal3.js worker killed while GDAL writes", async () => {
      let stopped: Promise<number> | undefined;
      const killing = watchingOgr2ogr(wasmGdal, (_, outputName) => {
        if (!outputName.endsWith("_stream")) return;
        stopped = new Promise((resolve) => setTimeout(resolve, 150)).then(stopWasmInstances);
      });
      const error = await batch(dir, "parcels", killing).then(() => undefined, (e: Error) => e);
      assert.ok((await stopped!) >= 1, "an instance was stopped");
      assert.ok(error instanceof Error, "the batch fails");
      assert.match(error.message, /'parcels\/parcels\.shp'.*gdal3\.js worker stopped/);
      const [out] = await batch(dir, "parcels", wasmGdal);
      assert.equal(out?.rows, 40_000);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
