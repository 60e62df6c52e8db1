/**
 * The spatial input matrix: GIS files made the way desktop GIS, scanners,
 * GPS units and agencies write them (by GDAL's own Python bindings, in
 * `_matrix_inputs.py`), each pushed through `group:spatial` on both GDAL
 * engines, with the one end state each must reach:
 *
 * - published: every output read back by a reader that is not ours (gdalinfo
 *   for the COG: layout, size, geotransform, CRS, band types, nodata, colour
 *   interpretation, palette, mask and the checksum of every band against
 *   GDAL's reading of the source; DuckDB for the GeoParquet: rows, columns,
 *   the `geo` metadata) and compared with native `ogr2ogr`'s conversion of
 *   the same input, feature by feature; the ledger's bbox and the STAC Item
 *   checked too;
 * - quarantined: nothing published, the report naming the user's file and
 *   GDAL's own message, with the expected problem code;
 * - pending (wasm only): a codec or driver gdal3.js lacks fails the run
 *   with the remedy, quarantining nothing and leaving every file in place.
 *
 * The files that must publish are sent as one batch per engine (a batch of
 * forty files of every kind is itself a real-world input); each file that
 * must fail goes alone, so its outcome is its own. `SPATIAL_MATRIX=full`
 * adds the product of every GTiff codec, pixel type and layout, larger.
 */

import assert from "node:assert/strict";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import type { MANIFEST_PROBLEM_CODES } from "../../../assets/spatial/manifest.ts";
import { itemKeyOf } from "../../../assets/spatial/stac.ts";
import { openOptionsOf } from "../../../assets/spatial/_batch.ts";
import type { LedgerDocument } from "../../../resources/ledger/schema.ts";
import { GDAL_PYTHON, needs } from "../../_helpers/tools.ts";
import { download, duckdb, LAKE, runBatch } from "./_fixtures.ts";
import {
  assertDone,
  assertPendingForNative,
  assertQuarantined,
  engines,
  type Feature,
  type Landing,
  landing,
  ourFeatures,
  shape,
  type Upload,
} from "./_batches.ts";
import { StacItem } from "./_stac_schema.ts";

const ignore = await needs("gdal");
const FULL = Deno.env.get("SPATIAL_MATRIX") === "full";

type ProblemCode = (typeof MANIFEST_PROBLEM_CODES)[number];
type EngineKind = "wasm" | "native";

/** What one file must become. */
type Outcome =
  | { end: "published"; check?: (out: Published) => void | Promise<void> }
  | { end: "quarantined"; code: ProblemCode; message: RegExp }
  | { end: "pending" };

/** One input of the matrix. */
interface Case {
  /** File name; its stem is the generator's case. */
  file: string;
  type: "vector" | "raster";
  format: string;
  crs: string;
  layer?: string;
  allowEmpty?: boolean;
  /** What it must become (on the native engine, and on wasm unless `wasm` says otherwise). */
  expect: Outcome;
  /** What the wasm engine does instead, when it differs. */
  wasm?: Outcome;
  /** The generated file uploaded under `file`, when another (one file read layer by layer). */
  from?: string;
}

/** A published file, for the per-case checks. */
interface Published {
  docs: LedgerDocument[];
  features: Record<string, Feature[]>;
  info: Record<string, Record<string, unknown>>;
  engine: EngineKind;
  landing: Landing;
}

const published = (check?: (out: Published) => void | Promise<void>): Outcome => ({
  end: "published",
  ...(check ? { check } : {}),
});
const quarantined = (code: ProblemCode, message: RegExp): Outcome => ({
  end: "quarantined",
  code,
  message,
});
const PENDING: Outcome = { end: "pending" };

const tiff = (
  file: string,
  wasm?: Outcome,
  crs = "EPSG:32612",
  expect: Outcome = published(),
): Case => ({ file, type: "raster", format: "geotiff", crs, expect, ...(wasm ? { wasm } : {}) });
const vector = (file: string, format: string, extra: Partial<Case> = {}): Case => ({
  file,
  type: "vector",
  format,
  crs: "EPSG:4326",
  expect: published(),
  ...extra,
});

/** Every value of a column of the single output of a published file. */
const column = (out: Published, name: string) =>
  Object.values(out.features)[0]!.map((f) => f.properties[name]);

