/**
 * `spatial/raster_cog`: each raster of a batch as a Cloud Optimized GeoTIFF
 * (tiled 512x512, overviews, deflate) made by the GDAL engine, written to
 * `data-lake/<project>/<batch>/<name>.tif` with its footprint, CRS, size,
 * bands and statistics in the ledger.
 *
 * What GDAL users do with rasters that are not on a grid is done here too:
 * a scan placed only by ground control points, or a satellite scene by
 * RPCs, is warped first (see {@linkcode placementWarp}); a file of several
 * subdatasets (a netCDF's variables) becomes a COG per subdataset,
 * `<name>__<variable>.tif`, or the one the manifest's `subdataset` picks.
 *
 * @module
 */

import path from "node:path";
import { systemClock } from "../../core/clock.ts";
import { GdalError, type GdalScratch } from "../../resources/spatial/gdal.ts";
import { rasterWkt, SpatialBatchError, type StagedSource } from "./_batch.ts";
import { type CrsDecision, horizontalOf, wktCode } from "./crs.ts";
import {
  batchAsset,
  type BatchRun,
  type SpatialAssetOptions,
  type StagedBatch,
  withStagedBatch,
} from "./batch_asset.ts";
import { rasterChecks } from "./checks.ts";
import { densifiedOutline, footprintBox, type LonLatBox, outlineBox } from "./_footprint.ts";
import { iso19115, publishOutput } from "./lineage.ts";
import type { ManifestFile, ManifestProblem } from "./manifest.ts";

/** Creation options of the COG driver: what makes the output cloud-optimised. */
export const COG_OPTIONS = [
  "-of",
  "COG",
  "-co",
  "COMPRESS=DEFLATE",
  "-co",
  "PREDICTOR=YES",
  "-co",
  "BLOCKSIZE=512",
  "-co",
  "OVERVIEWS=AUTO",
  "-co",
  "OVERVIEW_RESAMPLING=AVERAGE",
  // Band statistics computed while writing and stored in the COG, so readers
  // (and the ledger) get them without another pass over the pixels.
  "-co",
  "STATISTICS=YES",
];

/** Options of the scratch GeoTIFF a raster placed by GCPs or RPCs is warped into. */
const WARPED_OPTIONS = ["-of", "GTiff", "-co", "TILED=YES", "-co", "BIGTIFF=IF_SAFER"];

/**
 * The `gdalwarp` options that put a raster without a geotransform onto a
 * grid, as a GDAL user would (`gdalwarp -t_srs <crs> in.tif out.tif`), or
 * `undefined` when nothing places it:
 *
 * - ground control points (3 or more): warped into their own CRS, which
 *   is the declared one (checked, or assigned with `-s_srs` to GCPs
 *   without one), with the polynomial gdalwarp picks for their number;
 * - RPCs (a satellite scene's rational polynomial coefficients):
 *   orthorectified into the declared CRS at the scene's mean height (the
 *   RPCs' `HEIGHT_OFF`): without a DEM, gdalwarp's own default is a height
 *   of 0, off by the scene's whole elevation. The ledger's lineage says so.
 *
 * Pixels outside the source are the source's nodata, or 0 without one, as
 * gdalwarp fills them.
 */
export function placementWarp(
  info: Record<string, unknown> | undefined,
  declared: string,
  crs: CrsDecision,
): string[] | undefined {
  const gcps = (info?.gcps as { gcpList?: unknown[] } | undefined)?.gcpList?.length ?? 0;
  if (gcps >= 3) {
    return [
      ...WARPED_OPTIONS,
      ...(crs.source === "declared" ? ["-s_srs", declared] : []),
      "-t_srs",
      declared,
    ];
  }
  const rpc = (info?.metadata as Record<string, Record<string, string>> | undefined)?.RPC;
  if (rpc !== undefined) {
    const height = Number(rpc.HEIGHT_OFF);
    return [
      ...WARPED_OPTIONS,
      "-rpc",
      ...(Number.isFinite(height) ? ["-to", `RPC_HEIGHT=${height}`] : []),
      "-t_srs",
      declared,
    ];
  }
  return undefined;
}

