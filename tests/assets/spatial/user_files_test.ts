/**
 * The files users really upload, made here with Debian's GDAL, through
 * `group:spatial` on every engine reachable: Shapefiles in the code pages
 * people still use (a `.cpg` naming CP1251, CP1250, ISO-8859-2, CP866 or
 * UTF-8; only the `.dbf`'s language driver byte; nothing at all), GeoTIFFs
 * with predictors, strips, BigTIFF, 1-bit fax and 12-bit packing, palettes,
 * alpha and mask bands, YCbCr JPEG, a world file (`.tfw` + `.aux.xml`) and
 * ground control points only (warped into their CRS, as gdalwarp does), and broken
 * files (zero bytes, a PNG named `.tif`, a GeoTIFF declared as GeoJSON, a
 * truncated GeoPackage, a Shapefile without its `.shx`). Each file is either
 * published exactly as native GDAL converts it, or its batch is quarantined
 * whole with a report naming the user's file: never published wrong, never a
 * batch lost (its landing files stay for a corrected upload).
 */

import assert from "node:assert/strict";
import { download, LAKE, LANDING, runBatch } from "./_fixtures.ts";
import {
  assertDone,
  assertPendingForNative,
  assertQuarantined,
  assertSameFeatures,
  docNamed,
  engines,
  gdalinfo,
  landing,
  NATIVE,
  nativeFeatures,
  ourFeatures,
  rasterFacts,
  runQuarantined,
  sh,
  type Upload,
} from "./_batches.ts";
import { cogOptions } from "../../../assets/spatial/raster.ts";
import { needs } from "../../_helpers/tools.ts";

const ignore = await needs("gdal");
const SAMPLE = new URL("../../../sample_data/spatial/montana-sample/", import.meta.url).pathname;

/** A FeatureCollection of points named `names`. */
function points(names: string[]): string {
  return JSON.stringify({
    type: "FeatureCollection",
    features: names.map((name, i) => ({
      type: "Feature",
      properties: { name, n: i },
      geometry: { type: "Point", coordinates: [10 + i, 50 + i / 10] },
    })),
  });
}

