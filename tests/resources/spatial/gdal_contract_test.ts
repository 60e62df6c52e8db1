/**
 * One contract over every GDAL engine reachable here (gdal3.js always; the
 * machine's gdal-bin when GDAL >= 3.6 is installed): the same answers from
 * the same files, GDAL's own messages naming the caller's label, never a
 * scratch path or `[object Object]`.
 */

import assert from "node:assert/strict";
import { wktCode } from "../../../assets/spatial/crs.ts";
import { DatabaseSync } from "node:sqlite";
import {
  type GdalEngine,
  GdalError,
  SCRATCH_GPKG_OPTIONS,
} from "../../../resources/spatial/gdal.ts";
import {
  detectNativeGdal,
  nativeHostStats,
  stopNativeHosts,
} from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { needs } from "../../_helpers/tools.ts";

const SAMPLE = new URL("../../../sample_data/spatial/montana-sample/", import.meta.url).pathname;
const native = await detectNativeGdal();

async function answers(engine: GdalEngine) {
  await using scratch = await engine.createScratch();
  for (const ext of ["shp", "shx", "dbf", "prj"]) {
    await Deno.copyFile(`${SAMPLE}/counties.${ext}`, scratch.hostPath(`counties.${ext}`));
  }
  await Deno.copyFile(`${SAMPLE}/dem.tif`, scratch.hostPath("dem.tif"));
  const vector = await scratch.gdal.vectorInfo(scratch.gdalPath("counties.shp"));
  const layer = vector.layers[0]!;
  const raster = await scratch.gdal.rasterInfo(scratch.gdalPath("dem.tif"));
  const crs = await scratch.gdal.crsInfo("EPSG:4326");
  const gpkg = await scratch.gdal.ogr2ogr(
    scratch.gdalPath("counties.shp"),
    ["-f", "GPKG", "-t_srs", "EPSG:4326", "-makevalid"],
    "out",
    { layers: ["counties"] },
  );
  const out = await scratch.gdal.vectorInfo(gpkg);
  const cog = await scratch.gdal.translate(
    scratch.gdalPath("dem.tif"),
    ["-of", "COG", "-co", "COMPRESS=DEFLATE"],
    "dem_cog",
  );
  const cogInfo = await scratch.gdal.rasterInfo(cog, ["-checksum"]);
  const warped = await scratch.gdal.warp(
    scratch.gdalPath("dem.tif"),
    ["-t_srs", "EPSG:4326", "-of", "GTiff"],
    "dem_4326",
  );
  const warpedInfo = await scratch.gdal.rasterInfo(warped);
  const errors: string[] = [];
  await Deno.writeFile(scratch.hostPath("bad.tif"), new Uint8Array([73, 73, 42, 0, 8, 0, 0, 0, 1]));
  for (
    const attempt of [
      () => scratch.gdal.rasterInfo(scratch.gdalPath("bad.tif"), [], { label: "b1/bad.tif" }),
      () => scratch.gdal.vectorInfo(scratch.gdalPath("dem.tif"), { label: "b1/dem.tif" }),
      () => scratch.gdal.crsInfo("EPSG:999999"),
    ]
  ) {
    try {
      await attempt();
      errors.push("no error");
    } catch (error) {
      assert.ok(error instanceof GdalError, String(error));
      assert.doesNotMatch(error.message, /\[object Object\]|\/output\/|gdal-native-|Pointer/);
      errors.push(error.message);
    }
  }
  return {
    driver: vector.driverShortName,
    layer: [layer.name, layer.featureCount, layer.fields.map((f) => f.name)],
    crs: wktCode(layer.geometryFields[0]!.coordinateSystem!.wkt!),
    raster: [raster.driverShortName, raster.size],
    target: (crs.projjson.id as { code: number }).code,
    converted: [
      out.layers[0]!.featureCount,
      wktCode(out.layers[0]!.geometryFields[0]!.coordinateSystem!.wkt!),
    ],
    checksum: (cogInfo.bands as { checksum: number }[]).map((b) => b.checksum),
    warped: [
      warpedInfo.driverShortName,
      wktCode((warpedInfo.coordinateSystem as { wkt: string }).wkt),
    ],
    errors,
  };
}