/** Each band's nodata value as text (`none` without one), from `gdalinfo -json`. */
function bandNodata(info: Record<string, unknown> | undefined): string[] {
  const bands = (info?.bands as { noDataValue?: number | string }[] | undefined) ?? [];
  return bands.map((b) => b.noDataValue === undefined ? "none" : String(b.noDataValue));
}

/** Whether GDAL's HDF5 driver read a netCDF-4 file (the netCDF library's `_NCProperties`). */
function netcdf4(info: Record<string, unknown> | undefined): boolean {
  const driver = String(info?.driverShortName ?? "");
  const metadata = (info?.metadata as Record<string, Record<string, string>> | undefined)?.[""];
  return /^HDF5/.test(driver) && metadata !== undefined && "_NCProperties" in metadata;
}

/**
 * The gdal_translate options that make a COG with band statistics on GDAL
 * `version`: the COG driver takes `STATISTICS=YES` from GDAL 3.8 (gdal3.js);
 * older ones (Debian's 3.6) ignore it with a warning, so statistics are
 * computed from the source with `-stats` and copied into the COG instead.
 *
 * `source` is the input's `gdalinfo -json`: a band packed in another number
 * of bits than 8/16/32/64 (`NBITS`, e.g. a 1-bit CCITT fax scan or mask, a
 * 12-bit sensor image) cannot take a horizontal predictor (GDAL refuses
 * "PREDICTOR=2 is only supported with 8/16/32/64 bit samples"), so it is
 * written without one; so is a complex float band (CFloat32/CFloat64), which
 * GDAL's floating-point predictor does not take.
 *
 * A source with overviews of its own (built by the user, in the file or a
 * `.ovr` beside it) keeps them in the COG, as `OVERVIEWS=AUTO` promises. But
 * GDAL 3.8's COG driver drops them as soon as statistics are asked for
 * (`STATISTICS=YES` or `-stats`; 3.6 keeps them): there, no statistics are
 * embedded, and the asset computes them from the COG for the ledger instead
 * (see {@linkcode embedsStatistics}).
 *
 * A single band with a mask of its own (flags neither ALL_VALID, NODATA,
 * ALPHA nor PER_DATASET: an ISIS3 cube's special pixels) makes GDAL's COG
 * driver fail ("The only flag value supported for internal mask is
 * GMF_PER_DATASET", gdal_translate -of COG as well): its mask is written as
 * the dataset's (`-mask 1`), which for one band is the same mask.
 */
export function cogOptions(version: string, source?: Record<string, unknown>): string[] {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const bands = Array.isArray(source?.bands) ? source.bands as { metadata?: unknown }[] : [];
  const packed = bands.some((band) => {
    const nbits = (band.metadata as Record<string, Record<string, string>> | undefined)
      ?.IMAGE_STRUCTURE?.NBITS;
    return nbits !== undefined && ![8, 16, 32, 64].includes(Number(nbits));
  });
  const without = (options: string[], value: string) =>
    options.filter((o, i) => o !== value && options[i + 1] !== value);
  // Complex floats take neither predictor (GDAL: "PREDICTOR=3 is only
  // supported with Float32 or Float64"), though PREDICTOR=YES picks 3 for them.
  const complexFloat = (source?.bands as { type?: string }[] | undefined)?.some((b) =>
    /^CFloat/.test(b.type ?? "")
  );
  const options = packed || complexFloat ? without(COG_OPTIONS, "PREDICTOR=YES") : [...COG_OPTIONS];
  const ownOverviews = (source?.bands as { overviews?: unknown[] }[] | undefined)?.some((b) =>
    (b.overviews?.length ?? 0) > 0
  );
  const masks = (source?.bands as { mask?: { flags?: string[] } }[] | undefined) ?? [];
  if (masks.length === 1 && masks[0]!.mask?.flags?.length === 0) options.push("-mask", "1");
  if (major > 3 || (major === 3 && minor >= 8)) {
    return ownOverviews ? without(options, "STATISTICS=YES") : options;
  }
  return ["-stats", ...options];
}

