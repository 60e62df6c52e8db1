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
import { horizontalOf } from "../../../assets/spatial/crs.ts";
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
/** `SPATIAL_MATRIX_ONLY=<regex>`: only the cases whose file name matches (while working on one). */
const ONLY = Deno.env.get("SPATIAL_MATRIX_ONLY");

type ProblemCode = (typeof MANIFEST_PROBLEM_CODES)[number];
type EngineKind = "wasm" | "native";

/** What one file must become. */
type Outcome =
  | { end: "published"; check?: (out: Published) => void | Promise<void> }
  | { end: "quarantined"; code: ProblemCode; message: RegExp }
  | { end: "pending"; message?: RegExp };

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
  /** GDAL open options declared on the file (and used by the reference reading). */
  openOptions?: string[];
  /**
   * Path inside the zip GDAL's reference reading opens (a zip's Shapefile in a folder; `""`:
   * the zip itself, through /vsizip/).
   */
  inner?: string;
  /** The generated file uploaded under `file`, when another (one file read layer by layer). */
  from?: string;
  /** Open options of GDAL's reference reading only (what the pipeline must find by itself). */
  readWith?: string[];
  /**
   * Datetimes compared with GDAL's reference reading by their date only:
   * GDAL 3.6 (the reference here) reads a GeoPackage's `2024-01-05T10:00Z`
   * without its zone, which both engines publish as UTC (as GDAL 3.8 reads
   * it): the case's own check asserts the values.
   */
  datesOnly?: boolean;
  /** Our column of each attribute GDAL's reference reading names otherwise. */
  renamed?: Record<string, string>;
  /**
   * The gdalwarp options a raster without geotransform must be placed with
   * (by its GCPs or RPCs): the reference is GDAL's own gdal.Warp of the
   * source with them, and the ledger's lineage must name them.
   */
  warp?: string[];
  /** The manifest's `subdataset` (variables of a netCDF). */
  subdataset?: string | string[];
  /** The subdatasets published, a COG each, in order (the reference reads each alone). */
  subdatasets?: string[];
  /** The CRS published, when GDAL names the declared one otherwise (a deprecated code). */
  outCrs?: string;
  /** The manifest's `assign_crs`: the declared CRS replaces the file's own. */
  assignCrs?: boolean;
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
  // A LiDAR DEM in UTM + NAVD88 height, declared by its horizontal CRS.
  tiff(
    "r_compound.tif",
    undefined,
    "EPSG:32612",
    published((out) => {
      const wkt = (Object.values(out.info)[0]!.coordinateSystem as { wkt: string }).wkt;
      assert.match(wkt, /^COMPOUNDCRS\[.*NAVD88/s, "the vertical datum is kept");
    }),
  ),
  tiff("r_scaled.tif"),
  tiff("r_int64.tif"),
  tiff("r_cint32.tif"),
  tiff("r_cfloat64.tif"),
  tiff("r_multispectral.tif"),
  {
    file: "r_gpkg.gpkg",
    type: "raster",
    format: "geopackage",
    crs: "EPSG:3857",
    expect: published(),
  },
  tiff("r_band_interleave.tif"),
  tiff("r_pixel_tiled.tif"),
  tiff("r_nodata_zero.tif"),
  tiff("r_nodata_max.tif"),
  tiff("r_gtx_float64_pred.tif"),
  tiff("r_nbits12.tif"),
  tiff("r_nbits2.tif"),
  tiff("r_f32_nodata_lowest.tif"),
  tiff("r_f64_nodata_lowest.tif"),
  {
    file: "r_envi.dat",
    type: "raster",
    format: "gdal:ENVI",
    crs: "EPSG:32612",
    expect: published(),
  },
  { file: "r_xyz.xyz", type: "raster", format: "gdal:XYZ", crs: "EPSG:32612", expect: published() },
  // A JPEG placed by its world file (.wld), the CRS declared.
  {
    file: "r_jpg_world.jpg",
    type: "raster",
    format: "jpeg",
    crs: "EPSG:32612",
    expect: published(),
  },
  // Placed only by ground control points (5, in EPSG:32612): warped into their CRS.
  {
    ...tiff("r_gcps.tif"),
    warp: ["-of", "GTiff", "-co", "TILED=YES", "-co", "BIGTIFF=IF_SAFER", "-t_srs", "EPSG:32612"],
  },
  // A satellite scene placed only by RPCs: orthorectified at the scene's mean height.
  {
    ...tiff("r_rpc.tif", undefined, "EPSG:4326"),
    warp: [
      ...["-of", "GTiff", "-co", "TILED=YES", "-co", "BIGTIFF=IF_SAFER"],
      ...["-rpc", "-to", "RPC_HEIGHT=850", "-t_srs", "EPSG:4326"],
    ],
  },
  // A climate model's file of two variables (subdatasets): a COG each.
  {
    file: "r_netcdf_multi.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    expect: published(),
    subdatasets: ["temp", "precip"],
    wasm: PENDING,
  },
  // Those named in the manifest: the grid, not its time bounds (two time steps: two bands).
  {
    file: "r_netcdf_tas.nc",
    from: "r_netcdf_bnds.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    subdataset: ["tas"],
    expect: published(),
    subdatasets: ["tas"],
    wasm: PENDING,
  },
  // One of them, picked in the manifest.
  {
    file: "r_netcdf_pick.nc",
    from: "r_netcdf_multi.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    subdataset: "precip",
    expect: published(),
    subdatasets: ["precip"],
    wasm: PENDING,
  },
  // A netCDF of two variables on one grid, as the bands of one COG.
  {
    file: "r_netcdf_bands.nc",
    from: "r_netcdf_multi.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    openOptions: ["VARIABLES_AS_BANDS=YES"],
    expect: published(),
    wasm: PENDING,
  },
  // Special pixels (a mask of its own) become the COG's mask: GDAL's own COG driver fails on it.
  {
    file: "r_isis3.cub",
    type: "raster",
    format: "gdal:ISIS3",
    crs: "EPSG:32612",
    expect: published((out) => {
      const band = (Object.values(out.info)[0]!.bands as { mask: { flags: string[] } }[])[0]!;
      assert.deepEqual(band.mask.flags, ["PER_DATASET"]);
    }),
  },
  // A CRS without code that is EPSG:32612 by definition (bound to WGS 84 by a null shift):
  // accepted, and the COG carries EPSG:32612 (checkRaster).
  tiff("r_tmerc_towgs84.tif"),
  // Its driver stores statistics in the file, which it cannot while read-only (GDAL 3.6's
  // gdal_translate -stats failed on it): published, its statistics computed from the COG.
  {
    file: "r_pcidsk.pix",
    type: "raster",
    format: "gdal:PCIDSK",
    crs: "EPSG:32612",
    expect: published((out) => {
      const bands = meta(out.docs[0]!).raster?.bands as { min: unknown; max: unknown }[];
      assert.ok(bands.every((b) => typeof b.min === "number" && typeof b.max === "number"));
    }),
  },
  {
    file: "r_ers.ers",
    type: "raster",
    format: "gdal:ERS",
    crs: "EPSG:32612",
    expect: published(),
  },
  // Declared gdal:HDF4, read by GDAL's HDF4Image driver (a file of one dataset).
  {
    file: "r_hdf4.hdf",
    type: "raster",
    format: "gdal:HDF4",
    crs: "EPSG:32612",
    expect: published(),
    wasm: PENDING,
  },
  tiff(
    "r_all_nodata.tif",
    undefined,
    "EPSG:32612",
    published((out) => {
      const bands = meta(out.docs[0]!).raster?.bands as { min: unknown; max: unknown }[];
      const band = bands[0];
      assert.deepEqual([band?.min, band?.max], [null, null], "no statistics of no pixels");
    }),
  ),
  // Shaped like public downloads (issue 11): a BigTIFF gdal3.js can decode, a COG with an
  // internal mask, a 3-band UInt16 image with nodata.
  tiff("r_bigtiff_deflate.tif"),
  tiff("r_cog_mask.tif"),
  tiff("r_uint16_nodata.tif"),
  tiff("r_tfw.tif"),
  tiff("r_point.tif"),
  tiff("r_nodata_oob.tif"),
  // No .prj: the declared CRS assigned.
  {
    file: "r_asc_noprj.asc",
    type: "raster",
    format: "ascii_grid",
    crs: "EPSG:32612",
    expect: published(),
  },
  {
    file: "r_hfa_truncated.img",
    type: "raster",
    format: "erdas_img",
    crs: "EPSG:32612",
    expect: quarantined(
      "content_mismatch",
      /r_hfa_truncated\.img' is not georeferenced .* GDAL reported while opening it: VSIFReadL\(.*failed in HFAEntry\(\).*; the file may be cut off or damaged/,
    ),
  },
  tiff("r_float16.tif"),
  tiff("r_tall.tif"),
  tiff("r_wide_row.tif"),
  tiff("r_multi_scale.tif"),
  tiff("r_name ü 'q'.tif"),
  { file: "r_png16.png", type: "raster", format: "png", crs: "EPSG:32612", expect: published() },
  { file: "r_jgw.jpg", type: "raster", format: "jpeg", crs: "EPSG:32612", expect: published() },
  {
    file: "r_grib2.grb2",
    type: "raster",
    format: "gdal:GRIB",
    crs: "EPSG:4326",
    expect: published(),
  },
  // A land-cover map's attribute table (class names, colours), which a COG cannot hold: kept
  // in the ledger and as the STAC Item's classification:classes (it was dropped).
  {
    file: "r_hfa_rat.img",
    type: "raster",
    format: "erdas_img",
    crs: "EPSG:32612",
    expect: published(async (out) => {
      const { table, classes } = await attributeTable(out);
      assert.deepEqual(table.columns, [
        { name: "Value", type: "integer", usage: "generic" },
        { name: "Class_Names", type: "string", usage: "name" },
      ]);
      assert.deepEqual(table.rows, [[0, "water"], [1, "forest"], [2, "grass"], [3, "urban"], [
        4,
        "bare",
      ]]);
      assert.deepEqual(classes.map((c) => [c.value, c.name]), [
        [0, "water"],
        [1, "forest"],
        [2, "grass"],
        [3, "urban"],
        [4, "bare"],
      ]);
    }),
  },
  {
    ...tiff("r_tif_rat.tif"),
    expect: published(async (out) => {
      const { table, classes } = await attributeTable(out);
      assert.equal(table.row_count, 2);
      assert.deepEqual(classes, [
        { value: 0, name: "open_water", description: "open water", color_hint: "0000FF" },
        { value: 1, name: "Wald_for_t", description: "Wald / forêt", color_hint: "008000" },
      ]);
    }),
  },
  // Probes of the raster matrix (issue 11): odd grids, sidecars, CRSs and sizes.
  tiff("r_south_up.tif"),
  tiff("r_1x1.tif"),
  tiff("r_1x1_geog.tif", undefined, "EPSG:4326"),
  tiff("r_ovr_external.tif"),
  tiff("r_msk_external.tif"),
  tiff("r_aux_stats.tif"),
  tiff("r_aux_srs.tif"),
  // Declared by the deprecated code of Web Mercator, which GDAL reads as EPSG:3857 in the
  // file too (it was refused: "is in EPSG:3857 but the manifest declares EPSG:3785").
  { ...tiff("r_epsg_deprecated.tif", undefined, "EPSG:3785"), outCrs: "EPSG:3857" },
  tiff("r_inf.tif"),
  tiff("r_nan_plain.tif"),
  tiff("r_uint64.tif"),
  tiff("r_many_bands.tif"),
  tiff("r_palette_nodata.tif"),
  tiff(
    "r_polar_north.tif",
    undefined,
    "EPSG:3413",
    published((out) => {
      const [west, south, east, north] = meta(out.docs[0]!).bbox!;
      assert.deepEqual([west, east, north], [-180, 180, 90]);
      assert.ok(Math.abs(south - 52.2117) < 1e-3, `south ${south}`);
    }),
  ),
  tiff(
    "r_polar_south.tif",
    undefined,
    "EPSG:3031",
    published((out) => {
      const [west, south, east] = meta(out.docs[0]!).bbox!;
      assert.deepEqual([west, south, east], [-180, -90, 180]);
    }),
  ),
  tiff(
    "r_global_360.tif",
    undefined,
    "EPSG:4326",
    published((out) => assert.deepEqual(meta(out.docs[0]!).bbox, [-180, -90, 180, 90])),
  ),
  tiff(
    "r_global.tif",
    undefined,
    "EPSG:4326",
    published((out) => assert.deepEqual(meta(out.docs[0]!).bbox, [-180, -90, 180, 90])),
  ),
  tiff("r_jpeg_cog.tif", PENDING),
  tiff("r_jpeg_mask.tif", PENDING),
  {
    file: "r_hfa_spill.img",
    type: "raster",
    format: "erdas_img",
    crs: "EPSG:32612",
    expect: published(),
  },
  tiff("r_cint16_nodata.tif"),
  tiff("r_geog_point.tif", undefined, "EPSG:4326"),
  tiff("r_nad27.tif", undefined, "EPSG:26712"),
  tiff("r_huge_thin.tif"),
  // A multi-page TIFF: a COG per page (only the first was published, the second dropped);
  // gdal3.js cannot open a page alone: the remedy is said.
  {
    ...tiff(
      "r_multipage.tif",
      { end: "pending", message: /cannot open the pages of a multi-page TIFF one by one/ },
    ),
    subdatasets: ["page_1", "page_2"],
  },
  tiff("r_1bit_palette.tif"),
  tiff("r_palette16.tif"),
  tiff("r_west_left.tif"),
  {
    ...tiff("r_gcps3.tif"),
    warp: ["-of", "GTiff", "-co", "TILED=YES", "-co", "BIGTIFF=IF_SAFER", "-t_srs", "EPSG:32612"],
  },
  tiff("r_rgb_jpeg_strips.tif", PENDING),
  tiff("r_3dep.tif", undefined, "EPSG:4269"),
  tiff("r_jpeg_4band.tif", PENDING),
  tiff("r_stateplane_ft.tif", undefined, "EPSG:2256"),
  tiff("r_arcgis_set.tif"),
  // Declared by ArcGIS's code of Web Mercator: the same definition (native PROJ wrote its base
  // CRS's axes and units otherwise, and refused it as a CRS mismatch; gdal3.js did not).
  { ...tiff("r_web_mercator.tif", undefined, "ESRI:102100"), outCrs: "EPSG:3857" },
  {
    file: "r_mbtiles.mbtiles",
    type: "raster",
    format: "gdal:MBTiles",
    crs: "EPSG:3857",
    expect: published(),
  },
  // A site survey's local grid: nothing places it on Earth, and the report says how to publish it.
  tiff(
    "r_local_cs.tif",
    undefined,
    "EPSG:32612",
    quarantined(
      "crs_mismatch",
      /r_local_cs\.tif' is in a local engineering CRS \(site grid\): .*no declared CRS can agree with it\. If its coordinates are in fact in EPSG:32612 \(WGS 84 \/ UTM zone 12N\), set "assign_crs": true .*gdal_edit\.py -a_srs EPSG:32612/,
    ),
  ),
  // The remedy that refusal gives, applied (the user's -a_srs).
  {
    ...tiff("r_local_cs_assigned.tif", undefined, "EPSG:32612"),
    from: "r_local_cs.tif",
    assignCrs: true,
  },
  // A code PROJ lacks (32799) named "WGS 84 / UTM zone 12N" in its citation: GDAL reads an
  // engineering CRS of that name, which agrees with the declared CRS by name (crs.ts).
  tiff("r_epsg_unknown.tif"),
  tiff(
    "r_trunc_header.tif",
    undefined,
    "EPSG:32612",
    quarantined("content_mismatch", /r_trunc_header/),
  ),
  tiff(
    "r_trunc_10.tif",
    undefined,
    "EPSG:32612",
    quarantined("processing_failed", /'[^']*r_trunc_10\.tif': TIFFFillStrip:Read error/),
  ),
  tiff(
    "r_trunc_50.tif",
    undefined,
    "EPSG:32612",
    quarantined("processing_failed", /'[^']*r_trunc_50\.tif': TIFFFillTile:Read error/),
  ),
  // GDAL's reasons once each (native said the same three twice: the statistics, then the copy).
  tiff(
    "r_trunc_95.tif",
    undefined,
    "EPSG:32612",
    quarantined(
      "processing_failed",
      /^Cannot convert the raster '[^']*r_trunc_95\.tif': TIFFFillStrip:Read error at scanline 0; got \d+ bytes, expected \d+ \| TIFFReadEncodedStrip\(\) failed\. \| [^|]*IReadBlock failed[^|]*\. Check that/,
    ),
  ),
  tiff("r_bad_ifd.tif", undefined, "EPSG:32612", quarantined("content_mismatch", /r_bad_ifd/)),
  tiff("r_text.tif", undefined, "EPSG:32612", quarantined("content_mismatch", /r_text/)),
  tiff(
    "r_png_as_tif.tif",
    undefined,
    "EPSG:32612",
    quarantined("content_mismatch", /r_png_as_tif/),
  ),
  {
    file: "r_tif_as_png.tif",
    type: "raster",
    format: "png",
    crs: "EPSG:32612",
    expect: quarantined("content_mismatch", /r_tif_as_png/),
  },
  // What must not be published.
  // Cut off: GDAL 3.6 only warned and read the missing rows as grey (published on native).
  {
    file: "r_jpg_truncated.jpg",
    type: "raster",
    format: "jpeg",
    crs: "EPSG:32612",
    expect: quarantined(
      "processing_failed",
      /'[^']*r_jpg_truncated\.jpg'.*Premature end of JPEG file/,
    ),
  },
  // Cut off: GDAL read the missing rows as nodata without a word (published on native).
  {
    file: "r_netcdf_truncated.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    expect: quarantined(
      "content_mismatch",
      /r_netcdf_truncated\.nc' .* it is cut short: its header lays out \d+ bytes and the file has \d+/,
    ),
    wasm: PENDING,
  },
  // A PNG without its world file (a screenshot of a map): nowhere to put it.
  {
    file: "r_png_noworld.png",
    type: "raster",
    format: "png",
    crs: "EPSG:32612",
    expect: quarantined(
      "content_mismatch",
      /r_png_noworld\.png' is not georeferenced \(no geotransform, no ground control points, no RPCs and no world file/,
    ),
  },
  tiff(
    "r_band_nodata.tif",
    undefined,
    "EPSG:32612",
    quarantined(
      "content_mismatch",
      /r_band_nodata\.tif' has a different nodata value per band \(band 1: -9999, band 2: -32768\)/,
    ),
  ),
  {
    file: "r_netcdf4_h5.h5",
    type: "raster",
    format: "gdal:HDF5",
    crs: "EPSG:4326",
    expect: quarantined(
      "content_mismatch",
      /r_netcdf4_h5\.h5' is not georeferenced .* netCDF-4 file .* declare format netcdf/,
    ),
    wasm: PENDING,
  },
  tiff(
    "r_corrupt.tif",
    undefined,
    "EPSG:32612",
    quarantined("processing_failed", /'[^']*r_corrupt\.tif'.*(ZIPDecode|TIFFReadEncodedTile)/),
  ),
  tiff(
    "r_zero.tif",
    undefined,
    "EPSG:32612",
    quarantined("content_mismatch", /'[^']*r_zero\.tif' .* is empty \(0 bytes\)/),
  ),
  // No driver knows the bytes: gdal3.js says nothing, native GDAL "not recognized".
  tiff(
    "r_random.tif",
    undefined,
    "EPSG:32612",
    quarantined(
      "content_mismatch",
      /r_random\.tif' .*(no GDAL driver recognizes its content|not recognized as a supported)/,
    ),
  ),
  // A CF file's time bounds have no grid: the report names what to publish instead.
  {
    file: "r_netcdf_bnds.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    expect: quarantined(
      "content_mismatch",
      /Subdataset 'time_bnds' of '[^']*r_netcdf_bnds\.nc' is not georeferenced .*"subdataset": \["tas"\] \(it has 'time_bnds', 'tas'\)/,
    ),
    wasm: PENDING,
  },
  // A subdataset the file does not have: the ones it has are named.
  {
    file: "r_netcdf_nosuch.nc",
    from: "r_netcdf_multi.nc",
    type: "raster",
    format: "netcdf",
    crs: "EPSG:4326",
    subdataset: "rain",
    expect: quarantined(
      "content_mismatch",
      /r_netcdf_nosuch\.nc' .* has no subdataset 'rain' \(it has 'temp', 'precip'\)/,
    ),
    wasm: PENDING,
  },
  {
    file: "r_vrt.vrt",
    type: "raster",
    format: "geotiff",
    crs: "EPSG:32612",
    expect: quarantined(
      "content_mismatch",
      /'[^']*r_vrt\.vrt' .* it is a VRT file, .* upload the files it reads instead \(or one GeoTIFF of it: gdal_translate -of COG/,
    ),
  },
  tiff("r_u16_pred2_lzw.tif"),
  tiff("r_i16_deflate_pred2.tif"),
  tiff("r_f64_nan_pred3.tif"),
  tiff("r_rgba_alpha.tif"),
  tiff("r_point_geog.tif", undefined, "EPSG:4326"),
  {
    file: "r_enviu16.dat",
    type: "raster",
    format: "gdal:ENVI",
    crs: "EPSG:32612",
    expect: published(),
  },
  tiff("r_sparse.tif"),
  tiff("r_tfw_noprj.tif"),
  tiff("r_int8_nodata.tif"),
  {
    file: "r_png_world_prj.png",
    type: "raster",
    format: "png",
    crs: "EPSG:32612",
    expect: published(),
  },
  // A VRT over a JPEG GeoTIFF of the batch: gdal3.js lacks the codec, as for the GeoTIFF alone.
  {
    file: "r_vrt_jpeg.vrt",
    type: "raster",
    format: "gdal:VRT",
    crs: "EPSG:32612",
    expect: published(),
    wasm: PENDING,
  },
  {
    file: "r_vrt_inside.vrt",
    type: "raster",
    format: "gdal:VRT",
    crs: "EPSG:32612",
    expect: published(),
  },
];