Deno.test({
  name: "GDAL engines: the same answers, and GDAL's own errors naming the user's file",
  fn: async (t) => {
    const results: Awaited<ReturnType<typeof answers>>[] = [];
    const engines: [string, GdalEngine | undefined, boolean][] = [
      ["wasm", wasmGdal, false],
      ["native", native, await needs("gdal")],
    ];
    for (const [name, engine, ignore] of engines) {
      await t.step({
        name,
        ignore,
        fn: async () => {
          assert.ok(
            engine,
            "gdal-bin is installed but older than GDAL 3.6, which the engine needs",
          );
          const r = await answers(engine);
          assert.equal(r.driver, "ESRI Shapefile");
          assert.deepEqual(r.layer, ["counties", 4, ["name", "fips"]]);
          assert.equal(r.crs, "EPSG:32100");
          assert.deepEqual(r.raster, ["GTiff", [64, 64]]);
          assert.equal(r.target, 4326);
          assert.deepEqual(r.converted, [4, "EPSG:4326"]);
          assert.deepEqual(r.warped, ["GTiff", "EPSG:4326"]);
          assert.match(r.errors[0]!, /'b1\/bad\.tif'.*TIFF/);
          assert.match(r.errors[1]!, /'b1\/dem\.tif'/);
          assert.match(r.errors[2]!, /EPSG:999999.*crs not found/);
          results.push(r);
        },
      });
    }
    if (results.length === 2) {
      // Pixels are the same whichever engine wrote the COG.
      assert.deepEqual(results[1]!.checksum, results[0]!.checksum);
    }
  },
});

Deno.test({
  name: "native engine: libgdal gone is a platform failure, never a bad file",
  ignore: native === undefined,
  fn: async () => {
    const { isContentProblem } = await import("../../../assets/spatial/batch_asset.ts");
    await using scratch = await native!.createScratch();
    await Deno.copyFile(`${SAMPLE}/trailheads.geojson`, scratch.hostPath("t.geojson"));
    stopNativeHosts();
    Deno.env.set("GDAL_LIBRARY_PATH", "/nonexistent/libgdal.so");
    try {
      const error = await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson")).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(error instanceof GdalError);
      assert.equal(error.code, "spatial.native_gdal_missing");
      assert.match(error.message, /libgdal/);
      // The batch asset leaves such a batch pending instead of quarantining it.
      assert.equal(isContentProblem(error), false);
    } finally {
      Deno.env.delete("GDAL_LIBRARY_PATH");
    }
    // GDAL back: the next call starts a new host.
    const info = await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson"));
    assert.equal(info.driverShortName, "GeoJSON");
  },
});