/** GDAL refusing to store statistics in a source opened read-only (see convertRasters). */
const READ_ONLY_METADATA = /Unable to set metadata on read-only file/;

/** Whether a COG made with these `gdal_translate` options carries its band statistics. */
export function embedsStatistics(translateOptions: readonly string[]): boolean {
  return translateOptions.includes("-stats") || translateOptions.includes("STATISTICS=YES");
}

/** One COG written by {@linkcode processRasterBatch}. */
export interface RasterOutput {
  /** Lake key of the COG. */
  key: string;
  /** Id of its ledger document (also the object's `mongodb_doc_id` metadata). */
  docId: string;
  /** The manifest's path of the raster it was made from. */
  source: string;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Number of bands. */
  bands: number;
  /** The COG's CRS. */
  crs: string;
}

interface GdalInfoBand {
  band: number;
  type: string;
  minimum?: number;
  maximum?: number;
  mean?: number;
  stdDev?: number;
  noDataValue?: number;
  overviews?: unknown[];
}

/** Most rows of a raster attribute table recorded in the ledger (a land-cover legend has tens). */
export const ATTRIBUTE_TABLE_ROWS = 10_000;

/** GDAL's field usages (`GDALRATFieldUsage`) by number, as `gdalinfo -json` gives them. */
const RAT_USAGES = [
  "generic",
  "pixel_count",
  "name",
  "min",
  "max",
  "min_max",
  "red",
  "green",
  "blue",
  "alpha",
  "red_min",
  "green_min",
  "blue_min",
  "alpha_min",
  "red_max",
  "green_max",
  "blue_max",
  "alpha_max",
] as const;

/** A raster attribute table (an ERDAS .img legend, a GeoTIFF's in its .aux.xml) for the ledger. */
export interface AttributeTable {
  /** The band it describes (GDAL reports the first band's). */
  band: number;
  /** `thematic` (rows are classes) or `athematic` (rows are value ranges), as GDAL says. */
  table_type: string;
  /** Its columns: name, value type and GDAL usage (`name`, `min_max`, `red`...). */
  columns: { name: string; type: "integer" | "real" | "string"; usage: string }[];
  /** Rows in the source. */
  row_count: number;
  /** The rows (values in column order), or `null` past {@linkcode ATTRIBUTE_TABLE_ROWS}. */
  rows: (number | string | null)[][] | null;
}

/**
 * The raster attribute table of a source's `gdalinfo -json` (its `rat`), or
 * `undefined` without one. A COG cannot hold one (GeoTIFF keeps it in a
 * `.aux.xml` beside the file, which the lake does not carry), so the table of
 * classes a land-cover map depends on is recorded in the ledger and the STAC
 * Item (`classification:classes`) instead of being dropped.
 */
export function attributeTableOf(
  info: Record<string, unknown> | undefined,
): AttributeTable | undefined {
  const rat = info?.rat as
    | {
      tableType?: string;
      fieldDefn?: { name?: string; type?: number; usage?: number }[];
      row?: { f?: unknown[] }[];
    }
    | undefined;
  if (!rat || !Array.isArray(rat.fieldDefn) || rat.fieldDefn.length === 0) return undefined;
  const rows = Array.isArray(rat.row) ? rat.row : [];
  return {
    band: 1,
    table_type: rat.tableType ?? "thematic",
    columns: rat.fieldDefn.map((f, i) => ({
      name: f.name ?? `column_${i + 1}`,
      type: f.type === 0 ? "integer" : f.type === 1 ? "real" : "string",
      usage: RAT_USAGES[f.usage ?? 0] ?? "generic",
    })),
    row_count: rows.length,
    rows: rows.length > ATTRIBUTE_TABLE_ROWS
      ? null
      : rows.map((r) =>
        (r.f ?? []).map((v) => typeof v === "number" || typeof v === "string" ? v : null)
      ),
  };
}