const PLACE_NAMES = ["Zürich", "São Paulo", null, "Kraków"];
const CP1252_NAMES = ["Zürich – “Bahnhof” €5", "Straße"];

/** The manifest format of a file by its extension (the second round's cases). */
const FORMAT_OF: Record<string, string> = {
  shp: "shapefile",
  fgb: "flatgeobuf",
  gpkg: "geopackage",
  geojson: "geojson",
};

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
  // Z kept on both engines, in the rows made valid too (gdal3.js names the type PolygonZ).
  vector("v_shp_polygon_z.shp", "shapefile", {
    expect: published((out) => {
      const types = meta(out.docs[0]!).geometry_types ?? [];
      assert.ok(types.length > 0 && types.every((t) => / Z$/.test(t)), types.join(", "));
    }),
  }),
  // A blank date is null on both engines (gdal3.js's GDAL read it as 0000-00-00).
  vector("v_shp_blank_dates.shp", "shapefile", {
    expect: published((out) => assert.deepEqual(column(out, "day"), ["2024-02-29", null, null])),
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
  // Across the antimeridian: the GeoParquet, ledger and STAC boxes have west > east.
  vector("v_antimeridian.geojson", "geojson", {
    expect: published(async (out) => {
      const doc = out.docs[0]!;
      assert.deepEqual(meta(doc).bbox, [178.5, -18, -179.25, -16]);
      const item = StacItem.parse(JSON.parse(
        new TextDecoder().decode(await out.landing.store.getBytes(LAKE, itemKeyOf(doc))),
      )) as { bbox: number[]; geometry: { type: string } };
      assert.deepEqual(item.bbox, [178.5, -18, -179.25, -16]);
      assert.equal(item.geometry.type, "MultiPolygon");
    }),
  }),
  vector("v_mercator_nocrs.geojson", "geojson", {
    crs: "EPSG:3857",
    expect: quarantined(
      "crs_mismatch",
      /v_mercator_nocrs\.geojson' is in EPSG:4326 .* legacy "crs" member: if its coordinates/,
    ),
  }),
  vector("v_geojsonseq.geojsonl", "geojson"),
  // Cut off mid-feature: the native engine's Arrow route published the features before the cut
  // as the whole layer (GDAL's stream ends there, its error only reported), where ogr2ogr fails.
  vector("v_geojsonseq_cut.geojsonl", "geojson", {
    expect: quarantined(
      "processing_failed",
      /'[^']*v_geojsonseq_cut\.geojsonl'.*JSON parsing error/,
    ),
  }),
  // Arrays and objects in properties: their JSON text, the same whichever engine runs.
  vector("v_geojson_lists.geojson", "geojson", {
    expect: published((out) => {
      assert.deepEqual(column(out, "ints"), ["[ 1, 2, 3 ]", null]);
      assert.deepEqual(column(out, "tags"), ['[ "bus", "tram" ]', "[ ]"]);
      assert.deepEqual(column(out, "flags"), ["[ true, false ]", null]);
      assert.deepEqual(column(out, "obj"), ['{ "k": 1 }', null]);
    }),
  }),
  // INT64_MAX and INT64_MIN themselves, exact on both engines (GDAL warns of clamping all the same).
  vector("v_geojson_int64.geojson", "geojson", {
    expect: published((out) => {
      const exact = (name: string) => column(out, name).map((v) => v === null ? null : String(v));
      assert.deepEqual(exact("max"), ["9223372036854775807"]);
      assert.deepEqual(exact("min"), ["-9223372036854775808"]);
      assert.deepEqual(column(out, "note"), ['"cell": 99999999999999999999']);
      assert.deepEqual(column(out, "big"), [1e30]);
    }),
  }),
  vector("v_csv_wkt.csv", "csv"),
  vector("v_csv_xy.csv", "csv"),
  vector("v_gpx.gpx", "gpx", {
    expect: published((out) => assert.equal(out.docs.length, 5)),
  }),
  // Read by GDAL's KML driver on both engines: the same columns whichever runs (issue 11).
  vector("v_kml.kml", "kml", {
    expect: published((out) => {
      assert.equal(out.docs.length, 3);
      for (const features of Object.values(out.features)) {
        assert.deepEqual(Object.keys(features[0]!.properties), ["Name", "Description"]);
      }
    }),
  }),
  // ExtendedData and times, which only LIBKML reads: native keeps them, wasm waits for it.
  vector("v_kml_ext.kml", "kml", {
    expect: published((out) => {
      assert.deepEqual(column(out, "pop").map(Number), [12, 7]);
      assert.deepEqual(column(out, "kind"), ["spring", null]);
    }),
    // Not published without them: the report names exactly what its KML driver would drop.
    wasm: {
      end: "pending",
      message:
        /holds the ExtendedData attributes 'pop', 'kind' and TimeStamp elements, which only LIBKML reads/,
    },
  }),
  // A KMZ is read as the KML inside it: by the KML driver on both engines when plain
  // (was LIBKML's columns on native, pending on wasm), by LIBKML when it holds ExtendedData.
  vector("v_kmz.kmz", "kml", {
    inner: "doc.kml",
    expect: published((out) => {
      assert.equal(out.docs.length, 3);
      for (const features of Object.values(out.features)) {
        assert.deepEqual(Object.keys(features[0]!.properties), ["Name", "Description"]);
      }
    }),
  }),
  vector("v_kmz_ext.kmz", "kml", {
    expect: published((out) => assert.deepEqual(column(out, "pop").map(Number), [12, 7])),
    wasm: PENDING,
  }),
  vector("v_fgb.fgb", "flatgeobuf"),
  vector("v_gml.gml", "gml"),
  vector("v_tab.tab", "mapinfo"),
  vector("v_dxf.dxf", "dxf", { crs: "EPSG:32612" }),
  vector("v_mif.mif", "mapinfo"),
  // Attributes named fid (repeated), geometry and bbox: kept as attributes (fid failed the batch).
  vector("v_geojson_reserved.geojson", "geojson", {
    expect: published((out) => {
      assert.deepEqual(column(out, "fid").map(Number), [7, 7]);
      assert.deepEqual(column(out, "geometry_attr"), ["road", "rail"]);
      assert.deepEqual(column(out, "bbox_attr"), ["1,2,3,4", null]);
      assert.deepEqual(column(out, "OBJECTID").map(Number), [1, 2]);
    }),
  }),
  vector("v_mif_latin1.mif", "mapinfo", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Zürich", "São Paulo"])),
  }),
  // Latitude first in the file: longitude first in the GeoParquet, on both engines.
  vector("v_gml32_latlon.gml", "gml", {
    expect: published((out) => {
      const [type, coords] = shape(Object.values(out.features)[0]![0]!.geometry);
      assert.deepEqual([type, coords], ["Point", [8.54, 47.378]]);
    }),
  }),
  vector("v_fgdb.gdb.zip", "filegdb"),
  // Several feature classes (one empty) and a table: a GeoParquet per filled feature class.
  vector("v_fgdb_multi.gdb.zip", "filegdb", {
    expect: published((out) =>
      assert.deepEqual(out.docs.map((d) => d.key.split("/").pop()).sort(), [
        "v_fgdb_multi_gdb__roads.parquet",
        "v_fgdb_multi_gdb__wells.parquet",
      ])
    ),
  }),
  // Semicolons (and a quoted semicolon), an EWKT column, quoted headers with a line break in a value.
  vector("v_csv_semicolon.csv", "csv", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Müller; Söhne", "B"])),
  }),
  // EWKT (SRID=4326;POINT ...): GDAL reads no geometry from it (native: null; gdal3.js: an
  // error); the user is told to drop the prefix.
  vector("v_csv_bom.csv", "csv", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Zürich", "São Paulo"])),
  }),
  vector("v_csv_ewkt.csv", "csv", {
    expect: quarantined("invalid_geometry", /v_csv_ewkt\.csv' .* has 2 geometries .*SRID=n;/),
    wasm: quarantined("content_mismatch", /v_csv_ewkt\.csv' .*Unsupported WKB type.*SRID=n;/),
  }),
  // The remedy that refusal gives, applied.
  vector("v_csv_xcoord_named.csv", "csv", {
    openOptions: ["X_POSSIBLE_NAMES=X_COORD", "Y_POSSIBLE_NAMES=Y_COORD"],
  }),
  vector("v_csv_quoted.csv", "csv", {
    expect: published((out) => assert.equal(column(out, "Note")[0], "line one\nline two")),
  }),
  vector("v_sqlite.sqlite", "sqlite"),
  vector("v_spatialite.sqlite", "sqlite"),
  // A GeoPackage of several layers read whole: one GeoParquet per filled layer, named after it.
  vector("v_gpkg_two.gpkg", "geopackage", {
    expect: published((out) =>
      assert.deepEqual(out.docs.map((d) => d.key.split("/").pop()).sort(), [
        "v_gpkg_two__rivers.parquet",
        "v_gpkg_two__wells_2024.parquet",
      ])
    ),
  }),
  // Layers named without ASCII letters, or slugged alike: every layer its own output.
  vector("v_gpkg_cjk.gpkg", "geopackage", {
    expect: published((out) =>
      assert.deepEqual(out.docs.map((d) => d.key.split("/").pop()).sort(), [
        "v_gpkg_cjk__layer1.parquet",
        "v_gpkg_cjk__layer2.parquet",
        "v_gpkg_cjk__layer3.parquet",
        "v_gpkg_cjk__stra_e.parquet",
        "v_gpkg_cjk__stra_e_geopackage.parquet",
      ])
    ),
  }),
  // GeoPackage's "Undefined geographic SRS" is no CRS: the declared one is assigned.
  vector("v_gpkg_nosrs.gpkg", "geopackage", {
    crs: "EPSG:32612",
    expect: published((out) => {
      const m = meta(out.docs[0]!);
      assert.deepEqual([m.source_crs, m.crs_source], ["EPSG:32612", "declared"]);
    }),
  }),
  // M values dropped on both engines (gdal3.js kept them, read as Z by every reader).
  vector("v_gpkg_measured.gpkg", "geopackage", {
    expect: published((out) =>
      assert.deepEqual(meta(out.docs[0]!).geometry_types, ["LineString", "Point", "Point Z"])
    ),
  }),
  vector("v_gpkg_bool.gpkg", "geopackage", {
    expect: published((out) => {
      assert.deepEqual(column(out, "ok"), [true, false, null]);
      assert.deepEqual(column(out, "big").map((v) => v === null ? null : String(v)), [
        "-9007199254740993",
        "0",
        null,
      ]);
    }),
  }),
  // ArcGIS's .prj dialect (GCS_WGS_1984, no authority) is EPSG:4326.
  vector("v_shp_esri_prj.shp", "shapefile", {
    expect: published((out) => assert.equal(meta(out.docs[0]!).crs_source, "file")),
  }),
  vector("v_shp_esri_albers.shp", "shapefile", { crs: "ESRI:102003" }),
  vector("v_shp_esri_krovak.shp", "shapefile", { crs: "EPSG:5514" }),
  vector("v_shp_esri_polar.shp", "shapefile", { crs: "EPSG:3031" }),
  vector("v_shp_esri_webmerc.shp", "shapefile", { crs: "EPSG:3857" }),
  vector("v_shp_esri_nad83.shp", "shapefile", { crs: "EPSG:4269" }),
  vector("v_shp_esri_stateplane.shp", "shapefile", {
    crs: "EPSG:2256",
    expect: published((out) => assert.equal(meta(out.docs[0]!).source_crs, "EPSG:2256")),
  }),
  // Dates as other tools write them into a GeoPackage, which GDAL reads right (a blank: null).
  // 10:00Z (no seconds) is UTC on both engines: native GDAL 3.6 read it without its zone.
  vector("v_gpkg_odd_dates.gpkg", "geopackage", {
    datesOnly: true,
    expect: published((out) => {
      assert.deepEqual(column(out, "day"), [
        "2024-02-29",
        "2024-01-05",
        "2024-01-05",
        "2024-01-05",
        null,
        null,
        "2024-01-05",
      ]);
      assert.deepEqual(column(out, "at"), [
        "2024-01-05T10:00:00.000",
        "2024-01-05T10:00:00.000+02:00",
        "2024-01-05T00:00:00.000",
        "2024-01-05T10:00:00.000Z",
        "2024-01-05T10:00:00.500Z",
        "2024-01-05T10:00:00.000",
        null,
      ]);
    }),
  }),
  // Date fields with NULLs (and a leap day) in a .dbf.
  vector("v_shp_bool_date.shp", "shapefile", {
    expect: published((out) => {
      // GDAL writes a boolean into a .dbf as a number field: read back as 1/0.
      assert.deepEqual(column(out, "active").map((v) => v === null ? null : Number(v)), [
        1,
        0,
        null,
      ]);
      assert.deepEqual(column(out, "built").map((d) => d === null ? null : plain(d)), [
        "1999-12-31",
        null,
        "2024-02-29",
      ]);
    }),
  }),
  vector("v_shp_zip_sub.zip", "shapefile", { inner: "export/data/parcels.shp" }),
  // .cpg spellings of ArcGIS that GDAL 3.6 misreads (ANSI 1252, 8859_1): read in the code page
  // they name, zipped or not, instead of published garbled.
  vector("v_shp_cpg_ansi.shp", "shapefile", {
    readWith: ["ENCODING=CP1252"],
    expect: published((out) => assert.deepEqual(column(out, "name"), CP1252_NAMES)),
  }),
  vector("v_shp_cpg_8859.shp", "shapefile", {
    readWith: ["ENCODING=ISO-8859-1"],
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Straße", "Zürich"])),
  }),
  vector("v_shp_zip_ansi.zip", "shapefile", {
    inner: "roads.shp",
    readWith: ["ENCODING=CP1252"],
    expect: published((out) => assert.deepEqual(column(out, "name"), CP1252_NAMES)),
  }),
  vector("V_SHP_UPPER.SHP", "shapefile"),
  vector("v_gc_3d.geojson", "geojson", {
    expect: published((out) =>
      assert.deepEqual(meta(out.docs[0]!).geometry_types, ["GeometryCollection Z", "Polygon Z"])
    ),
  }),
  // Shaped like public downloads (issue 11).
  // Two Shapefiles in one folder of a zip: a GeoParquet each, as a GeoPackage's layers.
  vector("v_shp_zip_multi.zip", "shapefile", {
    inner: "export",
    expect: published((out) =>
      assert.deepEqual(out.docs.map((d) => d.key.split("/").pop()).sort(), [
        "v_shp_zip_multi__parcels.parquet",
        "v_shp_zip_multi__wells.parquet",
      ])
    ),
  }),
  vector("v_shp_sidecars.shp", "shapefile"),
  vector("v_gpkg_attr.gpkg", "geopackage"),
  vector("v_topojson.topojson", "topojson"),
  // Null geometries among the features, nested properties, heights and full-precision doubles:
  // every digit and every feature kept.
  vector("v_geojson_real.geojson", "geojson", {
    expect: published((out) => {
      const features = Object.values(out.features)[0]!;
      assert.deepEqual(features[0]!.geometry, {
        type: "Point",
        coordinates: [-110.12345678901234, 45.98765432109876, 1523.123456789],
      });
      assert.deepEqual(features.map((f) => f.geometry === null), [
        false,
        true,
        false,
        true,
        false,
      ]);
      assert.deepEqual(JSON.parse(String(column(out, "meta")[0])), {
        source: "survey",
        tags: ["a", "b"],
        nested: { depth: 2 },
      });
    }),
  }),
  vector("v_geojson_feature.geojson", "geojson"),
  vector("v_geojson_bare.geojson", "geojson"),
  vector("v_geojson_crs84.geojson", "geojson"),
  // Dotted and slashed keys, and an `id` beside the feature's own.
  vector("v_geojson_odd_keys.geojson", "geojson", {
    expect: published((out) =>
      assert.deepEqual(Object.keys(Object.values(out.features)[0]![0]!.properties).sort(), [
        "a/b",
        "addr.city",
        "id",
      ])
    ),
  }),
  vector("v_geojson_mixed_types.geojson", "geojson"),
  // Keys alike but for case (merged exports): GDAL renames the later ones as its Parquet
  // writer would (ogr2ogr: "Field 'NAME' already exists. Renaming it as 'NAME2'"), the same on
  // both engines, instead of one column overwriting another.
  vector("v_geojson_case_keys.geojson", "geojson", {
    renamed: { NAME: "NAME2", Name: "Name3" },
    expect: published((out) =>
      assert.deepEqual(Object.values(out.features)[0]![0]!.properties, {
        name: "lower",
        NAME2: "UPPER",
        Name3: "Title",
      })
    ),
  }),
  // A portal's zipped GeoJSON: read inside its zip, as GDAL reads /vsizip/.
  vector("v_geojson_zip.zip", "geojson", { inner: "" }),
  // An attribute named geom (a PostGIS export's text copy of the geometry): kept as it is, as
  // GDAL's Parquet writer keeps it (gdal3.js dropped it silently, native GDAL failed on it).
  vector("v_geojson_geom_attr.geojson", "geojson", {
    expect: published((out) => assert.deepEqual(column(out, "geom"), ["x"])),
  }),
  vector("v_csv_quotes_ok.csv", "csv", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ['say "hi"\nthere', "b"])),
  }),
  // A point far beyond the Earth (a digitising slip): GDAL's reprojection ran for hours on it.
  ...([
    ["v_gpkg_huge_coords.gpkg", "geopackage", "EPSG:3857", "1e\\+300"],
    ["v_shp_huge_coords.shp", "shapefile", "EPSG:32612", "100000000000000000000"],
    ["v_csv_huge_coords.csv", "csv", "EPSG:32612", "500000000000000000"],
  ] as const).map(([file, format, crs, largest]) =>
    vector(file, format, {
      crs,
      expect: quarantined(
        "invalid_geometry",
        new RegExp(
          `${
            file.replace(".", "\\.")
          }' \\(layer '[^']+'\\) has coordinates as large as ${largest} ` +
            `in ${crs}, beyond any place on Earth .*GDAL's reprojection to EPSG:4326 would run`,
        ),
      ),
    })
  ),
  vector("v_mif_neutral_utf8.mif", "mapinfo", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Zürich", "Basel"])),
  }),
  // Latin-1 under Charset "Neutral": published as 'Z\uFFFDrich' on both engines before.
  vector("v_mif_neutral.mif", "mapinfo", {
    expect: quarantined(
      "content_mismatch",
      /v_mif_neutral\.mif' is declared vector\/mapinfo but its Charset is "Neutral" \(or missing\) and its \.mid holds text that is not UTF-8/,
    ),
  }),
  // A binary MapInfo table alike: refused when its text is written (native failed in the
  // GeoParquet writer naming no file, gdal3.js published 'Z\uFFFDrich').
  // Cut off: refused for what GDAL reported while opening, not only for looking empty.
  vector("v_fgb_truncated.fgb", "flatgeobuf", {
    expect: quarantined(
      "content_mismatch",
      /v_fgb_truncated\.fgb' is declared vector\/flatgeobuf but GDAL cannot read a layer of it \(GDAL reported: Failed to read header\): the file is damaged or cut short/,
    ),
  }),
  vector("v_tab_neutral.tab", "mapinfo", {
    expect: quarantined(
      "content_mismatch",
      /v_tab_neutral\.tab' \(layer 'v_tab_neutral'\) holds text that is not UTF-8, which GDAL read as it is/,
    ),
  }),
  vector("v_geojson_bom.geojson", "geojson", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Zürich"])),
  }),
  // Not UTF-8: gdal3.js published 'Z\uFFFDrich', the native engine's run failed naming no file.
  vector("v_geojson_cp1252.geojson", "geojson", {
    expect: quarantined(
      "content_mismatch",
      /v_geojson_cp1252\.geojson' is declared vector\/geojson but its text is not UTF-8 \(JSON must be/,
    ),
  }),
  // dBASE's overflow (the number did not fit its field: asterisks) is no value: null.
  vector("v_shp_overflow.shp", "shapefile", {
    expect: published((out) => assert.deepEqual(column(out, "val"), [1.5, null])),
  }),
  // A decimal comma and an exponent in an integer field: GDAL read 2,25 as 2 and 1e99 as 1,
  // with only a warning, on both engines.
  vector("v_shp_bad_numbers.shp", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_bad_numbers\.shp' \(layer 'v_shp_bad_numbers'\) holds values GDAL cannot read as their field's type, which it would publish changed \(Value '2,25' of field v_shp_bad_numbers\.val parsed incompletely to real 2; Value '1e99' of field v_shp_bad_numbers\.cnt parsed incompletely to integer 1\)/,
    ),
  }),
  // Cut off inside a quoted value: GDAL published the last row cut short, without a word.
  vector("v_csv_cut_quote.csv", "csv", {
    expect: quarantined(
      "content_mismatch",
      /v_csv_cut_quote\.csv' .*its quoted value opened on line 3 is never closed \(the file may be cut off/,
    ),
  }),
  vector("v_gml_curves.gml", "gml"),
  vector("v_gpkg_wide.gpkg", "geopackage"),
  vector("v_gpkg_empty_str.gpkg", "geopackage", {
    expect: published((out) => {
      assert.deepEqual(column(out, "name"), ["", null, " "]);
      assert.deepEqual(column(out, "note"), [null, "", "x"]);
    }),
  }),
  // 'bbox' is renamed, and never into the name of the user's 'bbox_attr' (whose values went to
  // 'bbox_attr_attr' while the column 'bbox_attr' held those of 'bbox').
  vector("v_geojson_taken_names.geojson", "geojson", {
    renamed: { bbox: "bbox_attr_attr", geometry: "geometry_attr_attr" },
    expect: published((out) => {
      assert.deepEqual(column(out, "bbox_attr"), ["BA"]);
      assert.deepEqual(column(out, "bbox_attr_attr"), ["B"]);
      assert.deepEqual(column(out, "geometry_attr"), ["GA"]);
    }),
  }),
  // Its vector layer published on both engines: gdal3.js took the file for a raster (its tiles)
  // and refused it as "not a vector dataset".
  vector("v_gpkg_with_tiles.gpkg", "geopackage"),
  // A photo column (OGR binary): bytes in the GeoParquet, not text refused as not UTF-8.
  ...[["v_gpkg_blob.gpkg", "geopackage"], ["v_fgb_blob.fgb", "flatgeobuf"]].map(([file, format]) =>
    vector(file!, format!, {
      expect: published((out) => {
        // By name: a FlatGeobuf's spatial index orders its features.
        const photos = Object.fromEntries(
          column(out, "name").map((name, i) => {
            const photo = column(out, "photo")[i];
            return [name, photo === null ? null : hex(photo as Uint8Array)];
          }),
        );
        assert.deepEqual(photos, { a: "89504E470D0A1A0A00FF", b: null, c: "" });
      }),
    })
  ),
  vector("v_gpkg_polyhedral.gpkg", "geopackage", {
    expect: quarantined(
      "invalid_geometry",
      /v_gpkg_polyhedral\.gpkg' \(layer 'v_gpkg_polyhedral'\) holds 3D surfaces \(PolyhedralSurface/,
    ),
  }),
  // A .dbf with fields 'name' and 'NAME': the later renamed NAME2, as for GeoJSON keys above.
  vector("v_shp_case_fields.shp", "shapefile", {
    renamed: { NAME: "NAME2" },
    expect: published((out) =>
      assert.deepEqual(Object.values(out.features)[0]![0]!.properties, { name: "a", NAME2: "b" })
    ),
  }),
  vector("v_name ü 'q'.geojson", "geojson"),
  // What must not be published.
  ...(["point", "line", "polygon"] as const).map((t) =>
    vector(`v_empty_${t}.geojson`, "geojson", {
      expect: quarantined("invalid_geometry", /has 1 EMPTY geometries.*allow_empty_geometries/),
    })
  ),
  vector("v_unclosed.geojson", "geojson", {
    expect: quarantined(
      "invalid_geometry",
      /'[^']*v_unclosed\.geojson' \(layer 'v_unclosed'\) has 1 feature with a polygon ring .*: feature 2 \(a ring is not closed\)/,
    ),
  }),
  vector("v_shp_nocpg.shp", "shapefile", {
    expect: quarantined("content_mismatch", /v_shp_nocpg\.shp' .* not UTF-8 .* \.cpg/),
  }),
  // A .cpg copied from a UTF-8 export beside a Latin-1 .dbf; a zipped Latin-1 .dbf without .cpg.
  // A Latin-1 field name (values all ASCII) and nothing saying the code page: refused, not
  // published as a column named H�HE.
  vector("v_shp_latin1_field.shp", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_latin1_field\.shp' .*\.dbf \(v_shp_latin1_field\.dbf\) holds text that is not UTF-8 and nothing says its code page.*\.cpg/,
    ),
  }),
  // Longitudes from 0 to 360: refused, saying to shift them.
  vector("v_geojson_lon360.geojson", "geojson", {
    expect: quarantined(
      "invalid_geometry",
      /v_geojson_lon360\.geojson' \(layer 'v_geojson_lon360'\) has 1 geometries outside the CRS's area of use .*shift longitudes written from 0 to 360/,
    ),
  }),
  // A property named "" (native GDAL dropped its column, gdal3.js kept it): refused alike.
  vector("v_geojson_empty_key.geojson", "geojson", {
    expect: quarantined(
      "content_mismatch",
      /v_geojson_empty_key\.geojson' \(layer 'v_geojson_empty_key'\) has an attribute without a name/,
    ),
  }),
  vector("v_shp_cpg_utf8_wrong.shp", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_cpg_utf8_wrong\.shp' .* \.cpg says UTF-8, yet its \.dbf .* not UTF-8/,
    ),
  }),
  vector("v_shp_zip_latin1.zip", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_zip_latin1\.zip' .* \.dbf \(roads\.dbf\) holds text that is not UTF-8 and nothing/,
    ),
  }),
  // Dates that are not dates: GDAL read 20241345 as 2024-13-45 and 2024XX01 as 0000-20-24.
  vector("v_shp_bad_dates.shp", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_bad_dates\.shp' .*not dates \(field 'day', row 1: '20241345'; field 'day', row 3: '2024XX01'\)/,
    ),
  }),
  // GeoPackage dates stored as text GDAL reads as null (2024-13-45, not a date, a number,
  // T24:00) or as an impossible day (2024-02-30): refused naming them, on both engines.
  vector("v_gpkg_bad_dates.gpkg", "geopackage", {
    expect: quarantined(
      "content_mismatch",
      /v_gpkg_bad_dates\.gpkg' .*not dates \(layer 'v_gpkg_bad_dates', column 'day', fid 2: '2024-13-45'; layer 'v_gpkg_bad_dates', column 'day', fid 3: 'not a date'; layer 'v_gpkg_bad_dates', column 'day', fid 4: '2024-02-30'; layer 'v_gpkg_bad_dates', column 'day', fid 5: '20240105'; layer 'v_gpkg_bad_dates', column 'at', fid 6: '2024-01-01T24:00:00Z'\)/,
    ),
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
  // A spreadsheet is a table without geometry to GDAL: told to export it as CSV.
  ...["v_ods.ods", "v_xlsx.xlsx"].map((file) =>
    vector(file, `gdal:${file.endsWith(".ods") ? "ODS" : "XLSX"}`, {
      expect: quarantined("content_mismatch", /has no layer with geometries.*CSV/),
    })
  ),
  // Excel's Windows "CSV" (CP1252): refused, not published garbled.
  vector("v_csv_cp1252.csv", "csv", {
    expect: quarantined("content_mismatch", /v_csv_cp1252\.csv' .* not UTF-8 .*CSV UTF-8/),
  }),
  // Arcs with Z, which GDAL 3.6's -nlt CONVERT_TO_LINEAR leaves as they are: turned into
  // segments with Z, as OGR's getLinearGeometry() does (issue 11), 2D geometries kept 2D.
  vector("v_gpkg_curves_z.gpkg", "geopackage", {
    expect: published((out) =>
      assert.deepEqual(meta(out.docs[0]!).geometry_types, [
        "LineString",
        "LineString Z",
        "MultiLineString Z",
        "MultiPolygon Z",
        "Point",
        "Polygon Z",
      ])
    ),
  }),
  // Integers beyond 64 bits, which GDAL clamps to INT64_MAX/INT64_MIN: refused naming them.
  vector("v_geojson_bigint.geojson", "geojson", {
    expect: quarantined(
      "content_mismatch",
      /v_geojson_bigint\.geojson' has integers beyond 64 bits \(property 'cell': 18446744073709551616; property 'low': -9223372036854775809\).*as strings/,
    ),
  }),
  // 3D surfaces: refused naming them, not failed as a platform fault.
  vector("v_gpkg_tin.gpkg", "geopackage", {
    expect: quarantined(
      "invalid_geometry",
      /v_gpkg_tin\.gpkg' \(layer 'v_gpkg_tin'\) holds 3D surfaces .*MultiPolygon Z/,
    ),
  }),
  // Coordinates in columns GDAL does not guess: told which names it reads and how to name them.
  vector("v_csv_xcoord.csv", "csv", {
    expect: quarantined(
      "content_mismatch",
      /v_csv_xcoord\.csv' .* none of its columns \(id, X_COORD, Y_COORD\) .*X_POSSIBLE_NAMES=X_COORD/,
    ),
  }),
  // Uploads cut off before their first byte, and zips that hold no Shapefile to read.
  vector("v_zero.geojson", "geojson", {
    expect: quarantined("content_mismatch", /v_zero\.geojson' .* is empty \(0 bytes\)/),
  }),
  ...([
    ["v_zip_nested.zip", /holds another zip \(inner\.zip\) instead of a Shapefile; unzip/],
    ["v_zip_traversal.zip", /holds paths outside the archive \(\.\.\/\.\.\/roads\.shp\)/],
    ["v_zip_empty.zip", /its zip is empty/],
    ["v_zip_other.zip", /holds no \.shp \(it holds data\/readme\.txt, data\/roads\.csv\)/],
  ] as const).map(([file, message]) =>
    vector(file, "shapefile", {
      expect: quarantined(
        "content_mismatch",
        new RegExp(`${file.replace(".", "\\.")}' .*${message.source}`),
      ),
    })
  ),
  // Shapefiles in folders of their own: no one dataset of GDAL holds them.
  vector("v_shp_zip_split.zip", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_zip_split\.zip' .*2 Shapefiles in 2 folders \(export\/cadastre\/parcels\.shp, export\/hydro\/wells\.shp\); zip each folder/,
    ),
  }),
  vector("v_not_json.geojson", "geojson", {
    expect: quarantined("content_mismatch", /v_not_json\.geojson.*Unterminated string/),
  }),
  // Second round (issue 11's vector matrix): code pages, dates and times on every route,
  // OSM, CSV column spellings, long text, the poles, unknown and local CRSs, files cut off.
  vector("v_shp_cpg_936.shp", "shapefile", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["北京市", "上海 Shanghai"])),
  }),
  ...[
    "v_shp_pt_dates.shp",
    "v_fgb_pt_dates.fgb",
    "v_gpkg_pt_dates.gpkg",
    "v_gpkg_poly_dates.gpkg",
    "v_geojson_pt_dates.geojson",
    "v_geojson_poly_dates.geojson",
  ].map((file) => vector(file, FORMAT_OF[file.split(".").pop()!]!)),
  vector("v_gpx_times.gpx", "gpx"),
  vector("v_osm.osm", "gdal:OSM"),
  vector("v_csv_lonlat.csv", "csv"),
  vector("v_csv_lnglat.csv", "csv"),
  vector("v_csv_XY.csv", "csv"),
  // Header names repeated (alike but for case, or exactly): renamed as GDAL's writers do.
  vector("v_csv_dupcols.csv", "csv", { renamed: { Name: "Name2", name2: "name3" } }),
  vector("v_geojson_longstr.geojson", "geojson", {
    expect: published((out) => assert.equal(String(column(out, "note")[0]).length, 300000)),
  }),
  vector("v_geojson_polar.geojson", "geojson"),
  // A CRS the file names that PROJ does not know: refused, not read as WGS 84 (GDAL's
  // fallback, which published it as declared) or as the declared CRS.
  vector("v_geojson_unknown_crs.geojson", "geojson", {
    expect: quarantined(
      "unknown_crs",
      /v_geojson_unknown_crs\.geojson' names a CRS that GDAL does not know \(PROJ: .*crs not found: it names 'urn:ogc:def:crs:EPSG::999999'\)/,
    ),
  }),
  vector("v_gml_unknown_crs.gml", "gml", {
    crs: "EPSG:32612",
    expect: quarantined(
      "unknown_crs",
      /v_gml_unknown_crs\.gml' names a CRS that GDAL does not know \(PROJ: .*crs not found: it names 'EPSG:999999'\)/,
    ),
  }),
  vector("v_shp_local.shp", "shapefile", {
    crs: "EPSG:32612",
    expect: quarantined(
      "crs_mismatch",
      /v_shp_local\.shp' is in a local engineering CRS \(Site grid\): .*set "assign_crs": true .*ogr2ogr -a_srs EPSG:32612/,
    ),
  }),
  vector("v_shp_local_assigned.shp", "shapefile", {
    crs: "EPSG:32612",
    assignCrs: true,
    expect: published((out) => {
      const m = meta(out.docs[0]!);
      assert.deepEqual([m.source_crs, m.crs_source], ["EPSG:32612", "declared"]);
    }),
  }),
  vector("v_csv_cut_wkt.csv", "csv", {
    expect: quarantined(
      "invalid_geometry",
      /v_csv_cut_wkt\.csv' .* 1 geometries GDAL could not read/,
    ),
  }),
  vector("v_shp_upper.SHP", "shapefile"),
  vector("v_shp name ü.shp", "shapefile"),
  vector("v_geojson_ids.geojson", "geojson"),
  vector("v_kml_multi.kml", "kml"),
  // A string feature id where an "id" property is a number: GDAL would publish 0 for it.
  vector("v_geojson_id_clash.geojson", "geojson", {
    expect: quarantined(
      "content_mismatch",
      /v_geojson_id_clash\.geojson' .*'node\/9' .*parsed incompletely.*rename the "id" property/,
    ),
  }),
  // A CSV cut off inside its last row, which GDAL reads with the rest of the row empty.
  vector("v_csv_cut_number.csv", "csv", {
    expect: quarantined(
      "content_mismatch",
      /v_csv_cut_number\.csv' .*its last row \("2,-110\.25,45\.7"\) has 3 of the header's 4 columns and no line end/,
    ),
  }),
  // Files cut off in transfer: refused with GDAL's own words.
  ...([
    ["v_gpkg_cut.gpkg", "geopackage", /malformed/],
    ["v_kml_cut.kml", "kml", /no element found|Parse error at EOF/],
    ["v_gpx_cut.gpx", "gpx", /XML parsing of GPX file failed/],
    [
      "v_fgb_cut_header.fgb",
      "flatgeobuf",
      /cannot read a layer of it .*Failed to read header.*cut short/,
    ],
    ["v_geojson_cut_early.geojson", "geojson", /Unterminated object/],
    ["v_dxf_cut.dxf", "dxf", /error at line 1046/],
    ["v_shp_zero.shp", "shapefile", /empty \(0 bytes\)/],
  ] as const).map(([file, format, message]) =>
    vector(file, format, {
      ...(format === "dxf" ? { crs: "EPSG:32612" } : {}),
      expect: quarantined(
        "content_mismatch",
        new RegExp(`${file.replace(".", "\\.")}'.*${message.source}`),
      ),
    })
  ),
  vector("v_gml_cut.gml", "gml", {
    expect: quarantined("processing_failed", /v_gml_cut\.gml'.*XML parsing of GML file failed/),
    // gdal3.js reads no feature of it, and says why only while converting.
    wasm: quarantined(
      "invalid_geometry",
      /v_gml_cut\.gml' \(layer 'v_gml_cut'\) has 2 features but 0 were read \(GDAL reported: .*XML parsing of GML file failed/,
    ),
  }),
  vector("v_tab_cut.tab", "mapinfo", {
    expect: quarantined("processing_failed", /v_tab_cut\.tab'.*ReadFromFile\(\) failed/),
    wasm: quarantined("content_mismatch", /v_tab_cut\.tab'.*Failed reading coordinate data/),
  }),
  // Third round (session 11).
  vector("v_shp_null_shapes.shp", "shapefile"),
  vector("v_shp_multipatch.shp", "shapefile", {
    expect: quarantined(
      "invalid_geometry",
      /v_shp_multipatch\.shp' .*holds 3D surfaces .*MULTIPOLYGON25D/,
    ),
  }),
  vector("v_shp_logical.shp", "shapefile"),
  vector("v_geojson_empty_fc.geojson", "geojson", {
    expect: quarantined("invalid_geometry", /v_geojson_empty_fc\.geojson' .*has no features/),
  }),
  vector("v_gpkg_3857_dt.gpkg", "geopackage", { crs: "EPSG:3857" }),
  vector("v_geojson_selfint.geojson", "geojson"),
  vector("v_gml_xsd.gml", "gml"),
  vector("v_fgb_zm.fgb", "flatgeobuf"),
  vector("v_kml_folders.kml", "kml"),
  // .cpg spellings and .dbf language driver ids (no .cpg) of Windows and DOS code pages.
  ...[
    "v_shp_cpg_latin1",
    "v_shp_cpg_1252",
    "v_shp_cpg_win1252",
    "v_shp_cpg_utf8_lower",
    "v_shp_ldid_57",
    "v_shp_ldid_03",
  ].map((stem) =>
    vector(`${stem}.shp`, "shapefile", {
      expect: published((out) => assert.deepEqual(column(out, "name"), ["Zürich", "Straße"])),
    })
  ),
  // A DOS-era .dbf (code page 437, said by its language driver id): gdal3.js cannot recode it,
  // which was reported as "nothing in the file says its code page".
  vector("v_shp_ldid_01.shp", "shapefile", {
    expect: published((out) => assert.deepEqual(column(out, "name"), ["Zürich", "Straße"])),
    wasm: {
      end: "pending",
      message:
        /'[^']*v_shp_ldid_01\.shp' \(layer 'v_shp_ldid_01'\): its text is in the code page its \.dbf's language driver id 0x01 names, but the embedded GDAL \(gdal3\.js\) cannot recode that code page\..*GDAL_ENGINE=native[^.]*upload it again$/,
    },
  }),
  // National grids in ArcGIS's .prj dialect (Esri names, no authority), declared by EPSG code.
  ...[
    "2056",
    "27700",
    "3035",
    "4258",
    "2193",
  ].map((code) => vector(`v_shp_esri_${code}.shp`, "shapefile", { crs: `EPSG:${code}` })),
  // 19-digit ids in N(19,0)/N(20,0) fields, which GDAL reads as doubles: published changed
  // (1234567890123456789 as 1234567890123456768) on both engines, as ogr2ogr does; refused.
  vector("v_shp_wide_ids.shp", "shapefile", {
    expect: quarantined(
      "content_mismatch",
      /v_shp_wide_ids\.shp' .*holds whole numbers too long for GDAL to read exactly \(field 'pid19', row 1: 1234567890123456789 would be published as 1234567890123456768; field 'pid20', row 1: 11234567890123456789 would be published as 11234567890123456512; field 'pid19', row 2: 9007199254740993 would be published as 9007199254740992;/,
    ),
  }),
  vector("v_geojson_foreign.geojson", "geojson"),
  vector("v_geojson_4d.geojson", "geojson"),
  vector("v_gpkg_empties.gpkg", "geopackage", { allowEmpty: true }),
  vector("v_csv_wkt_z.csv", "csv"),
  vector("v_fgb_noindex.fgb", "flatgeobuf"),
  vector("v_gpkg_mixed_dim.gpkg", "geopackage"),
];

/** The product of GTiff codecs, pixel types and layouts (`SPATIAL_MATRIX=full`). */
function fullRasters(): Case[] {
  const cases: Case[] = [];
  const codecs = [
    "NONE",
    "LZW",
    "DEFLATE",
    "PACKBITS",
    "ZSTD",
    "LZMA",
    "LERC",
    "LERC_DEFLATE",
    "LERC_ZSTD",
    "JPEG",
  ];
  const types = ["Byte", "Int8", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64"];
  for (const codec of codecs) {
    // JPEG holds 8-bit samples only.
    for (const type of codec === "JPEG" ? ["Byte"] : types) {
      for (const layout of ["tiled", "striped", "band"]) {
        const wasmLacks = /ZSTD|LZMA|LERC|JPEG/.test(codec);
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
    if (
      entry.name.startsWith(`${own}.`) || entry.name.startsWith(`${own}_src.`) ||
      entry.name === own
    ) {
      sidecars.push([entry.name.replace(own, stem(c.file)), `${dir}/${entry.name}`]);
    }
  }
  const upload: Upload & {
    layer?: string;
    allow_empty_geometries?: boolean;
    open_options?: string[];
    subdataset?: string | string[];
    assign_crs?: boolean;
  } = {
    name: c.file,
    from: `${dir}/${c.from ?? c.file}`,
    type: c.type,
    format: c.format,
    crs: c.crs,
    ...(c.layer ? { layer: c.layer } : {}),
    ...(c.allowEmpty ? { allow_empty_geometries: true } : {}),
    ...(c.openOptions ? { open_options: c.openOptions } : {}),
    ...(c.subdataset ? { subdataset: c.subdataset } : {}),
    ...(c.assignCrs ? { assign_crs: true } : {}),
  };
  return [upload, sidecars];
}

const SCRIPT = new URL("./_matrix_inputs.py", import.meta.url).pathname;

/** One file for GDAL to read back: `gdalinfo -json -checksum`, or ogr2ogr of a layer to GeoJSON. */
type ReadSpec =
  | { info: string; oo?: readonly string[]; warp?: readonly string[]; cog?: boolean }
  | {
    geojson: string;
    source: string;
    layer?: string;
    oo?: readonly string[];
    s_srs?: string;
    drivers?: string[];
    /** Each geometry linearized by OGR's getLinearGeometry() before the conversion. */
    linear?: boolean;
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
    scale?: number;
    offset?: number;
    unit?: string;
    description?: string;
    noDataValue?: number | string;
    checksum: number;
    colorInterpretation?: string;
    colorTable?: { entries: number[][] };
    mask?: { flags: string[] };
  }[];
  return {
    size: info.size,
    // ENVI gives a rotation of -0; the same number.
    geoTransform: (info.geoTransform as number[] | undefined)?.map((v) => v === 0 ? 0 : v),
    bands: bands.map((b, i) => ({
      type: b.type,
      nodata: b.noDataValue ?? null,
      checksum: b.checksum,
      scaled: [b.scale ?? 1, b.offset ?? 0, b.unit ?? "", b.description ?? ""],
      // A GeoTIFF has no "undefined" photometric: the first such band is written as gray.
      color: b.colorInterpretation === "Undefined" && i === 0 ? "Gray" : b.colorInterpretation,
      palette: b.colorTable?.entries ?? null,
      // A band's mask of its own (no flags) is the COG's mask of the dataset.
      mask: b.mask?.flags?.length === 0 ? ["PER_DATASET"] : b.mask?.flags ?? ["ALL_VALID"],
    })),
  };
}

/** The attribute table a published raster's ledger records, and its STAC Item's classes. */
async function attributeTable(out: Published) {
  const doc = out.docs[0]!;
  const table = meta(doc).raster?.attribute_table as {
    columns: unknown[];
    row_count: number;
    rows: unknown[][];
  };
  assert.ok(table, `${doc.key}: the ledger records the attribute table`);
  const item = JSON.parse(
    new TextDecoder().decode(await out.landing.store.getBytes(LAKE, itemKeyOf(doc))),
  ) as {
    stac_extensions: string[];
    assets: {
      data: { "raster:bands": { "classification:classes"?: Record<string, unknown>[] }[] };
    };
  };
  assert.ok(item.stac_extensions.some((e) => e.includes("/classification/")));
  const classes = item.assets.data["raster:bands"][0]!["classification:classes"] ?? [];
  return { table, classes };
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
  const validation = ours.cogValidation as { errors: string[] } | undefined;
  assert.deepEqual(validation?.errors, [], `${c.file}: validate_cloud_optimized_geotiff`);
  assert.deepEqual(rasterFacts(ours), rasterFacts(theirs), c.file);
  const wkt = (ours.coordinateSystem as { wkt?: string } | undefined)?.wkt;
  // A compound CRS (horizontal + vertical) is kept whole; its horizontal part is the declared one.
  const compound = wkt === undefined ? undefined : horizontalOf(wkt);
  assert.equal(`EPSG:${epsgOf(compound ?? wkt)}`, c.outCrs ?? c.crs, `${c.file}: the COG's CRS`);
  assert.equal(meta(doc).crs, c.outCrs ?? c.crs);
}

/** The subdataset an output was read from, as its lineage says. */
function subdatasetOf(doc: LedgerDocument): string {
  const steps = meta(doc).iso19115.lineage.process_steps;
  const name = steps[0]?.match(/ subdataset '(.*)' with GDAL /)?.[1];
  assert.ok(name !== undefined, `${doc.key}: lineage names the subdataset`);
  return name;
}

/** The source layer an output was read from, as its lineage says. */
function layerOf(doc: LedgerDocument): string {
  const steps = meta(doc).iso19115.lineage.process_steps;
  const layer = steps[0]?.match(/ layer '(.*)' with GDAL /)?.[1];
  assert.ok(layer !== undefined, `${doc.key}: lineage names the layer`);
  return layer;
}

/** Checks a published GeoParquet with DuckDB, and against GDAL's own conversion of the source. */
/** The `geo` CRS of each vector output, as the first engine wrote it. */
const CRS_BY_OUTPUT = new Map<string, string>();

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
    columns: Record<
      string,
      { encoding: string; geometry_types: string[]; bbox?: number[]; crs?: unknown }
    >;
  };
  assert.equal(geo.version, "1.1.0");
  const column = geo.columns[geo.primary_column]!;
  assert.equal(column.encoding, "WKB");
  // The same CRS object whichever engine wrote it (their PROJ versions named different
  // PROJJSON schema versions for it: v0.5 native, v0.7 gdal3.js).
  const output = `${c.file} ${doc.key.split("/").pop()}`;
  // Compared whole (datum ensemble or plain datum, axes, ids), not by code alone: a native
  // host that had read a WGS 84 GeoTIFF once wrote EPSG:4326 with the plain datum (60c66d4).
  const crs = JSON.stringify(column.crs ?? null);
  const other = CRS_BY_OUTPUT.get(output);
  if (other === undefined) CRS_BY_OUTPUT.set(output, crs);
  else {assert.deepEqual(
      JSON.parse(crs),
      JSON.parse(other),
      `${output}: the geo CRS of both engines`,
    );}
  assert.deepEqual(
    [...column.geometry_types].sort(),
    [...(m.geometry_types ?? [])].sort(),
    c.file,
  );
  if (m.bbox !== null) assert.deepEqual(column.bbox, m.bbox, `${c.file}: bbox`);
  const ours = await ourFeatures(l, doc.key);
  const native = (JSON.parse(await Deno.readTextFile(nativeGeojson)) as { features: Feature[] })
    .features;
  assertSameFeatures(ours, native, `${c.file} (${layerOf(doc)})`, c.renamed, c.datesOnly);
  return ours;
}

/** Bytes as uppercase hexadecimal, as GDAL writes a binary field into text. */
const hex = (bytes: Uint8Array) =>
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();

/** A value as both readers can give it: numbers (int64 as bigint), dates as ISO text. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  // ogr2ogr's GeoJSON writes a binary field as hexadecimal text.
  if (value instanceof Uint8Array) return hex(value);
  if (value instanceof Date) return value.toISOString().replace(/T00:00:00\.000Z$/, "");
  if (typeof value === "string" && /^\d{4}\/\d\d\/\d\d/.test(value)) {
    // ogr2ogr's GeoJSON writes dates as YYYY/MM/DD[ HH:MM:SS[+TZ]].
    return value.replaceAll("/", "-");
  }
  return value;
}

/** Our features equal native GDAL's: attributes (by GDAL's names) and geometry. */
function assertSameFeatures(
  ours: Feature[],
  native: Feature[],
  label: string,
  renamed: Record<string, string> = {},
  datesOnly = false,
) {
  assert.equal(ours.length, native.length, `${label}: feature count`);
  ours.forEach((feature, i) => {
    const expected = native[i]!;
    for (const [gdalName, value] of Object.entries(expected.properties)) {
      // The GeoParquet's own columns keep their names: attributes called so get `_attr`.
      const name = renamed[gdalName] ??
        (gdalName === "geometry" || gdalName === "bbox" ? `${gdalName}_attr` : gdalName);
      assert.ok(name in feature.properties, `${label}: column '${name}'`);
      const want = plain(value);
      // GDAL's GeoJSON writes a JSON text attribute as the JSON itself.
      const got = typeof want === "object" && want !== null
        ? JSON.parse(String(feature.properties[name]))
        : plain(feature.properties[name]);
      if (typeof got === "string" && typeof want === "string" && /^\d{4}-\d\d-\d\d/.test(want)) {
        // The same instant and the same time zone (or none), in milliseconds or not.
        const exact = (text: string) =>
          datesOnly ? text.slice(0, 10) : text.replace(/(T\d\d:\d\d:\d\d)\.000(?=$|[Z+-])/, "$1");
        assert.equal(exact(got), exact(want), `${label}: feature ${i} '${name}'`);
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

async function runMatrix(t: Deno.TestContext, all: Case[]) {
  const cases = ONLY === undefined ? all : all.filter((c) => new RegExp(ONLY).test(c.file));
  const dir = await Deno.makeTempDir({ prefix: "spatial-matrix-" });
  try {
    await generate(dir, cases);
    for (const [kind, gdal] of engines) {
      const engine = kind as EngineKind;
      const outcome = (c: Case) => (engine === "wasm" ? c.wasm : undefined) ?? c.expect;
      const publish = cases.filter((c) => outcome(c).end === "published");
      // SPATIAL_MATRIX_ONLY may leave no file to publish (a manifest must list one).
      if (publish.length > 0) {
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
              const mine = docs.filter((d) =>
                meta(d).source_files[0]?.key === `${batch}/${c.file}`
              );
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
                  const source = `${dir}/${c.from ?? c.file}`;
                  specs.push({ info: file, cog: true }, {
                    info: c.subdatasets === undefined
                      ? source
                      : /^page_\d+$/.test(subdatasetOf(doc))
                      ? `GTIFF_DIR:${subdatasetOf(doc).slice(5)}:${source}`
                      : `NETCDF:"${source}":${subdatasetOf(doc)}`,
                    ...(c.openOptions ? { oo: c.openOptions } : {}),
                    ...(c.warp ? { warp: c.warp } : {}),
                  });
                } else {
                  specs.push({
                    geojson: `${file}.geojson`,
                    source: c.inner !== undefined
                      ? `/vsizip/${dir}/${c.file}${c.inner === "" ? "" : `/${c.inner}`}`
                      : `${dir}/${c.from ?? c.file}`,
                    layer: layerOf(doc),
                    oo: [
                      ...openOptionsOf({
                        path: c.file,
                        type: "vector",
                        format: c.format,
                        crs: c.crs,
                        ...(c.openOptions ? { open_options: c.openOptions } : {}),
                      }),
                      ...(c.readWith ?? []),
                    ],
                    ...(meta(doc).crs_source === "declared" ? { s_srs: c.crs } : {}),
                    // A plain KML is read by the KML driver on both engines (not LIBKML,
                    // which native GDAL prefers): compared with that driver's reading.
                    ...(/^v_kml(_multi|_folders)?\.kml$|^v_kmz\.kmz$/.test(c.file)
                      ? { drivers: ["KML"] }
                      : {}),
                    ...(c.file === "v_gpkg_curves_z.gpkg" ? { linear: true } : {}),
                  });
                }
              }
            }
            const read = await readBack(work, specs);
            let next = 0;
            for (const { c, docs: mine } of outputs) {
              const out: Published = { docs: mine, features: {}, info: {}, engine, landing: l };
              if (c.subdatasets !== undefined) {
                assert.deepEqual(mine.map(subdatasetOf), c.subdatasets, `${c.file}: subdatasets`);
              }
              for (const doc of mine) {
                assertBbox(doc, c.file);
                if (c.warp !== undefined) {
                  const steps = meta(doc).iso19115.lineage.process_steps;
                  assert.ok(
                    steps.some((step) => step.startsWith(`gdalwarp ${c.warp!.join(" ")} (`)),
                    `${c.file}: lineage names the warp: ${steps.join(" / ")}`,
                  );
                }
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
      }
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
              if (expected.message) assert.match(problems[0]!.message, expected.message);
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