Deno.test({
  name: "native engine: a host that read a WGS 84 UTM GeoTIFF gives EPSG:4326 and that " +
    "GeoTIFF's CRS with the WGS 84 ensemble, as wasm and a fresh host do",
  ignore: native === undefined,
  fn: async () => {
    // Its CRS had the plain datum "World Geodetic System 1984" after such a read
    // (PROJ's per-process cache), so the GeoParquet 'geo' CRS of a vector
    // depended on what its host had read before (matrix_test.ts, once in five CI runs).
    stopNativeHosts(); // A fresh host, and a spelling of EPSG:4326 no earlier test cached.
    const crs = "urn:ogc:def:crs:EPSG::4326";
    const answer = async (engine: GdalEngine) => {
      await using scratch = await engine.createScratch();
      await Deno.copyFile(`${SAMPLE}/dem.tif`, scratch.hostPath("dem.tif"));
      const raster = await scratch.gdal.rasterInfo(scratch.gdalPath("dem.tif")) as {
        coordinateSystem: { wkt: string };
      };
      const target = await scratch.gdal.crsInfo(crs);
      return { raster: raster.coordinateSystem.wkt, target: target.projjson, wkt: target.wkt };
    };
    const got = await answer(native!);
    const want = await answer(wasmGdal);
    const ensemble = /ENSEMBLE\["World Geodetic System 1984 ensemble"/;
    assert.match(want.wkt, ensemble);
    assert.deepEqual(got.target, want.target, `${crs} on the host that read dem.tif`);
    assert.match(got.wkt, ensemble); // One line from native, indented from wasm.
    assert.match(want.raster, ensemble);
    assert.match(got.raster, ensemble);
  },
});

/** Pids of this process's GDAL hosts (children running _gdal_host.ts). */
async function hostPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (parent === Deno.pid && cmdline.includes("_gdal_host.ts")) pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

Deno.test({
  name:
    "native engine: GDAL crashing on a file is that file's problem; the next call gets a new host",
  ignore: native === undefined || Deno.build.os !== "linux",
  fn: async () => {
    const { isContentProblem } = await import("../../../assets/spatial/batch_asset.ts");
    await using scratch = await native!.createScratch();
    await Deno.copyFile(`${SAMPLE}/trailheads.geojson`, scratch.hostPath("t.geojson"));
    await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson"));
    const pids = await hostPids();
    assert.ok(pids.length > 0, "a GDAL host serves the engine");
    // What an abort inside GDAL looks like from outside (V8 keeps a SIGSEGV sent by kill for itself).
    // One crash may be another call's (hosts have aborted under heavy load on files that
    // convert fine alone): the call is tried once more on a fresh host, and succeeds.
    for (const pid of pids) Deno.kill(pid, "SIGABRT");
    const retried = await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson"), {
      label: "b1/t.geojson",
    });
    assert.equal(retried.layers[0]?.featureCount, 6, "one host crash alone blames no file");
    // A file that crashes the fresh host too fails with spatial.gdal_crashed, a content problem
    // (killing the retry's new host from outside in time is too racy to test here).
    assert.equal(
      isContentProblem(new GdalError("spatial.gdal_crashed", "x", { input: "b1/t.geojson" })),
      true,
    );
    const info = await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson"));
    assert.equal(info.layers[0]?.featureCount, 6);
    const others = await hostPids();
    assert.ok(others.length > 0 && others.every((p) => !pids.includes(p)), "a new host took over");
    // Killed from outside (out-of-memory killer): the platform's problem, the batch stays pending.
    for (const pid of others) Deno.kill(pid, "SIGKILL");
    const killed = await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson")).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(killed instanceof GdalError);
    assert.equal(killed.code, "spatial.gdal_host_died");
    assert.equal(isContentProblem(killed), false);
  },
});