const RASTERS: Case[] = [
  tiff("r_none.tif"),
  tiff("r_lzw.tif"),
  tiff("r_deflate.tif"),
  tiff("r_zstd.tif", PENDING),
  tiff("r_lzma.tif", PENDING),
  tiff("r_packbits.tif"),
  tiff("r_jpeg.tif", PENDING),
  tiff("r_jpeg_ycbcr.tif", PENDING),
  tiff("r_webp.tif", PENDING),
  tiff("r_lerc.tif", PENDING),
  tiff("r_lerc_deflate.tif", PENDING),
  tiff("r_lerc_zstd.tif", PENDING),
  tiff("r_ccitt.tif"),
  tiff("r_pred2.tif"),
  tiff("r_pred3.tif"),
  tiff("r_strips.tif"),
  tiff("r_bigtiff.tif", PENDING),
  tiff("r_int8.tif"),
  tiff("r_uint16.tif"),
  tiff("r_int16.tif"),
  tiff("r_uint32.tif"),
  tiff("r_int32.tif"),
  tiff("r_float32.tif"),
  tiff("r_float64.tif"),
  tiff("r_cint16.tif"),
  tiff("r_cfloat32.tif"),
  tiff("r_rgba.tif"),
  tiff("r_palette.tif"),
  tiff("r_no_nodata.tif"),
  tiff("r_mask.tif"),
  tiff("r_overviews.tif"),
  tiff("r_rotated.tif"),
  tiff("r_sheared.tif"),
  tiff("r_cog.tif"),
  // No CRS in the file: the declared one is assigned to the COG (issue 11 item 2).
  tiff("r_nocrs.tif", undefined, "EPSG:3857"),
  tiff("r_nan.tif", undefined, "EPSG:3857"),
  // Past 180°, in lon/lat and in UTM zone 60: the footprint crosses the antimeridian.
  tiff(
    "r_antimeridian.tif",
    undefined,
    "EPSG:4326",
    published((out) => assert.deepEqual(meta(out.docs[0]!).bbox, [175, -25, -173, -15])),
  ),
  tiff(
    "r_utm60.tif",
    undefined,
    "EPSG:32660",
    published((out) => {
      const [west, , east] = meta(out.docs[0]!).bbox!;
      assert.ok(west > 179 && east < -175, `west ${west} > east ${east} across 180°`);
    }),
  ),
  { file: "r_png.png", type: "raster", format: "png", crs: "EPSG:32612", expect: published() },
  {
    file: "r_jp2.jp2",
    type: "raster",
    format: "jpeg2000",
    crs: "EPSG:32612",
    expect: published(),
    wasm: PENDING,
  },
  {
    file: "r_hfa.img",
    type: "raster",
    format: "erdas_img",
    crs: "EPSG:32612",
    expect: published(),
  },
  {
    file: "r_netcdf.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    expect: published(),
    wasm: PENDING,
  },
  {
    file: "r_aaigrid.asc",
    type: "raster",
    format: "ascii_grid",
    crs: "EPSG:32612",
    expect: published(),
  },
  // What must not be published.
  tiff(
    "r_gcps.tif",
    undefined,
    "EPSG:32612",
    quarantined("content_mismatch", /'[^']*r_gcps\.tif' is georeferenced only by 5 ground/),
  ),
  tiff(
    "r_corrupt.tif",
    undefined,
    "EPSG:32612",
    quarantined("processing_failed", /'[^']*r_corrupt\.tif'.*(ZIPDecode|TIFFReadEncodedTile)/),
  ),
  {
    file: "r_vrt.vrt",
    type: "raster",
    format: "geotiff",
    crs: "EPSG:32612",
    expect: quarantined("content_mismatch", /'[^']*r_vrt\.vrt' .* it is a VRT file/),
  },
];

const PLACE_NAMES = ["Zürich", "São Paulo", null, "Kraków"];