Deno.test({
  name: "user files: Shapefiles in every code page are read as native GDAL reads them",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "user-shp-" });
    try {
      const cyrillic = ["Москва", "Санкт-Петербург", "Ёлкино"];
      const central = ["Łódź", "Kraków žšč", "Győr ő"];
      await Deno.writeTextFile(`${dir}/cyr.geojson`, points(cyrillic));
      await Deno.writeTextFile(`${dir}/cen.geojson`, points(central));
      await Deno.writeTextFile(`${dir}/lat.geojson`, points(["Zürich Genève", "Ærø"]));
      const shapefile = async (name: string, source: string, encoding: string) =>
        await sh(
          "ogr2ogr",
          "-f",
          "ESRI Shapefile",
          "-lco",
          `ENCODING=${encoding}`,
          `${dir}/${name}.shp`,
          `${dir}/${source}.geojson`,
        );
      await shapefile("cp1251", "cyr", "CP1251");
      await shapefile("cp866", "cyr", "CP866");
      await shapefile("utf8", "cyr", "UTF-8");
      await shapefile("cp1250", "cen", "CP1250");
      await shapefile("latin2", "cen", "ISO-8859-2");
      // Only the .dbf's language driver id says the code page (0xC9: Russian Windows, CP1251).
      await shapefile("ldid", "cyr", "CP1251");
      await Deno.remove(`${dir}/ldid.cpg`);
      const dbf = await Deno.open(`${dir}/ldid.dbf`, { write: true });
      await dbf.seek(29, Deno.SeekMode.Start);
      await dbf.write(new Uint8Array([0xc9]));
      dbf.close();
      // Nothing says the code page of its Latin-1 text: GDAL passes the bytes through as
      // invalid UTF-8, so it is refused, saying what to declare (matrix_test.ts).
      await shapefile("bare", "lat", "ISO-8859-1");
      await Deno.remove(`${dir}/bare.cpg`);
      const names = ["cp1251", "cp866", "utf8", "cp1250", "latin2", "ldid", "bare"];
      const expected: Record<string, string[]> = {
        cp1251: cyrillic,
        cp866: cyrillic,
        utf8: cyrillic,
        ldid: cyrillic,
        cp1250: central,
        latin2: central,
      };
      for (const [kind, gdal] of engines) {
        await t.step(`${kind} engine`, async () => {
          for (const name of names) {
            const batch = `shp-${name}-${kind}`;
            const sidecars = ["shx", "dbf", "prj", "cpg"]
              .filter((e) => {
                try {
                  return Deno.statSync(`${dir}/${name}.${e}`).isFile;
                } catch {
                  return false;
                }
              })
              .map((e): [string, string] => [`${name}.${e}`, `${dir}/${name}.${e}`]);
            const upload: Upload = {
              name: `${name}.shp`,
              from: `${dir}/${name}.shp`,
              type: "vector",
              format: "shapefile",
              crs: "EPSG:4326",
            };
            const l = await landing(batch, [upload], sidecars);
            await using _store = l.store;
            const result = await runBatch(l, batch, {}, { gdal });
            if (name === "bare") {
              const problems = await assertQuarantined(l, batch, result);
              assert.equal(problems[0]!.file, `${batch}/bare.shp`);
              assert.match(problems[0]!.message, /not UTF-8 .* upload a \.cpg/);
              continue;
            }
            if (result.status === "success") {
              const docs = await assertDone(l, batch, result);
              const ours = await ourFeatures(l, docNamed(docs, `${name}.parquet`).key);
              if (expected[name]) {
                assert.deepEqual(
                  ours.map((f) => f.properties.name),
                  expected[name],
                  `${kind} ${name}`,
                );
              }
              assertSameFeatures(
                ours,
                await nativeFeatures(dir, `${dir}/${name}.shp`, { makeValid: false }),
                `${kind} ${name}`,
              );
            } else {
              // An engine that cannot decode the code page says so and names the file.
              const problems = await assertQuarantined(l, batch, result);
              const text = problems.map((p) => p.message).join(" ");
              assert.ok(kind === "wasm", `native must read ${name}: ${text}`);
              assert.match(text, new RegExp(`${batch}/${name}\\.shp`));
              assert.match(text, /code page|encoding/i);
              assert.match(text, /GDAL_ENGINE=native/);
            }
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** What a viewer shows besides the pixels: colour interpretation, palette, masks. */
function imageFacts(info: Record<string, unknown>) {
  const bands = info.bands as {
    colorInterpretation?: string;
    colorTable?: { count: number; entries: number[][] };
    mask?: { flags: string[] };
    overviews?: { size: number[]; checksum?: number }[];
  }[];
  return {
    ...rasterFacts(info),
    // The user's own overviews (in the file or a .ovr) are what the COG carries.
    overviews: bands.map((b) => (b.overviews ?? []).map((o) => [o.size, o.checksum])),
    gcps: (info.gcps as { gcpList?: unknown[] } | undefined)?.gcpList?.length ?? 0,
    bands: bands.map((b) => [b.colorInterpretation, b.colorTable?.entries, b.mask?.flags]),
    pixels: rasterFacts(info).bands,
  };
}

Deno.test({
  name:
    "user files: GeoTIFFs with predictors, strips, fax codecs, palettes, masks, world files on every engine",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "user-tiff-" });
    try {
      const dem = `${SAMPLE}/dem.tif`;
      const float = `${dir}/float.tif`;
      await sh("gdal_translate", "-q", "-ot", "Float32", dem, float);
      const mask = `${dir}/mask.tif`;
      await sh(
        "gdal_calc.py",
        "--quiet",
        "-A",
        dem,
        "--calc=A>1500",
        "--type=Byte",
        `--outfile=${mask}`,
      );
      const byteDem = `${dir}/dem8.tif`;
      await sh("gdal_translate", "-q", "-ot", "Byte", "-scale", dem, byteDem);
      const rgb = `${dir}/rgb.tif`;
      await sh("gdal_translate", "-q", "-b", "1", "-b", "1", "-b", "1", byteDem, rgb);
      // A paletted image (a scanned map, a classification), made from the RGB one.
      await sh("rgb2pct.py", rgb, `${dir}/palette_src.tif`);
      const corners = [[0, 0], [64, 0], [0, 64], [64, 64]].flatMap(([p, l]) => [
        "-gcp",
        `${p}`,
        `${l}`,
        `${500000 + p! * 10}`,
        `${5000000 - l! * 10}`,
      ]);
      const three = ["-b", "1", "-b", "1", "-b", "1"];
      const variants: [string, string, string[], string[]?][] = [
        ["lzw_pred2", dem, ["COMPRESS=LZW", "PREDICTOR=2", "TILED=YES"]],
        ["deflate_pred2_strips", dem, ["COMPRESS=DEFLATE", "PREDICTOR=2", "TILED=NO"]],
        ["zstd_pred2", dem, [
          "COMPRESS=ZSTD",
          "PREDICTOR=2",
          "TILED=YES",
          "BLOCKXSIZE=32",
          "BLOCKYSIZE=32",
        ]],
        ["float_pred3", float, ["COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES"]],
        ["float_lerc", float, ["COMPRESS=LERC", "MAX_Z_ERROR=0.5", "TILED=NO"]],
        ["packbits_strips", dem, ["COMPRESS=PACKBITS", "TILED=NO", "ROWSPERSTRIP=7"]],
        ["bigtiff_deflate", float, ["COMPRESS=DEFLATE", "BIGTIFF=YES", "TILED=YES"]],
        ["lzma_pixel", dem, ["COMPRESS=LZMA", "INTERLEAVE=PIXEL"]],
        ["fax4", mask, ["COMPRESS=CCITTFAX4", "NBITS=1"]],
        ["fax3", mask, ["COMPRESS=CCITTFAX3", "NBITS=1"]],
        ["rle", mask, ["COMPRESS=CCITTRLE", "NBITS=1"]],
        ["nbits12", dem, ["NBITS=12", "COMPRESS=DEFLATE"], [
          "-ot",
          "UInt16",
          "-scale",
          "0",
          "4000",
          "0",
          "4000",
        ]],
        ["palette", `${dir}/palette_src.tif`, ["COMPRESS=LZW"]],
        ["rgba", byteDem, ["COMPRESS=DEFLATE", "PHOTOMETRIC=RGB", "ALPHA=YES"], [
          ...three,
          "-b",
          "mask",
        ]],
        ["ycbcr_jpeg", byteDem, ["COMPRESS=JPEG", "PHOTOMETRIC=YCBCR", "TILED=YES"], three],
        ["gcps_only", byteDem, ["COMPRESS=DEFLATE"], [...corners, "-a_srs", "EPSG:32612"]],
        // A scan without GeoTIFF tags: its place in a world file, its CRS in the .aux.xml.
        ["baseline_tfw", byteDem, ["PROFILE=BASELINE", "TFW=YES"]],
        // A 4-band 16-bit scene with nodata 0, as satellite imagery comes.
        ["uint16_bands", dem, ["COMPRESS=DEFLATE", "PREDICTOR=2", "TILED=YES"], [
          "-ot",
          "UInt16",
          "-scale",
          "0",
          "4000",
          "1",
          "4000",
          "-a_nodata",
          "0",
          "-b",
          "1",
          "-b",
          "1",
          "-b",
          "1",
          "-b",
          "1",
        ]],
        // Overviews the user built: inside the file, or beside it in a .ovr (a sidecar).
        ["overviews_internal", dem, [
          "COMPRESS=LZW",
          "TILED=YES",
          "BLOCKXSIZE=16",
          "BLOCKYSIZE=16",
        ]],
        ["ovr_external", dem, ["COMPRESS=DEFLATE"]],
        ["internal_mask", dem, ["COMPRESS=DEFLATE"], [
          "-mask",
          "1",
          "--config",
          "GDAL_TIFF_INTERNAL_MASK",
          "YES",
        ]],
      ];
      const uploads: Upload[] = [];
      const sidecars: Record<string, [string, string][]> = {};
      for (const [name, source, options, pre = []] of variants) {
        const args = options.flatMap((o) => ["-co", o]);
        await sh("gdal_translate", "-q", ...pre, ...args, source, `${dir}/${name}.tif`);
        if (name === "overviews_internal" || name === "ovr_external") {
          const external = name === "ovr_external" ? ["-ro"] : [];
          await sh("gdaladdo", "-q", ...external, "-r", "average", `${dir}/${name}.tif`, "2", "4");
        }
        sidecars[`${name}.tif`] = [];
        for (const sidecar of [`${name}.tfw`, `${name}.tif.aux.xml`, `${name}.tif.ovr`]) {
          const exists = await Deno.stat(`${dir}/${sidecar}`).then(() => true, () => false);
          // Only the world-file scan and the .ovr come with sidecars; the others are uploaded alone.
          if (exists && (name === "baseline_tfw" || name === "ovr_external")) {
            sidecars[`${name}.tif`]!.push([sidecar, `${dir}/${sidecar}`]);
          } else if (exists) await Deno.remove(`${dir}/${sidecar}`);
        }
        uploads.push({
          name: `${name}.tif`,
          from: `${dir}/${name}.tif`,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        });
      }
      for (const [kind, gdal] of engines) {
        await t.step(
          `${kind} engine: each one published like native GDAL's COG, or said missing`,
          async () => {
            const published: string[] = [];
            for (const upload of uploads) {
              const batch = `tiff-${upload.name.replace(".tif", "")}-${kind}`;
              const l = await landing(batch, [upload], sidecars[upload.name]);
              await using _store = l.store;
              const result = await runBatch(l, batch, {}, { gdal });
              if (result.status !== "success") {
                assert.equal(kind, "wasm", `${kind} ${upload.name}: ${result.errorSummary}`);
                await assertPendingForNative(l, batch, result);
                continue;
              }
              const docs = await assertDone(l, batch, result);
              await using cog = await download(l.store, LAKE, docNamed(docs, upload.name).key);
              const native = `${dir}/native-${upload.name}`;
              // Placed only by its GCPs: what gdalwarp makes of it, as a GDAL user would.
              const source = upload.name === "gcps_only.tif"
                ? `${dir}/warped-gcps.tif`
                : upload.from;
              if (source !== upload.from) {
                await sh(
                  "gdalwarp",
                  "-q",
                  "-overwrite",
                  "-t_srs",
                  "EPSG:32612",
                  upload.from,
                  source,
                );
              }
              await sh(
                "gdal_translate",
                "-q",
                ...cogOptions(NATIVE ?? "0", await gdalinfo(source)),
                source,
                native,
              );
              assert.deepEqual(
                imageFacts(await gdalinfo(cog.file)),
                imageFacts(await gdalinfo(native)),
                `${kind} ${upload.name}`,
              );
              published.push(upload.name);
            }
            // What every build decodes is never reported missing.
            const everywhere = [
              "lzw_pred2",
              "deflate_pred2_strips",
              "float_pred3",
              "packbits_strips",
              "bigtiff_deflate",
              "fax4",
              "nbits12",
              "palette",
              "rgba",
              "baseline_tfw",
              "internal_mask",
              "uint16_bands",
              "overviews_internal",
              "ovr_external",
            ];
            const expected = kind === "native"
              ? uploads.map((u) => u.name)
              : [...everywhere, "gcps_only"].map((n) => `${n}.tif`);
            for (const name of expected) {
              assert.ok(published.includes(name), `${kind}: ${name} published`);
            }
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "user files: broken files are quarantined naming the file, the batch's files all kept",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "user-broken-" });
    try {
      await Deno.writeFile(`${dir}/empty`, new Uint8Array());
      await sh(
        "gdal_translate",
        "-q",
        "-of",
        "PNG",
        "-ot",
        "Byte",
        "-scale",
        `${SAMPLE}/dem.tif`,
        `${dir}/dem.png`,
      );
      const gpkg = await Deno.readFile(`${SAMPLE}/trails.gpkg`);
      await Deno.writeFile(
        `${dir}/truncated.gpkg`,
        gpkg.subarray(0, Math.floor(gpkg.length * 0.6)),
      );
      await Deno.writeTextFile(`${dir}/good.geojson`, points(["ok"]));
      const good: Upload = {
        name: "good.geojson",
        from: `${dir}/good.geojson`,
        type: "vector",
        format: "geojson",
        crs: "EPSG:4326",
      };
      const counties = ["dbf", "prj"].map((e): [string, string] => [
        `counties.${e}`,
        `${SAMPLE}/counties.${e}`,
      ]);
      const cases: [string, Upload, RegExp, [string, string][]?][] = [
        ["zero-tif", {
          name: "scan.tif",
          from: `${dir}/empty`,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        }, /empty|0 bytes|zero/i],
        ["zero-geojson", {
          name: "roads.geojson",
          from: `${dir}/empty`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }, /empty|0 bytes|zero/i],
        [
          "zero-shp",
          {
            name: "counties.shp",
            from: `${dir}/empty`,
            type: "vector",
            format: "shapefile",
            crs: "EPSG:32100",
          },
          /empty|0 bytes|zero/i,
          [...counties, ["counties.shx", `${SAMPLE}/counties.shx`]],
        ],
        ["png-as-tif", {
          name: "ortho.tif",
          from: `${dir}/dem.png`,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        }, /PNG/],
        ["tif-as-geojson", {
          name: "dem.geojson",
          from: `${SAMPLE}/dem.tif`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:32612",
        }, /GTiff|GeoTIFF|raster|not recognized|cannot open/i],
        ["truncated-gpkg", {
          name: "trails.gpkg",
          from: `${dir}/truncated.gpkg`,
          type: "vector",
          format: "geopackage",
          crs: "EPSG:4326",
        }, /malformed|disk image|truncat|not recognized|cannot open|sqlite/i],
        [
          "shp-without-shx",
          {
            name: "counties.shp",
            from: `${SAMPLE}/counties.shp`,
            type: "vector",
            format: "shapefile",
            crs: "EPSG:32100",
          },
          /\.shx/i,
          counties,
        ],
      ];
      for (const [kind, gdal] of engines) {
        await t.step(`${kind} engine`, async () => {
          for (const [label, broken, pattern, extra] of cases) {
            // Each broken file travels with a good one: the whole batch waits, nothing half-published.
            const batch = `${label}-${kind}`;
            const l = await landing(batch, [good, broken], extra ?? []);
            await using _store = l.store;
            const problems = await runQuarantined(l, batch, gdal);
            const text = problems.map((p) => `${p.file ?? ""} ${p.message}`).join(" ");
            assert.match(text, pattern, `${kind} ${label}: ${text}`);
            assert.ok(
              text.includes(`${batch}/${broken.name}`),
              `${kind} ${label} names the file: ${text}`,
            );
            assert.ok(
              !text.includes(`${batch}/good.geojson`),
              `${kind} ${label} blames only the bad file`,
            );
            const kept = (await Array.fromAsync(l.store.listAll(LANDING, { prefix: `${batch}/` })))
              .map((o) => o.key).sort();
            assert.deepEqual(
              kept,
              [good.name, broken.name, ...(extra ?? []).map(([n]) => n)].map((n) => `${batch}/${n}`)
                .sort(),
              `${kind} ${label}: every landing file is kept`,
            );
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "user files: formats that come as several files are read with all of them",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "user-multi-" });
    try {
      await Deno.writeTextFile(`${dir}/cities.geojson`, points(["Москва", "Zürich", "Łódź"]));
      // MapInfo: the .tab names the .dat (attributes), .map (geometries) and .id (index).
      await sh("ogr2ogr", "-f", "MapInfo File", `${dir}/cities.tab`, `${dir}/cities.geojson`);
      const dem = `${SAMPLE}/dem.tif`;
      // An ESRI ASCII grid: its CRS is only in the .prj beside it.
      await sh("gdal_translate", "-q", "-of", "AAIGrid", dem, `${dir}/dem.asc`);
      // ENVI: raw pixels, everything else in the .hdr.
      await sh("gdal_translate", "-q", "-of", "ENVI", dem, `${dir}/dem.bin`);
      for (const stray of ["dem.asc.aux.xml", "dem.bin.aux.xml"]) {
        await Deno.remove(`${dir}/${stray}`).catch(() => {});
      }
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.ok(
        ["cities.dat", "cities.id", "cities.map", "dem.prj", "dem.hdr"].every((f) =>
          files.includes(f)
        ),
        files.join(", "),
      );
      const uploads: Upload[] = [
        {
          name: "cities.tab",
          from: `${dir}/cities.tab`,
          type: "vector",
          format: "mapinfo",
          crs: "EPSG:4326",
        },
        {
          name: "dem.asc",
          from: `${dir}/dem.asc`,
          type: "raster",
          format: "ascii_grid",
          crs: "EPSG:32612",
        },
        {
          name: "dem.bin",
          from: `${dir}/dem.bin`,
          type: "raster",
          format: "gdal:ENVI",
          crs: "EPSG:32612",
        },
      ];
      const sidecars = ["cities.dat", "cities.id", "cities.map", "dem.prj", "dem.hdr"].map((
        n,
      ): [string, string] => [n, `${dir}/${n}`]);
      for (const [kind, gdal] of engines) {
        await t.step(`${kind} engine: published as native GDAL reads them`, async () => {
          const batch = `multi-${kind}`;
          const l = await landing(batch, uploads, sidecars);
          await using _store = l.store;
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          const cities = await ourFeatures(l, docNamed(docs, "cities.parquet").key);
          assert.deepEqual(cities.map((f) => f.properties.name), ["Москва", "Zürich", "Łódź"]);
          assertSameFeatures(
            cities,
            await nativeFeatures(dir, `${dir}/cities.tab`, { makeValid: false }),
            `${kind} cities.tab`,
          );
          for (const name of ["dem.asc", "dem.bin"]) {
            const out = name.replace(".", "_") === "dem_asc" ? "dem.tif" : "dem_1.tif";
            const doc = docs.find((d) => d.key.endsWith(`/${out}`)) ??
              docNamed(docs, out);
            await using cog = await download(l.store, LAKE, doc.key);
            const native = `${dir}/native-${name}.tif`;
            const source = `${dir}/${name}`;
            await sh("gdal_translate", "-q", ...cogOptions(NATIVE ?? "0"), source, native);
            assert.deepEqual(
              imageFacts(await gdalinfo(cog.file)),
              imageFacts(await gdalinfo(native)),
              `${kind} ${name}`,
            );
          }
          // The sidecars went to the archive with their files.
          const archived = (await Array.fromAsync(l.store.listAll(LANDING, { prefix: "archive/" })))
            .map((o) => o.key.split("/").pop()).sort();
          for (const [n] of sidecars) assert.ok(archived.includes(n), `${n} archived`);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "user files: a File Geodatabase uploaded as its folder is read as that folder",
  ignore,
  fn: async (t) => {
    // Before: content_mismatch, 'a folder of 20 files in the landing zone, not a file; zip it'.
    const dir = await Deno.makeTempDir({ prefix: "user-gdb-" });
    try {
      await Deno.writeTextFile(`${dir}/parcels.geojson`, points(["Москва", "Zürich", "Łódź"]));
      await sh(
        "ogr2ogr",
        "-f",
        "OpenFileGDB",
        `${dir}/parcels.gdb`,
        `${dir}/parcels.geojson`,
        "-nln",
        "parcels",
      );
      const inside = [...Deno.readDirSync(`${dir}/parcels.gdb`)].map((e) => e.name).sort();
      for (const [kind, gdal] of engines) {
        await t.step(`${kind} engine: published, every file of the folder archived`, async () => {
          const batch = `gdb-folder-${kind}`;
          const l = await landing(
            batch,
            [],
            inside.map((n): [string, string] => [`parcels.gdb/${n}`, `${dir}/parcels.gdb/${n}`]),
          );
          await using _store = l.store;
          await l.store.put(
            LANDING,
            `manifests/${batch}.json`,
            new TextEncoder().encode(JSON.stringify({
              batch_id: batch,
              uploader: "tests@example.org",
              intent: "publish",
              files: [{
                path: `${batch}/parcels.gdb`,
                type: "vector",
                format: "gdal:OpenFileGDB",
                crs: "EPSG:4326",
              }],
              metadata: { project: "inputs", description: "a .gdb uploaded as its folder" },
            })),
          );
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          const features = await ourFeatures(l, docs[0]!.key);
          assert.deepEqual(features.map((f) => f.properties.name), ["Москва", "Zürich", "Łódź"]);
          assertSameFeatures(
            features,
            await nativeFeatures(dir, `${dir}/parcels.gdb`),
            `${kind} parcels.gdb`,
          );
          const meta = docs[0]!.metadata as { source_files: { key: string }[] };
          assert.deepEqual(
            meta.source_files.map((f) => f.key).sort(),
            inside.map((n) => `${batch}/parcels.gdb/${n}`),
          );
          for (const n of inside) {
            assert.ok(await l.store.head(LANDING, `archive/${batch}/parcels.gdb/${n}`), n);
          }
        });
        await t.step(
          `${kind} engine: a table cut off in transfer is named, with the remedy`,
          async () => {
            // Before: GDAL's 'Error occurred in ./ogr/.../filegdbtable.cpp at line 832', no remedy.
            const batch = `gdb-cut-${kind}`;
            const cut = `${dir}/cut`;
            await Deno.mkdir(cut, { recursive: true });
            const extra = await Promise.all(inside.map(async (n): Promise<[string, string]> => {
              const bytes = await Deno.readFile(`${dir}/parcels.gdb/${n}`);
              // Its table of items (GDB_Items) keeps 60 bytes: GDAL cannot open the folder.
              const keep = n === "a00000004.gdbtable" ? bytes.subarray(0, 60) : bytes;
              await Deno.writeFile(`${cut}/${n}`, keep);
              return [`parcels.gdb/${n}`, `${cut}/${n}`];
            }));
            const l = await landing(batch, [], extra);
            await using _store = l.store;
            await l.store.put(
              LANDING,
              `manifests/${batch}.json`,
              new TextEncoder().encode(JSON.stringify({
                batch_id: batch,
                uploader: "tests@example.org",
                intent: "publish",
                files: [{
                  path: `${batch}/parcels.gdb`,
                  type: "vector",
                  format: "gdal:OpenFileGDB",
                  crs: "EPSG:4326",
                }],
                metadata: { project: "inputs", description: "a .gdb cut in transfer" },
              })),
            );
            const problems = await runQuarantined(l, batch, gdal);
            assert.equal(problems[0]?.code, "content_mismatch", problems[0]?.message);
            assert.doesNotMatch(problems[0]!.message, /Error occurred in|\.cpp/);
            assert.match(
              problems[0]!.message,
              new RegExp(
                `'${batch}/parcels\\.gdb' .*upload every file under '${batch}/parcels\\.gdb/' again`,
              ),
            );
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