Deno.test({
  name: "native engine: more calls at once than hosts all finish (a host given back wakes a " +
    "waiting call)",
  ignore: native === undefined,
  fn: async () => {
    const { MAX_HOSTS } = await import("../../../resources/spatial/gdal_native.ts");
    await using scratch = await native!.createScratch();
    await Deno.copyFile(`${SAMPLE}/trailheads.geojson`, scratch.hostPath("t.geojson"));
    // Regression: hosts going back to the idle pool did not wake the calls waiting for one, so
    // with more concurrent calls than MAX_HOSTS the extra calls waited for ever (spatial steps of
    // busy daemons hung with their hosts idle).
    for (let round = 0; round < 2; round++) {
      const calls = Array.from(
        { length: MAX_HOSTS * 4 },
        () => scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson")),
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<"hung">((resolve) => {
        timer = setTimeout(() => resolve("hung"), 120_000);
      });
      try {
        const outcome = await Promise.race([Promise.all(calls), hung]);
        assert.notEqual(outcome, "hung", "some calls never got a GDAL host");
        if (outcome !== "hung") {
          assert.deepEqual(outcome.map((i) => i.layers[0]?.featureCount), calls.map(() => 6));
        }
      } finally {
        clearTimeout(timer);
      }
    }
  },
});

/** `count` 12-vertex polygons as a CSV with a WKT column, as a user might upload them. */
async function polygonsCsv(file: string, count: number): Promise<void> {
  let seed = 5;
  const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const lines = ["id,name,wkt"];
  for (let i = 0; i < count; i++) {
    const cx = -116 + random() * 12;
    const cy = 44 + random() * 5;
    const ring = Array.from({ length: 12 }, (_, k) => {
      const a = (k / 12) * 2 * Math.PI;
      const r = 0.002 + random() * 0.004;
      return `${(cx + r * Math.cos(a)).toFixed(6)} ${(cy + r * Math.sin(a)).toFixed(6)}`;
    });
    lines.push(`${i},parcel ${i},"POLYGON((${[...ring, ring[0]].join(",")}))"`);
  }
  await Deno.writeTextFile(file, `${lines.join("\n")}\n`);
}

Deno.test({
  name: "native engine: the host's memory stays flat whatever the size of the layer it converts " +
    "to a scratch GeoPackage (64 KiB pages, SQLite's small page cache)",
  ignore: native === undefined || Deno.build.os !== "linux", // VmHWM is read from /proc.
  fn: async () => {
    await using scratch = await native!.createScratch();
    const peaks: number[] = [];
    for (const count of [20_000, 120_000]) {
      await polygonsCsv(scratch.hostPath(`p${count}.csv`), count);
      // A fresh host per size, so that its high-water mark is this conversion's alone.
      stopNativeHosts();
      const out = await scratch.gdal.ogr2ogr(
        `CSV:${scratch.gdalPath(`p${count}.csv`)}`,
        [...SCRATCH_GPKG_OPTIONS, "-nln", "input", "-makevalid", "-a_srs", "EPSG:4326"],
        `p${count}`,
        { openOptions: ["GEOM_POSSIBLE_NAMES=wkt", "KEEP_GEOM_COLUMNS=NO"] },
      );
      peaks.push((await nativeHostStats()).peakRssKiB / 1024);
      const db = new DatabaseSync(scratch.toHost(out), { readOnly: true });
      try {
        assert.equal(db.prepare("SELECT count(*) AS n FROM input").get()?.n, count);
        assert.equal(db.prepare("PRAGMA page_size").get()?.page_size, 65_536);
      } finally {
        db.close();
      }
    }
    // Six times the features: a ~45 MB GeoPackage instead of ~8 MB. A host caching the file it
    // writes (the former 256 MB SQLite cache) grew by about that difference; now only GEOS's
    // and malloc's working set moves.
    const [small, large] = peaks as [number, number];
    assert.ok(
      large - small < 20,
      `host peak ${small.toFixed(0)} MiB at 20k, ${large.toFixed(0)} MiB at 120k`,
    );
  },
});

Deno.test({
  name:
    "GDAL engines: drivers restricts what may open a file (KML driver where GDAL prefers LIBKML)",
  fn: async (t) => {
    const kml = '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>' +
      "<Placemark><name>A</name><Point><coordinates>1,2</coordinates></Point></Placemark>" +
      "</Document></kml>";
    const engines: [string, GdalEngine | undefined, boolean][] = [
      ["wasm", wasmGdal, false],
      ["native", native, await needs("gdal")],
    ];
    for (const [name, engine, ignore] of engines) {
      await t.step({
        name,
        ignore,
        fn: async () => {
          await using scratch = await engine!.createScratch();
          await Deno.writeTextFile(scratch.hostPath("a.kml"), kml);
          const file = scratch.gdalPath("a.kml");
          const open = { label: "b1/a.kml", drivers: ["KML"] };
          const info = await scratch.gdal.vectorInfo(file, open);
          assert.equal(info.driverShortName, "KML");
          assert.deepEqual(info.layers[0]!.fields.map((f) => f.name), ["Name", "Description"]);
          const out = await scratch.gdal.ogr2ogr(file, ["-f", "GPKG"], "a", open);
          const converted = await scratch.gdal.vectorInfo(out);
          assert.deepEqual(converted.layers[0]!.fields.map((f) => f.name), [
            "Name",
            "Description",
          ]);
          const refused = await scratch.gdal.vectorInfo(file, { ...open, drivers: ["GeoJSON"] })
            .then(() => undefined, (e) => e);
          assert.ok(refused instanceof GdalError, String(refused));
          assert.match(refused.message, /'b1\/a\.kml'/);
        },
      });
    }
  },
});