/**
 * A statistic as the ledger and STAC hold it: a finite number, or `null`.
 * A float band holding infinities (a ratio divided by zero) has GDAL
 * statistics of `-Infinity`/`Infinity`/`NaN`, which `gdalinfo -json` writes as
 * text: they reached the ledger as strings and made the STAC Item invalid
 * (`raster:bands[].statistics` are numbers).
 */
function finiteOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Whether a WKT is of a geographic CRS (its coordinates are longitudes and latitudes). */
const isGeographic = (wkt: string | undefined) => /^\s*GEOG(CRS|CS)\b/.test(wkt ?? "");

/**
 * The lon/lat box of a projected raster from its outline densified in its
 * own CRS and transformed by GDAL (`ogr2ogr -t_srs EPSG:4326`, points PROJ
 * cannot transform skipped), reaching a pole it covers (see
 * {@linkcode outlineBox}); `undefined` for a geographic raster, whose
 * corners are its box, or one without geotransform or CRS.
 *
 * `gdalinfo`'s `wgs84Extent` is the four corners only: a polar
 * stereographic grid (EPSG:3413, 3031) covering the pole got a box of zero
 * height at its corners' latitude, and a CONUS Albers grid (EPSG:5070,
 * NLCD's) a north 3.7° short of its top edge.
 */
export async function projectedBox(
  scratch: GdalScratch,
  info: Record<string, unknown>,
  name: string,
  label: string,
): Promise<LonLatBox | null | undefined> {
  const gt = info.geoTransform as number[] | undefined;
  const [width, height] = (info.size as number[] | undefined) ?? [];
  const wkt = (info.coordinateSystem as { wkt?: string } | undefined)?.wkt;
  if (!Array.isArray(gt) || !width || !height || !wkt?.trim() || isGeographic(wkt)) {
    return undefined;
  }
  const { ring, centre } = densifiedOutline(gt, width, height);
  const points = [...ring, centre].map((coordinates, i) => ({
    type: "Feature",
    properties: { i },
    geometry: { type: "Point", coordinates },
  }));
  const input = `${name}_outline.geojson`;
  await Deno.writeTextFile(
    scratch.hostPath(input),
    JSON.stringify({ type: "FeatureCollection", features: points }),
  );
  let output: string;
  try {
    output = await scratch.gdal.ogr2ogr(
      scratch.gdalPath(input),
      ["-f", "GeoJSON", "-s_srs", wkt, "-t_srs", "EPSG:4326", "-skipfailures"],
      `${name}_outline_lonlat`,
      // Points outside the projection's domain are GDAL errors that skip them, not failures.
      { label, errors: [] },
    );
  } catch (error) {
    // No way to lon/lat at all (another planet's CRS): gdalinfo's extent decides, as before.
    if (error instanceof GdalError) return undefined;
    throw error;
  }
  const features = (JSON.parse(await Deno.readTextFile(scratch.toHost(output))) as {
    features: { properties: { i: number }; geometry: { coordinates: number[] } | null }[];
  }).features;
  const lonLat = new Map(
    features.filter((f) => f.geometry !== null && f.geometry.coordinates.every(Number.isFinite))
      .map((f) => [f.properties.i, f.geometry!.coordinates]),
  );
  const outline = ring.map((_, i) => lonLat.get(i)).filter((p) => p !== undefined);
  if (outline.length < 4) return undefined;
  return outlineBox(outline, lonLat.get(ring.length));
}

/**
 * Summarises `gdalinfo -json -stats` output for the ledger; `box` is the
 * raster's lon/lat box when known better than its corners (see
 * {@linkcode projectedBox}).
 */