const VECTORS: Case[] = [
  // Without a .cpg, UTF-8 text is read as it is (Latin-1 text is refused: below).
  ...["v_shp_utf8", "v_shp_latin1", "v_shp_nocpg_utf8"].map((stem) =>
    vector(`${stem}.shp`, "shapefile", {
      expect: published((out) => assert.deepEqual(column(out, "name"), PLACE_NAMES)),
    })
  ),
  // No .prj: the declared CRS is assigned, and the output reprojected from it.
  vector("v_shp_noprj.shp", "shapefile", {
    crs: "EPSG:32612",
    expect: published((out) => {
      const m = meta(out.docs[0]!);
      assert.equal(m.source_crs, "EPSG:32612");
      assert.equal(m.crs_source, "declared");
    }),
  }),
  // Field names cut to 10 characters by the format: kept as GDAL reads them.
  vector("v_shp_longfields.shp", "shapefile", {
    expect: published((out) => {
      const names = Object.keys(Object.values(out.features)[0]![0]!.properties);
      assert.ok(names.every((n) => n.length <= 10), names.join());
    }),
  }),
  vector("v_shp_z.shp", "shapefile", {
    expect: published((out) =>
      assert.deepEqual(meta(out.docs[0]!).geometry_types, ["LineString Z"])
    ),
  }),
  vector("v_shp_m.shp", "shapefile"),
  vector("v_shp_zm.shp", "shapefile"),
  vector("v_shp_multipart.shp", "shapefile"),
  // Date, DateTime, Integer64 beyond 2^53, Real, String, each with NULLs.
  vector("v_gpkg_types.gpkg", "geopackage", {
    expect: published(async (out) => {
      await using local = await download(out.landing.store, LAKE, out.docs[0]!.key);
      const rows = await duckdb(
        `SELECT population::VARCHAR AS p, founded::VARCHAR AS f FROM '${local.file}'`,
      );
      assert.deepEqual(rows.map((r) => r.p), ["421878", "12325232", null, "9007199254740993"]);
      assert.deepEqual(rows.map((r) => r.f), ["1218-01-01", "1554-01-25", null, "1257-06-05"]);
    }),
  }),
  vector("v_gpkg_curves.gpkg", "geopackage", {
    expect: published((out) =>
      assert.deepEqual(meta(out.docs[0]!).geometry_types, [
        "LineString",
        "MultiPolygon",
        "Polygon",
      ])
    ),
  }),
  // A GeoPackage of several layers in several CRSs: one layer at a time.
  vector("roads.gpkg", "geopackage", {
    from: "v_gpkg_layers.gpkg",
    layer: "roads",
    crs: "EPSG:32612",
  }),
  vector("parcels.gpkg", "geopackage", {
    from: "v_gpkg_layers.gpkg",
    layer: "parcels",
    crs: "EPSG:3857",
  }),
  vector("v_gpkg_unicode.gpkg", "geopackage", {
    expect: published((out) => {
      assert.deepEqual(column(out, "名前"), ["東京", "Ñandú"]);
      assert.deepEqual(column(out, "höhe_m"), [408.5, null]);
    }),
  }),
  vector("v_gpkg_huge.gpkg", "geopackage", {
    expect: published((out) =>
      assert.equal(column(out, "text")[0], "é".repeat(300000) + '\n\t"quoted"')
    ),
  }),
  // `[]` is EMPTY whatever the geometry type: all three published alike when allowed.
  ...["v_empty_point", "v_empty_line", "v_empty_polygon"].map((stem) =>
    vector(`${stem}.geojson`, "geojson", {
      allowEmpty: true,
      expect: published((out) => assert.equal(meta(out.docs[0]!).feature_count, 2)),
    })
  ),
  vector("v_empty_wkt.csv", "csv", { allowEmpty: true }),
  vector("v_null_geom.geojson", "geojson"),
  // A bowtie and a ring with repeated points: made valid, as ogr2ogr -makevalid does.
  vector("v_invalid.geojson", "geojson"),
  vector("v_mixed.geojson", "geojson", {
    expect: published((out) =>
      assert.deepEqual(meta(out.docs[0]!).geometry_types, [
        "GeometryCollection",
        "LineString",
        "Point",
        "Point Z",
        "Polygon",
      ])
    ),
  }),
  // An old-style GeoJSON `crs` member (EPSG:3857) is the file's CRS.
  vector("v_crs_member.geojson", "geojson", {
    crs: "EPSG:3857",
    expect: published((out) => assert.equal(meta(out.docs[0]!).source_crs, "EPSG:3857")),
  }),
  vector("v_geojsonseq.geojsonl", "geojson"),
  vector("v_csv_wkt.csv", "csv"),
  vector("v_csv_xy.csv", "csv"),
  vector("v_gpx.gpx", "gpx", {
    expect: published((out) => assert.equal(out.docs.length, 5)),
  }),
  vector("v_kml.kml", "kml", { expect: published((out) => assert.equal(out.docs.length, 3)) }),
  vector("v_kmz.kmz", "kml", {
    expect: published((out) => assert.equal(out.docs.length, 3)),
    wasm: PENDING,
  }),
  vector("v_fgb.fgb", "flatgeobuf"),
  vector("v_gml.gml", "gml"),
  vector("v_tab.tab", "mapinfo"),
  vector("v_dxf.dxf", "dxf", { crs: "EPSG:32612" }),
  // What must not be published.
  ...(["point", "line", "polygon"] as const).map((t) =>
    vector(`v_empty_${t}.geojson`, "geojson", {
      expect: quarantined("invalid_geometry", /has 1 EMPTY geometries.*allow_empty_geometries/),
    })
  ),
  vector("v_unclosed.geojson", "geojson", {
    expect: quarantined("processing_failed", /'[^']*v_unclosed\.geojson'.*closed linestring/),
  }),
  vector("v_shp_nocpg.shp", "shapefile", {
    expect: quarantined("content_mismatch", /v_shp_nocpg\.shp' .* not UTF-8 .* \.cpg/),
  }),
  vector("v_shp_truncated.shp", "shapefile", {
    expect: quarantined("processing_failed", /'[^']*v_shp_truncated\.shp'.*\.shp file/),
  }),
  vector("v_dbf_truncated.shp", "shapefile", {
    expect: quarantined("processing_failed", /'[^']*v_dbf_truncated\.shp'.*DBF/),
  }),
  vector("v_shx_mismatch.shp", "shapefile", {
    expect: quarantined("processing_failed", /'[^']*v_shx_mismatch\.shp'.*Corrupted \.shp/),
  }),
  vector("v_gpkg_zero.gpkg", "geopackage", {
    expect: quarantined("invalid_geometry", /'[^']*v_gpkg_zero\.gpkg' .* has no features/),
  }),
  vector("v_gpkg_layers.gpkg", "geopackage", {
    crs: "EPSG:32612",
    expect: quarantined("crs_mismatch", /is in EPSG:3857 .* declares EPSG:32612/),
  }),
  vector("v_mismatch.shp", "shapefile", {
    expect: quarantined("missing_sidecar", /'[^']*v_mismatch\.shp' .* no '\.shx'/),
  }),
  vector("v_gpkg_as_geojson.geojson", "geojson", {
    expect: quarantined("content_mismatch", /declared vector\/geojson but GDAL reads it as GPKG/),
  }),
  vector("v_not_json.geojson", "geojson", {
    expect: quarantined("content_mismatch", /v_not_json\.geojson.*Unterminated string/),
  }),
];

/** The product of GTiff codecs, pixel types and layouts (`SPATIAL_MATRIX=full`). */
function fullRasters(): Case[] {
  const cases: Case[] = [];
  const codecs = ["NONE", "LZW", "DEFLATE", "PACKBITS", "ZSTD", "LZMA", "LERC_DEFLATE"];
  const types = ["Byte", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64"];
  for (const codec of codecs) {
    for (const type of types) {
      for (const layout of ["tiled", "striped"]) {
        const wasmLacks = /ZSTD|LZMA|LERC/.test(codec);
        cases.push(tiff(`x_${codec}_${type}_${layout}.tif`, wasmLacks ? PENDING : undefined));
      }
    }
  }
  return cases;
}

function meta(doc: LedgerDocument) {
  return SpatialLedgerMetadata.parse(doc.metadata);
}

const stem = (file: string) => file.replace(/\.[^.]+$/, "");
const genOf = (c: Case) => stem(c.from ?? c.file);

/** Makes the files of `cases` in `dir` with GDAL's Python bindings. */
async function generate(dir: string, cases: Case[]) {
  const names = [...new Set(cases.map(genOf))];
  const script = new URL("./_matrix_inputs.py", import.meta.url).pathname;
  const out = await new Deno.Command(GDAL_PYTHON, {
    args: [script, dir, ...names],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** The upload of a case and the sidecars beside its file (`<stem>.*`, a VRT's source). */
async function uploadOf(dir: string, c: Case): Promise<[Upload, [string, string][]]> {
  const sidecars: [string, string][] = [];
  for await (const entry of Deno.readDir(dir)) {
    const own = stem(c.from ?? c.file);
    if (entry.name === c.file || entry.name === c.from) continue;
    if (entry.name.startsWith(`${own}.`) || entry.name.startsWith(`${own}_src.`)) {
      sidecars.push([entry.name.replace(own, stem(c.file)), `${dir}/${entry.name}`]);
    }
  }
  const upload: Upload & { layer?: string; allow_empty_geometries?: boolean } = {
    name: c.file,
    from: `${dir}/${c.from ?? c.file}`,
    type: c.type,
    format: c.format,
    crs: c.crs,
    ...(c.layer ? { layer: c.layer } : {}),
    ...(c.allowEmpty ? { allow_empty_geometries: true } : {}),
  };
  return [upload, sidecars];
}

const SCRIPT = new URL("./_matrix_inputs.py", import.meta.url).pathname;

/** One file for GDAL to read back: `gdalinfo -json -checksum`, or ogr2ogr of a layer to GeoJSON. */
type ReadSpec =
  | { info: string }
  | {
    geojson: string;
    source: string;
    layer?: string;
    oo?: readonly string[];
    s_srs?: string;
    drivers?: string[];
  };

/** What GDAL (its Python bindings: one process, not one per file) reads of each spec. */
async function readBack(dir: string, specs: ReadSpec[]): Promise<unknown[]> {
  if (specs.length === 0) return [];
  const specFile = `${dir}/read-${crypto.randomUUID()}.json`;
  await Deno.writeTextFile(specFile, JSON.stringify(specs));
  const out = await new Deno.Command(GDAL_PYTHON, {
    args: [SCRIPT, "--read", specFile],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** gdalinfo's facts a COG must keep from its source. */
function rasterFacts(info: Record<string, unknown>) {
  const bands = info.bands as {
    type: string;
    noDataValue?: number | string;
    checksum: number;
    colorInterpretation?: string;
    colorTable?: { entries: number[][] };
    mask?: { flags: string[] };
  }[];
  return {
    size: info.size,
    geoTransform: info.geoTransform,
    bands: bands.map((b) => ({
      type: b.type,
      nodata: b.noDataValue ?? null,
      checksum: b.checksum,
      // A GeoTIFF has no "undefined" photometric: one such band is written as gray.
      color: b.colorInterpretation === "Undefined" && bands.length === 1
        ? "Gray"
        : b.colorInterpretation,
      palette: b.colorTable?.entries ?? null,
      mask: b.mask?.flags ?? ["ALL_VALID"],
    })),
  };
}

/** The EPSG code at the end of a WKT2 (the CRS's own id), if any. */
const epsgOf = (wkt: string | undefined) => wkt?.match(/ID\["EPSG",(\d+)\]\]\s*$/)?.[1];

/** Checks a published COG (gdalinfo's reading of it) against GDAL's reading of its source. */
function checkRaster(
  c: Case,
  doc: LedgerDocument,
  ours: Record<string, unknown>,
  theirs: Record<string, unknown>,
) {
  const structure = (ours.metadata as Record<string, Record<string, string>>).IMAGE_STRUCTURE;
  assert.equal(structure?.LAYOUT, "COG", c.file);
  assert.deepEqual(rasterFacts(ours), rasterFacts(theirs), c.file);
  const wkt = (ours.coordinateSystem as { wkt?: string } | undefined)?.wkt;
  assert.equal(`EPSG:${epsgOf(wkt)}`, c.crs, `${c.file}: the COG's CRS`);
  assert.equal(meta(doc).crs, c.crs);
}

/** The source layer an output was read from, as its lineage says. */
function layerOf(doc: LedgerDocument): string {
  const steps = meta(doc).iso19115.lineage.process_steps;
  const layer = steps[0]?.match(/ layer '(.*)' with GDAL /)?.[1];
  assert.ok(layer !== undefined, `${doc.key}: lineage names the layer`);
  return layer;
}

/** Checks a published GeoParquet with DuckDB, and against GDAL's own conversion of the source. */
async function checkVector(
  l: Landing,
  c: Case,
  doc: LedgerDocument,
  local: string,
  nativeGeojson: string,
): Promise<Feature[]> {
  const m = meta(doc);
  const [count] = await duckdb(`SELECT count(*)::INTEGER AS n FROM '${local}'`);
  assert.equal(count!.n, m.feature_count, `${c.file}: rows`);
  const [kv] = await duckdb(
    `SELECT decode(value) AS geo FROM parquet_kv_metadata('${local}') WHERE decode(key) = 'geo'`,
  );
  const geo = JSON.parse(String(kv!.geo)) as {
    version: string;
    primary_column: string;
    columns: Record<string, { encoding: string; geometry_types: string[]; bbox?: number[] }>;
  };
  assert.equal(geo.version, "1.1.0");
  const column = geo.columns[geo.primary_column]!;
  assert.equal(column.encoding, "WKB");
  assert.deepEqual(
    [...column.geometry_types].sort(),
    [...(m.geometry_types ?? [])].sort(),
    c.file,
  );
  if (m.bbox !== null) assert.deepEqual(column.bbox, m.bbox, `${c.file}: bbox`);
  const ours = await ourFeatures(l, doc.key);
  const native = (JSON.parse(await Deno.readTextFile(nativeGeojson)) as { features: Feature[] })
    .features;
  assertSameFeatures(ours, native, `${c.file} (${layerOf(doc)})`);
  return ours;
}

/** A value as both readers can give it: numbers (int64 as bigint), dates as ISO text. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return value.toISOString().replace(/T00:00:00\.000Z$/, "");
  if (typeof value === "string" && /^\d{4}\/\d\d\/\d\d/.test(value)) {
    // ogr2ogr's GeoJSON writes dates as YYYY/MM/DD[ HH:MM:SS[+TZ]].
    return value.replaceAll("/", "-");
  }
  return value;
}

/** Our features equal native GDAL's: attributes (by GDAL's names) and geometry. */
function assertSameFeatures(ours: Feature[], native: Feature[], label: string) {
  assert.equal(ours.length, native.length, `${label}: feature count`);
  ours.forEach((feature, i) => {
    const expected = native[i]!;
    for (const [name, value] of Object.entries(expected.properties)) {
      assert.ok(name in feature.properties, `${label}: column '${name}'`);
      const got = plain(feature.properties[name]);
      const want = plain(value);
      if (typeof got === "string" && typeof want === "string" && /^\d{4}-\d\d-\d\d/.test(want)) {
        assert.ok(got.startsWith(want.slice(0, 10)), `${label}: feature ${i} '${name}'`);
      } else assert.deepEqual(got, want, `${label}: feature ${i} attribute '${name}'`);
    }
    // GeoJSON (the reference's format) writes an EMPTY geometry as null.
    const empty = shape(feature.geometry)[1].every(Number.isNaN);
    const [ourType, ourCoords] = shape(
      empty && expected.geometry === null ? null : feature.geometry,
    );
    const [nativeType, nativeCoords] = shape(expected.geometry);
    assert.equal(ourType, nativeType, `${label}: feature ${i} geometry type`);
    assert.equal(ourCoords.length, nativeCoords.length, `${label}: feature ${i} vertices`);
    ourCoords.forEach((v, k) =>
      assert.ok(
        Math.abs(v - nativeCoords[k]!) <= 1e-9,
        `${label}: feature ${i} coordinate ${k}: ${v} vs ${nativeCoords[k]}`,
      )
    );
  });
}

/** The ledger bbox of an output: 4 finite numbers, lon/lat for COGs and EPSG:4326 vectors. */
function assertBbox(doc: LedgerDocument, label: string) {
  const bbox = meta(doc).bbox;
  if (bbox === null) return;
  assert.ok(bbox.every(Number.isFinite), `${label}: bbox ${bbox}`);
  const [west, south, east, north] = bbox;
  assert.ok(south <= north, `${label}: bbox ${bbox}`);
  assert.ok(west >= -180 && east <= 180 && south >= -90 && north <= 90, `${label}: bbox ${bbox}`);
}

async function runMatrix(t: Deno.TestContext, cases: Case[]) {
  const dir = await Deno.makeTempDir({ prefix: "spatial-matrix-" });
  try {
    await generate(dir, cases);
    for (const [kind, gdal] of engines) {
      const engine = kind as EngineKind;
      const outcome = (c: Case) => (engine === "wasm" ? c.wasm : undefined) ?? c.expect;
      const publish = cases.filter((c) => outcome(c).end === "published");
      await t.step(
        `${engine}: ${publish.length} files in one batch, each published right`,
        async () => {
          const batch = `matrix-${engine}`;
          const uploads = await Promise.all(publish.map((c) => uploadOf(dir, c)));
          // One file uploaded once even when two cases read two of its layers.
          const files = uploads.map(([u]) => u);
          const sidecars = [...new Map(uploads.flatMap(([, s]) => s)).entries()];
          const l = await landing(batch, files, sidecars);
          await using _store = l.store;
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          // Every output, local, for GDAL to read back in one process (sources once).
          const outputs = publish.map((c) => {
            const mine = docs.filter((d) => meta(d).source_files[0]?.key === `${batch}/${c.file}`);
            assert.ok(mine.length > 0, `${engine} ${c.file}: published`);
            return { c, docs: mine };
          });
          const work = await Deno.makeTempDir({ dir, prefix: `${engine}-` });
          const local = new Map<string, string>();
          const specs: ReadSpec[] = [];
          for (const { c, docs } of outputs) {
            for (const doc of docs) {
              const file = `${work}/${doc.key.split("/").pop()}`;
              await Deno.writeFile(file, await l.store.getBytes(LAKE, doc.key));
              local.set(doc.key, file);
              if (c.type === "raster") {
                specs.push({ info: file }, { info: `${dir}/${c.from ?? c.file}` });
              } else {
                specs.push({
                  geojson: `${file}.geojson`,
                  source: `${dir}/${c.from ?? c.file}`,
                  layer: layerOf(doc),
                  oo: openOptionsOf({ path: c.file, type: "vector", format: c.format, crs: c.crs }),
                  ...(meta(doc).crs_source === "declared" ? { s_srs: c.crs } : {}),
                  // gdal3.js has no LIBKML, which native GDAL prefers for KML: each engine's
                  // output is compared with what its own driver reads (their columns differ:
                  // KML's Name/Description, LIBKML's name/description/timestamp/...).
                  ...(engine === "wasm" && c.format === "kml" ? { drivers: ["KML"] } : {}),
                });
              }
            }
          }
          const read = await readBack(work, specs);
          let next = 0;
          for (const { c, docs: mine } of outputs) {
            const out: Published = { docs: mine, features: {}, info: {}, engine, landing: l };
            for (const doc of mine) {
              assertBbox(doc, c.file);
              StacItem.parse(JSON.parse(
                new TextDecoder().decode(await l.store.getBytes(LAKE, itemKeyOf(doc))),
              ));
              if (c.type === "raster") {
                const [ours, theirs] = read.slice(next, next += 2) as Record<string, unknown>[];
                checkRaster(c, doc, ours!, theirs!);
                out.info[doc.key] = ours!;
              } else {
                const native = read[next++] as string;
                out.features[doc.key] = await checkVector(l, c, doc, local.get(doc.key)!, native);
              }
            }
            const expected = outcome(c);
            if (expected.end === "published" && expected.check) await expected.check(out);
          }
        },
      );
      for (const c of cases) {
        const expected = outcome(c);
        if (expected.end === "published") continue;
        await t.step(
          `${engine}: ${c.file}${c.layer ? `[${c.layer}]` : ""} ${expected.end}`,
          async () => {
            const batch = `m-${stem(c.file).replaceAll("_", "-").toLowerCase()}-${engine}`;
            const [upload, sidecars] = await uploadOf(dir, c);
            const l = await landing(batch, [upload], sidecars);
            await using _store = l.store;
            const result = await runBatch(l, batch, {}, { gdal });
            if (expected.end === "pending") {
              const problems = await assertPendingForNative(l, batch, result);
              assert.equal(problems[0]!.file, `${batch}/${c.file}`);
              return;
            }
            const problems = await assertQuarantined(l, batch, result);
            const problem = problems.find((p) => p.code === expected.code);
            assert.ok(problem, `${c.file}: ${JSON.stringify(problems)}`);
            assert.match(problem.message, expected.message);
            assert.equal(problem.file, `${batch}/${c.file}`);
            // The landing files are kept, beside the quarantined manifest.
            assert.ok(await l.store.head("landing-zone", `${batch}/${c.file}`));
          },
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "spatial matrix: rasters of every codec, pixel type and layout GDAL writes, and other formats",
  ignore,
  fn: (t) => runMatrix(t, FULL ? [...RASTERS, ...fullRasters()] : RASTERS),
});

Deno.test({
  name: "spatial matrix: vectors in every format, encoding, geometry kind and defect",
  ignore,
  fn: (t) => runMatrix(t, VECTORS),
});