export function rasterSummary(
  info: Record<string, unknown>,
  declaredCrs: string,
  attributeTable?: AttributeTable,
  box?: LonLatBox | null,
) {
  const size = (info.size as number[] | undefined) ?? [0, 0];
  const bands = (info.bands as GdalInfoBand[] | undefined) ?? [];
  const footprint = info.wgs84Extent as { coordinates?: number[][][] } | undefined;
  const srs = info.coordinateSystem as { wkt?: string } | undefined;
  // Across the antimeridian, west > east (see _footprint.ts).
  const bbox = box ??
    footprintBox(footprint?.coordinates?.[0] ?? [], isGeographic(srs?.wkt));
  const epsg = srs?.wkt?.match(/ID\["EPSG",(\d+)\]\]\s*$/)?.[1];
  return {
    width: size[0] ?? 0,
    height: size[1] ?? 0,
    crs: epsg ? `EPSG:${epsg}` : declaredCrs,
    bbox,
    footprint: footprint ?? null,
    geo_transform: (info.geoTransform as number[] | undefined) ?? null,
    bands: bands.map((b) => ({
      band: b.band,
      type: b.type,
      min: finiteOrNull(b.minimum),
      max: finiteOrNull(b.maximum),
      mean: finiteOrNull(b.mean),
      std_dev: finiteOrNull(b.stdDev),
      nodata: b.noDataValue ?? null,
      overviews: b.overviews?.length ?? 0,
    })),
    ...(attributeTable === undefined ? {} : { attribute_table: attributeTable }),
  };
}

/**
 * Converts every raster of a batch to a COG (a raster without CRS gets the
 * declared one, `-a_srs`), checks each is georeferenced, and only when all
 * are publishes them with lineage. A bad file throws a
 * {@linkcode SpatialBatchError} with the problems before anything is published.
 */
export function processRasterBatch(options: BatchRun): Promise<RasterOutput[]> {
  return withStagedBatch(options, "raster", (staged) => convertRasters(options, staged));
}

async function convertRasters(
  options: BatchRun,
  { batch, files, scratch, staged, timings }: StagedBatch<"raster">,
): Promise<RasterOutput[]> {
  const { lake, landingBucket, batchId, runId } = options;
  const processedAt = new Date((options.clock ?? systemClock).now()).toISOString();
  const taken = new Set<string>();
  const converted: {
    file: ManifestFile & { type: "raster" };
    name: string;
    cog: string;
    summary: ReturnType<typeof rasterSummary>;
    sources: StagedSource[];
    crs: CrsDecision;
    translateOptions: string[];
    /** Whether `-stats` was dropped: the source cannot take statistics while read-only. */
    readOnlySource: boolean;
    /** The gdalwarp options that placed it first (by GCPs or RPCs). */
    warpOptions?: string[];
    /** The subdataset it is, of a file of several. */
    subdataset?: string;
  }[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    const stagedFile = staged.get(file.path)!;
    const { sources, openOptions } = stagedFile;
    const stem = path.posix.basename(file.path).replace(/\.[^.]+$/, "").toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "_");
    // A file of several subdatasets (a netCDF's variables) is a COG each.
    const units = stagedFile.subdatasets ?? [{
      name: undefined,
      gdalPath: stagedFile.gdalPath,
      rasterInfo: stagedFile.rasterInfo,
      crs: stagedFile.crs,
    }];
    for (const unit of units) {
      const { crs } = unit;
      const label = unit.name === undefined
        ? file.path
        : `${file.path} (subdataset '${unit.name}')`;
      const what = unit.name === undefined
        ? `File '${file.path}'`
        : `Subdataset '${unit.name}' of '${file.path}'`;
      let name = unit.name === undefined
        ? stem
        : `${stem}__${unit.name.toLowerCase().replace(/[^a-z0-9_-]+/g, "_")}`;
      if (taken.has(name)) name = `${name}_${taken.size}`;
      taken.add(name);
      let gdalPath = unit.gdalPath;
      let rasterInfo = unit.rasterInfo;
      let warpOptions: string[] | undefined;
      const gt = rasterInfo?.geoTransform as number[] | undefined;
      if (Array.isArray(gt) && !(Math.abs(gt[1]! * gt[5]! - gt[2]! * gt[4]!) > 0)) {
        // Pixels of no width or height (a geotransform of zeros, a tool's bug): every
        // pixel would be published at one point or along one line.
        problems.push({
          code: "content_mismatch",
          message:
            `${what} has a geotransform whose pixels have no size (${
              gt.slice(0, 6).join(", ")
            }): its georeferencing is broken, and no place on Earth can be given to its ` +
            "pixels. Set its extent (gdal_edit.py -a_ullr <ulx> <uly> <lrx> <lry> " +
            `${path.basename(file.path)}) and upload it again.`,
          file: file.path,
        });
        continue;
      }
      if (!Array.isArray(rasterInfo?.geoTransform)) {
        warpOptions = placementWarp(rasterInfo, file.crs, crs);
        if (warpOptions === undefined) {
          problems.push({
            code: "content_mismatch",
            message: `${what} is not georeferenced (no geotransform, no ground control ` +
              "points, no RPCs and no world file such as .tfw beside it): there is no place on " +
              "Earth to publish it at." +
              // A truncated file opens without its georeferencing: GDAL said why.
              (unit.name === undefined && stagedFile.openErrors !== undefined
                ? ` GDAL reported while opening it: ${
                  stagedFile.openErrors.join(" | ")
                }; the file may be cut off or damaged.`
                : "") +
              (unit.name !== undefined
                ? ` To publish the others, name them in the file's manifest entry: "subdataset": ${
                  JSON.stringify(
                    units.filter((u) =>
                      Array.isArray(u.rasterInfo?.geoTransform) ||
                      placementWarp(u.rasterInfo, file.crs, u.crs) !== undefined
                    ).map((u) => u.name),
                  )
                } (it has ${units.map((u) => `'${u.name}'`).join(", ")}).`
                : netcdf4(rasterInfo)
                ? " It is a netCDF-4 file (HDF5 inside): declare format netcdf, whose driver " +
                  "reads its grid and CRS, which GDAL's HDF5 driver does not."
                : ""),
            file: file.path,
          });
          continue;
        }
        // Placed by its GCPs or RPCs: warped onto a grid of the CRS first,
        // as `gdalwarp` does (a COG keeping GCPs has no footprint, and most
        // readers ignore them).
        const warpedPath = await timings.time(
          "convert",
          () =>
            scratch.gdal.warp(gdalPath, warpOptions!, `${name}_warped`, {
              label,
              openOptions,
            }),
        );
        gdalPath = warpedPath;
        rasterInfo = await scratch.gdal.rasterInfo(warpedPath, [], { label });
      }
      const nodata = bandNodata(rasterInfo);
      if (new Set(nodata).size > 1) {
        problems.push({
          code: "content_mismatch",
          message: `${what} has a different nodata value per band (${
            nodata.map((v, i) => `band ${i + 1}: ${v}`).join(", ")
          }), and a GeoTIFF holds one for all its bands: GDAL would give every band the first ` +
            "one, so the others' nodata pixels would become data and their pixels of that " +
            "value nodata. Give the bands one nodata value (e.g. gdal_translate -a_nodata " +
            "<value>), or upload one file per band.",
          file: file.path,
        });
        continue;
      }
      // A warped raster has its CRS already (-t_srs).
      // A CRS of its own without a code, found to be the declared one by
      // its definition (see crs.ts): the COG gets the declared CRS, code
      // and all (a compound one keeps its vertical part: left as it is).
      const ownWkt = rasterWkt(rasterInfo ?? {});
      const codeless = crs.source === "file" && ownWkt !== undefined &&
        wktCode(ownWkt) === undefined && horizontalOf(ownWkt) === undefined;
      const assign = (crs.source === "declared" || codeless) && warpOptions === undefined
        ? ["-a_srs", file.crs]
        : [];
      let translateOptions = cogOptions(options.gdal.version, rasterInfo);
      let readOnlySource = false;
      const translate = () =>
        timings.time(
          "convert",
          () =>
            scratch.gdal.translate(
              gdalPath,
              [...translateOptions, ...assign],
              `${name}_cog`,
              // The warped file is the platform's own: no open options.
              { label, ...(warpOptions === undefined ? { openOptions } : {}) },
            ),
        );
      let cog: string;
      try {
        cog = await translate().catch((error: unknown) => {
          // `-stats` stores the statistics in the source first: a format that
          // keeps them in the file itself (PCIDSK), opened read-only, refuses
          // ("Unable to set metadata on read-only file"). Converted again
          // without; the statistics are then computed from the COG.
          if (
            !(error instanceof GdalError) || !translateOptions.includes("-stats") ||
            !READ_ONLY_METADATA.test(error.gdalMessage)
          ) {
            throw error;
          }
          // Without -stats, and without the STATISTICS=YES GDAL 3.6's COG driver ignores.
          translateOptions = translateOptions.filter((o, i, all) =>
            o !== "-stats" && o !== "STATISTICS=YES" && all[i + 1] !== "STATISTICS=YES"
          );
          readOnlySource = true;
          return translate();
        });
      } catch (error) {
        // A codec this build lacks met only while converting (a VRT opens without
        // reading its tiles): the file's own problem, so the batch waits for the
        // native engine instead of being quarantined as a platform failure.
        if (!(error instanceof GdalError) || error.code !== "spatial.codec_missing") throw error;
        problems.push({ code: "codec_missing", message: error.message, file: file.path });
        continue;
      }
      const info = await timings.time(
        "describe",
        () =>
          scratch.gdal.rasterInfo(cog, embedsStatistics(translateOptions) ? [] : ["-stats"], {
            label,
          }),
      );
      const box = await timings.time("describe", () => projectedBox(scratch, info, name, label));
      // The table of the source as the user gave it (a warped copy has none).
      const summary = rasterSummary(info, crs.crs, attributeTableOf(unit.rasterInfo), box);
      if (summary.bbox === null || summary.bbox.some((v) => !Number.isFinite(v))) {
        problems.push({
          code: "invalid_geometry",
          message: `${what} has no finite footprint in ${crs.crs} (GDAL gives no ` +
            "WGS84 extent); check its georeferencing and declared CRS.",
          file: file.path,
        });
        continue;
      }
      converted.push({
        file,
        name,
        cog,
        summary: { ...summary, crs: crs.crs },
        sources,
        crs,
        translateOptions,
        readOnlySource,
        ...(warpOptions === undefined ? {} : { warpOptions }),
        ...(unit.name === undefined ? {} : { subdataset: unit.name }),
      });
    }
  }
  if (problems.length > 0) {
    throw new SpatialBatchError(
      `spatial.${problems[0]!.code}`,
      `Cannot process batch '${batchId}': ${problems.map((p) => p.message).join(" ")}`,
      { input: `${landingBucket}/${batch.manifestKey}`, problems },
    );
  }
  const outputs: RasterOutput[] = [];
  for (
    const {
      file,
      name,
      cog,
      summary,
      sources,
      crs,
      translateOptions,
      readOnlySource,
      warpOptions,
      subdataset,
    } of converted
  ) {
    const key = `${batch.manifest.metadata.project}/${batchId}/${name}.tif`;
    const m = batch.manifest;
    const doc = await timings.time("publish", () =>
      publishOutput({
        lake,
        ledger: options.ledger,
        bucket: options.lakeBucket,
        key,
        file: scratch.toHost(cog),
        contentType: "image/tiff; application=geotiff; profile=cloud-optimized",
        format: "cog",
        runId,
        assetKey: options.assetKey ?? "spatial/raster_cog",
        batchId,
        metadata: {
          uploader: m.uploader,
          intent: m.intent,
          project: m.metadata.project,
          source_files: sources,
          crs: summary.crs,
          bbox: summary.bbox,
          column_schema: summary.bands.map((b) => ({ name: `band_${b.band}`, type: b.type })),
          raster: JSON.parse(JSON.stringify(summary)),
          gdal_engine: `${options.gdal.kind} (GDAL ${options.gdal.version})`,
          source_crs: crs.crs,
          crs_source: crs.source,
          manifest_etag: batch.etag,
          iso19115: iso19115({
            title: `${m.metadata.title ?? m.metadata.project}: ${path.posix.basename(file.path)}`,
            abstract: m.metadata.description,
            bbox: summary.bbox,
            crs: summary.crs,
            sources: sources.map((s) => s.key),
            steps: [
              `read ${file.format}${
                subdataset === undefined ? "" : ` subdataset '${subdataset}'`
              } with GDAL ${options.gdal.version} (${options.gdal.kind}) in ` +
              `${crs.crs} (${
                crs.source === "file"
                  ? "the file's CRS, as declared"
                  : warpOptions !== undefined
                  ? "declared: the CRS of its ground control points or RPCs"
                  : "declared: assigned with -a_srs"
              })`,
              ...(warpOptions === undefined ? [] : [
                `gdalwarp ${warpOptions.join(" ")} (${
                  warpOptions.includes("-rpc")
                    ? "orthorectified by its RPCs at the scene's mean height, without a DEM"
                    : "placed by its ground control points, polynomial as gdalwarp picks"
                })`,
              ]),
              `gdal_translate ${translateOptions.join(" ")}`,
              ...(summary.attribute_table === undefined ? [] : [
                `raster attribute table of band 1 (${summary.attribute_table.row_count} rows: ${
                  summary.attribute_table.columns.map((c) => c.name).join(", ")
                }) kept in this record${
                  summary.attribute_table.rows === null
                    ? ` without its rows (more than ${ATTRIBUTE_TABLE_ROWS})`
                    : " and the STAC Item"
                }, not in the COG (GeoTIFF keeps one only in an .aux.xml beside the file)`,
              ]),
              translateOptions.includes("-stats")
                ? "band statistics computed from the source (gdal_translate -stats) and stored in the COG"
                : embedsStatistics(translateOptions)
                ? "band statistics computed while writing (COG STATISTICS=YES)"
                : readOnlySource
                ? "band statistics computed from the COG for this record only (the source's " +
                  "format keeps statistics in the file, which is read-only here)"
                : "the source's own overviews kept; band statistics computed from the COG for " +
                  "this record only (GDAL 3.8 drops a source's overviews when asked to embed them)",
            ],
            format: "Cloud Optimized GeoTIFF",
            uploader: m.uploader,
            processedAt,
          }),
        },
      }));
    outputs.push({
      key,
      docId: doc.id,
      source: file.path,
      width: summary.width,
      height: summary.height,
      bands: summary.bands.length,
      crs: summary.crs,
    });
  }
  return outputs;
}

/** Builds `spatial/raster_cog`: a COG of every raster of a batch, with lineage. */
export function rasterCogAsset(options: SpatialAssetOptions = {}) {
  return batchAsset({
    key: "spatial/raster_cog",
    description: "Rasters of a batch as Cloud Optimized GeoTIFF in data-lake/<project>/<batch>/",
    checks: rasterChecks,
    process: processRasterBatch,
    describe: (o) => `wrote ${o.key} (${o.width}x${o.height}, ${o.bands} bands)`,
    summarize: (o) => ({ width: o.width, height: o.height, bands: o.bands, crs: o.crs }),
  }, options);
}

/** `spatial/raster_cog` without upstream assets. */
export const rasterCog = rasterCogAsset();
