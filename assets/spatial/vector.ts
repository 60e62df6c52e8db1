/**
 * `spatial/vector_geoparquet`: each vector file of a batch (any format GDAL
 * reads: Shapefile, zipped Shapefile, GeoJSON, GeoPackage, FlatGeobuf, GPX,
 * KML, CSV with X/Y or WKT columns...) read with the GDAL engine, checked
 * against its declared format and CRS, reprojected to `TARGET_CRS`, made
 * valid, passed through the intent (geodesic measures, or SQL in the spatial
 * engine), validated (row count, finite coordinates inside the CRS's area of
 * use), and only then written to `data-lake/<project>/<batch>/<name>.parquet`
 * as GeoParquet 1.1 with its ledger document.
 *
 * @module
 */

import path from "node:path";
import { systemClock } from "../../core/clock.ts";
import {
  type GdalEngineKind,
  GdalError,
  type GdalScratch,
  type OpenOptions,
  SCRATCH_FID,
  SCRATCH_GEOM,
  SCRATCH_GPKG_OPTIONS,
} from "../../resources/spatial/gdal.ts";
import { BAD_RING_MESSAGE, badRings } from "./_bad_rings.ts";
import { saidCodePage } from "./_dbf_encoding.ts";
import { vrtSources } from "./_vrt.ts";
import { deletedDbfRecords } from "./_dbf_scan.ts";
import type { ComputedColumn, GeoParquetResult } from "../../formats/geoparquet.ts";
import { type GeodesicMeasures, geodesicMeasures } from "../../formats/geodesic.ts";
import { gpkgToWkb } from "../../formats/wkb.ts";
import { GeoParquetError } from "../../formats/geoparquet_errors.ts";
import { withWorkspace } from "../../resources/spatial/engine.ts";
import { openSqlite } from "../../resources/_sqlite.ts";
import { isIdentityRecipe, recipeSql } from "../../resources/spatial/recipes.ts";
import {
  batchAsset,
  type BatchRun,
  type SpatialAssetOptions,
  type StagedBatch,
  withStagedBatch,
} from "./batch_asset.ts";
import { type LoadedBatch, SpatialBatchError, type StagedSource } from "./_batch.ts";
import type { ManifestFile, ManifestProblem } from "./manifest.ts";
import { type CrsDecision, decideCrs, geographicAreaOfUse } from "./crs.ts";
import { iso19115, publishOutput } from "./lineage.ts";
import { makeValidInPlace } from "./_make_valid.ts";
import { appendParts, shapefileParts } from "./_chunks.ts";
import { blankDatesToNull } from "./_blank_dates.ts";
import { vectorChecks } from "./checks.ts";
import { Timings } from "./_timings.ts";
import {
  type GeometryCensus,
  geometryCensus,
  gpkgHasRowsWithoutGeometry,
  type LongInteger,
  shapefileHasNullShapes,
} from "./_census.ts";

/** One GeoParquet written by {@linkcode processVectorBatch}. */
export interface VectorOutput {
  /** Lake key of the GeoParquet file. */
  key: string;
  /** Id of its ledger document (also the object's `mongodb_doc_id` metadata). */
  docId: string;
  /** The manifest's path of the file it was made from. */
  source: string;
  /** The layer of that file it holds. */
  layer: string;
  /** Number of features written. */
  rows: number;
  /** `[xmin, ymin, xmax, ymax]` in the output CRS; null when there is no geometry. */
  bbox: [number, number, number, number] | null;
  /** GeoParquet `geometry_types` of the geometry column. */
  geometryTypes: string[];
}

/**
 * Whether an OGR layer geometry type has Z, in either engine's spelling:
 * native GDAL's `3D Polygon` / `3DMeasuredPoint`, gdal3.js's `PolygonZ` /
 * `PointZM` (no OGR type name otherwise ends in Z). Testing `^3D` alone
 * took gdal3.js's PolygonZ Shapefiles for 2D and streamed them through a
 * 2D FlatGeobuf: published without their Z.
 */
export function hasZ(geometryType: string): boolean {
  const type = geometryType.replaceAll(" ", "");
  return /^3D/i.test(type) || /[a-z]ZM?$/.test(type);
}

/**
 * Layer types read through GDAL's Arrow stream when wanted as they are
 * (`pointsThroughArrow` in {@linkcode processVectorBatch}'s conversion):
 * native GDAL's 2D and 3D points, spaces removed. Measured ones are not
 * (GeoParquet drops M: ogr2ogr's `-dim` does it, see `dropMeasures`).
 */
const ARROW_POINT_TYPES: ReadonlySet<string> = new Set(["Point", "3DPoint"]);

/** Whether an OGR layer geometry type (`Point`, `Multi Point`, `3D Point`...) holds only points. */
export function isPointType(type: string): boolean {
  return /point/i.test(type) && !/polygon|line|curve|surface|collection|unknown/i.test(type);
}

/** A name's ASCII slug: lowercase letters, digits, `_` and `-` (the rest as `_`). */
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9_-]+/g, "_");

/**
 * The output name of a file's layer, unique in the batch: the file's stem,
 * then `__<layer>` for one layer of several. A layer name with no ASCII
 * letter or digit (道路, Реки) is `layer<n>`, its place in the file (from 1);
 * a name already taken (two files `trails.kml` and `trails.fgb`, two layers
 * slugged alike) gets the file's format, then a number.
 */
function uniqueName(
  file: ManifestFile,
  taken: Set<string>,
  layer?: { name: string; index: number },
): string {
  const stem = slug(path.posix.basename(file.path).replace(/\.(shp\.zip|[^.]+)$/i, ""));
  const own = layer === undefined
    ? undefined
    : /[a-z0-9]/.test(slug(layer.name))
    ? slug(layer.name)
    : `layer${layer.index + 1}`;
  const base = own === undefined ? stem : `${stem}__${own}`;
  let name = taken.has(base) ? `${base}_${file.format.replace(/^gdal:/, "").toLowerCase()}` : base;
  for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
  taken.add(name);
  return name;
}

/** A layer converted and validated, waiting to be published. */
interface Converted {
  file: ManifestFile & { type: "vector" };
  layer: string;
  name: string;
  parquetPath: string;
  result: GeoParquetResult;
  sources: StagedSource[];
  crs: CrsDecision;
}

/** Geodesic measures of each row of `table` in a GeoPackage in EPSG:4326, by rowid. */
function measuresOf(gpkg: string, table: string): Map<number, GeodesicMeasures> {
  const db = openSqlite(gpkg, { mode: "read" });
  try {
    const measures = new Map<number, GeodesicMeasures>();
    for (
      const row of db.prepare(`SELECT rowid AS id, ${SCRATCH_GEOM} AS g FROM "${table}"`).iterate()
    ) {
      if (row.g instanceof Uint8Array) {
        measures.set(Number(row.id), geodesicMeasures(gpkgToWkb(row.g)));
      }
    }
    return measures;
  } finally {
    db.close();
  }
}

async function convertLayer(
  scratch: GdalScratch,
  options: BatchRun,
  batch: LoadedBatch,
  file: ManifestFile & { type: "vector" },
  gdalPath: string,
  layer: {
    name: string;
    crs: CrsDecision;
    geometryType: string;
    openOptions: string[];
    /** The only drivers that may open the file (see _kml.ts), when restricted. */
    drivers?: readonly string[] | undefined;
    sourceCrs?: string | undefined;
    /** GDAL's driver of the file and the layer's feature count (-1: unknown). */
    driver: string;
    featureCount: number;
    /** Attribute fields (OGR type names). */
    fields: readonly { name: string; type: string }[];
    /** The geometry column's name (a GeoPackage's, for the check of its geometries). */
    geometryColumn: string;
    /**
     * Whether the census found features without a geometry (GeoJSON `null`
     * or `[]`, an empty CSV cell, a Shapefile's Null shape, a GeoPackage's
     * NULL or EMPTY geometry): GDAL's
     * FlatGeobuf writer leaves them out, so the layer takes the GeoPackage
     * route at once instead of being converted twice.
     */
    withoutGeometry?: boolean;
    /** GDAL's warnings while it converted the layer (see {@linkcode lossyWarnings}). */
    warnings: string[];
    /**
     * GDAL's errors while a conversion still succeeded: a GML cut off in
     * transfer is read by gdal3.js as no features, its XML error said only here.
     */
    errors: string[];
  },
  name: string,
  timings: Timings,
  /** Turn arcs with Z into segments after the conversion (see {@linkcode linearizeCurvesZ}). */
  linearize = false,
) {
  const target = await scratch.gdal.crsInfo(options.targetCrs);
  const sameCrs = layer.crs.crs === options.targetCrs;
  const convert = (
    makeValid: boolean,
    suffix: string,
    followed: "gpkg" | string[] | false = false,
    sql?: string,
  ) =>
    scratch.gdal.ogr2ogr(
      gdalPath,
      [
        ...(Array.isArray(followed) ? STREAMED_FGB_OPTIONS : SCRATCH_GPKG_OPTIONS),
        "-nln",
        "input",
        // Fresh feature ids: a source id that repeats (a GeoJSON integer `id`
        // that is a class code, not a key) must not become the GeoPackage's
        // primary key; the attribute stays.
        "-unsetFid",
        // GeoParquet has no curves (its geometry types are the linear ones of
        // Simple Features): arcs of a GeoPackage, GML or DXF (CircularString,
        // CompoundCurve, CurvePolygon, MultiSurface...) are approximated by
        // line segments, as GDAL does when a format cannot hold them.
        "-nlt",
        "CONVERT_TO_LINEAR",
        // The FlatGeobuf's layer type (see streamedTypeOptions).
        ...(Array.isArray(followed) ? followed : []),
        ...dropMeasures(layer.geometryType),
        // Reprojecting onto the same CRS would still transform every vertex.
        ...(sameCrs ? [] : ["-t_srs", options.targetCrs]),
        // The CRS rule: a file without CRS gets the declared one (assigned
        // outright when no reprojection follows, ogr2ogr's -s_srs needs -t_srs);
        // a file GDAL reads in another CRS than its own is told its own.
        // The user's own -a_srs (`assign_crs`) overrides whatever the file says.
        ...(file.assign_crs === true
          ? [sameCrs ? "-a_srs" : "-s_srs", file.crs]
          : layer.sourceCrs !== undefined
          ? [sameCrs ? "-a_srs" : "-s_srs", layer.sourceCrs]
          : layer.crs.source === "declared"
          ? [sameCrs ? "-a_srs" : "-s_srs", file.crs]
          : []),
        ...(makeValid ? ["-makevalid"] : []),
        // Followed by the writer: commits every page of rows, in WAL mode so
        // that the reader sees each commit while GDAL goes on.
        ...(followed === "gpkg" ? ["-gt", String(FOLLOW_BATCH)] : []),
        // A part of the layer (see _chunks.ts) instead of the layer.
        ...(sql === undefined ? [] : ["-sql", sql]),
      ],
      `${name}_${suffix}`,
      {
        label: file.path,
        warnings: layer.warnings,
        errors: layer.errors,
        ...(sql === undefined ? { layers: [layer.name] } : {}),
        openOptions: layer.openOptions,
        ...(layer.drivers ? { drivers: layer.drivers } : {}),
        ...(followed === "gpkg" ? { config: { OGR_SQLITE_JOURNAL: "WAL" } } : {}),
      },
    );
  // Points are valid by construction; making them valid only costs time.
  const makeValid = !isPointType(layer.geometryType);
  const intent = batch.manifest.intent;
  const parquetPath = scratch.hostPath(`${name}.parquet`);
  const validBox = areaOfUse(target.projjson, layer.crs.declared.projjson);
  // apache-arrow and parquet-wasm load only when a batch has vectors to write.
  const { sqliteToGeoParquet } = await import("../../formats/geoparquet.ts");
  const write = (
    path: string,
    table: string,
    geometryColumn: string,
    compute: ComputedColumn[],
    follow?: Promise<unknown>,
  ) =>
    timings.time("write", () =>
      sqliteToGeoParquet(path, table, parquetPath, {
        label: file.path,
        crs: target.projjson,
        geometryColumn,
        compute,
        sort: file.sort ?? "none",
        ...(validBox ? { validBox } : {}),
        ...(follow ? { follow } : {}),
      }));
  /**
   * Points (2D, or Z in a layer declared 3D) wanted as they are (in the
   * target CRS, no repair: points are valid by construction), read through
   * GDAL's Arrow stream instead of
   * ogr2ogr to FlatGeobuf: the same file (formats/gdal_arrow_pages.ts), for
   * less CPU (1M points of a GeoPackage: GDAL 0.15-0.21 CPU s instead of
   * 0.84-0.92, and no FlatGeobuf to decode). `undefined` when the layer does
   * not qualify, or holds a column or a geometry the route does not carry
   * (then converted as before: the FlatGeobuf route names GDAL's failures).
   */
  const pointsThroughArrow = async (): Promise<GeoParquetResult | undefined> => {
    const dump = scratch.gdal.arrowDump;
    if (
      dump === undefined || !ARROW_POINT_TYPES.has(layer.geometryType.replaceAll(" ", "")) ||
      !sameCrs || layer.withoutGeometry || layer.featureCount < 0
    ) return undefined;
    const { arrowDumpToGeoParquet, NotPlainPoints } = await import(
      "../../formats/gdal_arrow_pages.ts"
    );
    let dumped;
    try {
      dumped = await timings.time(
        "convert",
        () =>
          dump.call(scratch.gdal, gdalPath, layer.name, `${name}_arrow`, {
            label: file.path,
            // Values GDAL read as others ("parsed incompletely"): refused as after ogr2ogr.
            warnings: layer.warnings,
            errors: layer.errors,
            openOptions: layer.openOptions,
            ...(layer.drivers ? { drivers: layer.drivers } : {}),
          }),
      );
    } catch (error) {
      if (error instanceof GdalError) return undefined;
      throw error;
    }
    if (!("rows" in dumped)) return undefined;
    const dumpPath = scratch.toHost(dumped.path);
    try {
      if (dumped.rows !== layer.featureCount) return undefined;
      const result = await timings.time(
        "write",
        () =>
          arrowDumpToGeoParquet(dumpPath, parquetPath, {
            label: file.path,
            crs: target.projjson,
            compute: intent === "measure" ? measuresInPlace() : [],
            ...(validBox ? { validBox } : {}),
            pointsOnly: true,
            withZ: hasZ(layer.geometryType),
          }),
      ).catch((error: unknown) => {
        if (error instanceof NotPlainPoints) return undefined;
        throw error;
      });
      return result?.rows === layer.featureCount ? result : undefined;
    } finally {
      await Deno.remove(dumpPath).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
  };
  // The native engine converts in its own process: the GeoParquet writer then
  // follows GDAL's output while GDAL writes it, so conversion and writing
  // overlap on two cores. Not when the rows need the whole layer first (an
  // intent's SQL, measures in another CRS, a Hilbert sort), nor on gdal3.js,
  // which converts on this thread. A layer FlatGeobuf holds as the
  // GeoPackage does is written as a FlatGeobuf (the cheapest output GDAL
  // has: exactly bench/spatial.ts's baseline; a GeoPackage cost 1.29x its
  // time on a 1 GB Shapefile, 1.8x on 1M points), any other as a GeoPackage
  // (see streamedTypeOptions).
  const overlap = !linearize && options.gdal.kind === "native" && isIdentityRecipe(intent) &&
    (intent !== "measure" || options.targetCrs === "EPSG:4326") &&
    (file.sort ?? "none") === "none";
  if (overlap) {
    const viaArrow = await pointsThroughArrow();
    if (viaArrow !== undefined) return { parquetPath, result: viaArrow };
    const typeOptions = layer.withoutGeometry
      ? undefined
      : await streamedTypeOptions(scratch, file, gdalPath, layer, makeValid);
    const compute = intent === "measure" ? measuresInPlace() : [];
    if (typeOptions !== undefined) {
      const { flatgeobufToGeoParquet } = await import("../../formats/flatgeobuf_pages.ts");
      const conversion = timings.time("convert", () => convert(makeValid, "stream", typeOptions));
      const writing = timings.time(
        "write",
        () =>
          flatgeobufToGeoParquet(
            scratch.toHost(scratch.gdalPath(`${name}_stream.fgb`)),
            parquetPath,
            {
              label: file.path,
              crs: target.projjson,
              compute,
              ...(validBox ? { validBox } : {}),
              follow: conversion,
            },
          ),
      );
      const fgb = scratch.toHost(scratch.gdalPath(`${name}_stream.fgb`));
      try {
        const result = await settledPair(conversion, writing);
        // GDAL's FlatGeobuf writer leaves out features without a geometry
        // (null or empty), which the GeoPackage keeps: converted again there.
        if (result.rows === layer.featureCount) return { parquetPath, result };
      } catch (error) {
        // A feature whose type or dimension is not the layer's (a 3D point in
        // a 2D layer, a MultiPoint among Points): the GeoPackage keeps it as
        // it is, FlatGeobuf cannot; converted again there.
        if (!(error instanceof GdalError) || !MISMATCHED_TYPE.test(error.gdalMessage)) throw error;
      } finally {
        await Deno.remove(fgb).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
      }
    }
    const converted = scratch.toHost(scratch.gdalPath(`${name}_input.gpkg`));
    const conversion = timings.time("convert", () => convert(makeValid, "input", "gpkg"));
    const writing = write(converted, "input", SCRATCH_GEOM, compute, conversion);
    return { parquetPath, result: await settledPair(conversion, writing) };
  }
  // gdal3.js streams a Shapefile into a FlatGeobuf too, without -makevalid:
  // the rows it could change are made valid apart and written in their place
  // (see _stream_valid.ts). With reprojection, whether GDAL makes valid
  // before or after transforming would matter: the GeoPackage route below.
  if (
    !linearize && options.gdal.kind === "wasm" && isIdentityRecipe(intent) &&
    (intent !== "measure" || options.targetCrs === "EPSG:4326") &&
    (file.sort ?? "none") === "none" && streamsAsFlatGeobuf(layer) && (!makeValid || sameCrs) &&
    !layer.withoutGeometry
  ) {
    const { flatgeobufToGeoParquet } = await import("../../formats/flatgeobuf_pages.ts");
    const { NotRepairable, repairsWhileStreaming } = await import("./_stream_valid.ts");
    const compute = intent === "measure" ? measuresInPlace() : [];
    const fgb = scratch.toHost(scratch.gdalPath(`${name}_stream.fgb`));
    const conversion = timings.time(
      "convert",
      () => convert(false, "stream", anyTypeOptions(layer.geometryType)),
    );
    // The rows -makevalid could change are picked and made valid while GDAL
    // writes; the writer follows GDAL a window of rows behind.
    const repairs = makeValid
      ? repairsWhileStreaming(scratch, fgb, conversion, `${name}_mv`, {
        hasZ: hasZ(layer.geometryType),
        open: { label: file.path },
      })
      : undefined;
    const writing = timings.time(
      "write",
      () =>
        flatgeobufToGeoParquet(fgb, parquetPath, {
          label: file.path,
          crs: target.projjson,
          compute,
          ...(validBox ? { validBox } : {}),
          follow: conversion,
          ...(repairs ? { replace: repairs.upTo } : {}),
        }),
    );
    // GDAL's failure first, then the repairs' (the writer's follows from them).
    const streamed = await settledPair(
      conversion,
      settledPair(repairs?.done ?? Promise.resolve(), writing),
    ).catch((error: unknown) => {
      if (error instanceof NotRepairable) return undefined;
      throw error;
    });
    await Deno.remove(fgb);
    // Rows without a geometry, which GDAL's FlatGeobuf writer leaves out, or
    // one MakeValid cannot take apart: converted again through the GeoPackage.
    if (streamed?.rows === layer.featureCount) return { parquetPath, result: streamed };
  }
  let reprojected!: string;
  // On gdal3.js, a large Shapefile layer is converted in parts, one per
  // instance at a time (see _chunks.ts).
  const parts = options.gdal.kind === "wasm" && layer.driver === "ESRI Shapefile"
    ? await shapefileParts(
      scratch.toHost(gdalPath),
      layer.name,
      layer.featureCount,
      options.gdal.parallelism ?? 1,
    )
    : undefined;
  await timings.time("convert", async () => {
    if (parts !== undefined) {
      const settled = await Promise.allSettled(parts.map(async (sql, i) => {
        let part = await convert(makeValid && !sameCrs, `input_p${i}`, false, sql);
        if (makeValid && sameCrs) {
          const made = await makeValidInPlace(
            scratch,
            part,
            "input",
            SCRATCH_GEOM,
            `${name}_mv${i}`,
            {
              label: file.path,
            },
          );
          if (made === undefined) {
            await Deno.remove(scratch.toHost(part));
            part = await convert(true, `valid_p${i}`, false, sql);
          }
        }
        return part;
      }));
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      const written = settled.map((r) => (r as PromiseFulfilledResult<string>).value);
      appendParts(
        scratch.toHost(written[0]!),
        "input",
        written.slice(1).map((p) => scratch.toHost(p)),
      );
      for (const part of written.slice(1)) await Deno.remove(scratch.toHost(part));
      reprojected = written[0]!;
    } else if (makeValid && sameCrs && options.gdal.kind === "wasm") {
      // Without reprojection the converted geometries are the source's, so
      // only those MakeValid could change need it, made valid alone and
      // written back (see _make_valid.ts). With reprojection, whether GDAL
      // makes valid before or after transforming would matter: keep it.
      // Only for gdal3.js, whose MakeValid costs twice a conversion: native
      // GEOS makes valid faster than the extra scan would take
      // (bench/spatial.ts, 30k polygons).
      reprojected = await convert(false, "input");
      const made = await makeValidInPlace(
        scratch,
        reprojected,
        "input",
        SCRATCH_GEOM,
        `${name}_mv`,
        {
          label: file.path,
        },
      );
      if (made === undefined) {
        await Deno.remove(scratch.toHost(reprojected));
        reprojected = await convert(true, "valid");
      }
    } else {
      reprojected = await convert(makeValid, "input");
    }
  });
  if (options.gdal.kind === "wasm" && layer.driver === "ESRI Shapefile") {
    // gdal3.js reads a blank .dbf date as 0000-00-00, native GDAL as null (see _blank_dates.ts).
    const dates = layer.fields.filter((f) => f.type === "Date").map((f) => f.name);
    blankDatesToNull(scratch.toHost(reprojected), "input", dates);
  }
  const srid = Number(options.targetCrs.split(":")[1]);
  if (linearize) {
    reprojected = await timings.time(
      "convert",
      () => linearizeCurvesZ(scratch, reprojected, name, options.targetCrs, makeValid, file.path),
    );
  }
  const outDir = scratch.hostPath(`${name}_out`);
  await Deno.mkdir(outDir);
  const dumped = isIdentityRecipe(intent)
    ? { path: scratch.toHost(reprojected), table: "input", geometryColumn: SCRATCH_GEOM }
    : await timings.time(
      "intent",
      () =>
        withWorkspace(options.engine, `${options.runId}_${name}`, async (ws) => {
          await ws.load("input", {
            path: scratch.toHost(reprojected),
            table: "input",
            geometryColumn: SCRATCH_GEOM,
          }, srid);
          await ws.run(recipeSql(intent, await ws.columns("input")), "result");
          return await ws.dump("result", outDir);
        }),
    );
  const compute: ComputedColumn[] = [];
  if (intent === "measure") {
    if (options.targetCrs === "EPSG:4326") compute.push(...measuresInPlace());
    else {
      // Geodesic measures need longitude/latitude on WGS84: a copy of the
      // output reprojected there, matched by feature id.
      const lonLat = measuresOf(
        scratch.toHost(
          await scratch.gdal.ogr2ogr(
            dumped.path === scratch.toHost(reprojected) ? reprojected : dumped.path,
            [
              "-f",
              "GPKG",
              "-lco",
              `GEOMETRY_NAME=${SCRATCH_GEOM}`,
              "-lco",
              `FID=${SCRATCH_FID}`,
              "-nln",
              "input",
              "-t_srs",
              "EPSG:4326",
              "-preserve_fid",
            ],
            `${name}_wgs84`,
            { label: file.path },
          ),
        ),
        "input",
      );
      compute.push(
        { name: "area_m2", fn: (_wkb, rowid) => lonLat.get(rowid)?.areaM2 ?? null },
        { name: "length_m", fn: (_wkb, rowid) => lonLat.get(rowid)?.lengthM ?? null },
      );
    }
  }
  const result = await write(dumped.path, dumped.table, dumped.geometryColumn, compute);
  return { parquetPath, result };
}

/**
 * The scratch GeoPackage `converted` (table `input`, geometry `geom`) with
 * its arcs turned into line segments, Z kept: GDAL 3.6's and gdal3.js's
 * `-nlt CONVERT_TO_LINEAR` leaves CircularString Z, CompoundCurve Z,
 * CurvePolygon Z, MultiCurve Z and MultiSurface Z as they are (forceTo()
 * fails on 2.5D curve type codes). GDAL's SQLite dialect, forced through
 * its virtual tables (`INDIRECT_SQLITE`), hands every geometry a SpatiaLite
 * function reads to SpatiaLite as a SpatiaLite blob, which has no curves:
 * GDAL linearizes each arc on the way with the same step as
 * CONVERT_TO_LINEAR (`OGR_ARC_STEPSIZE`, 4° by default), interpolating Z
 * along it, and keeps the dimension of every other geometry (a 2D point
 * stays 2D). `SetSRID` is that function, changing nothing else; the
 * attributes are listed by name so that the columns keep their order and
 * OGR types. Made valid again when the layer is (a densified ring may
 * touch itself). Returns the GDAL path of the new scratch GeoPackage.
 */
async function linearizeCurvesZ(
  scratch: GdalScratch,
  converted: string,
  name: string,
  targetCrs: string,
  makeValid: boolean,
  label: string,
): Promise<string> {
  const db = openSqlite(scratch.toHost(converted), { mode: "read" });
  let columns: string[];
  try {
    columns = db.prepare(`SELECT name FROM pragma_table_info('input')`).all()
      .map((row) => String(row.name))
      .filter((column) => column !== SCRATCH_GEOM && column !== SCRATCH_FID);
  } finally {
    db.close();
  }
  const quoted = (column: string) => `"${column.replaceAll('"', '""')}"`;
  const srid = Number(targetCrs.split(":")[1]) || 0;
  const linear = await scratch.gdal.ogr2ogr(
    converted,
    [
      ...SCRATCH_GPKG_OPTIONS,
      "-nln",
      "input",
      "-nlt",
      "CONVERT_TO_LINEAR",
      "-a_srs",
      targetCrs,
      "-dialect",
      "INDIRECT_SQLITE",
      "-sql",
      `SELECT SetSRID(${SCRATCH_GEOM}, ${srid}) AS ${SCRATCH_GEOM}${
        columns.map((c) => `, ${quoted(c)}`).join("")
      } FROM input`,
      ...(makeValid ? ["-makevalid"] : []),
    ],
    `${name}_linear`,
    { label },
  );
  await Deno.remove(scratch.toHost(converted));
  return linear;
}

/** Whether a geometry type GeoParquet refused is a curve type with Z (see {@linkcode linearizeCurvesZ}). */
function isCurveZ(error: unknown): boolean {
  return error instanceof GeoParquetError && error.code === "spatial.geoparquet_geometry_type" &&
    /^(CircularString|CompoundCurve|CurvePolygon|MultiCurve|MultiSurface) ZM?$/.test(
      String(error.input),
    );
}

/**
 * The refusal of a GeoJSON holding integers beyond 64 bits: GDAL 3.6 (both
 * engines) reads them clamped to INT64_MAX / INT64_MIN, with only a warning
 * (ogr2ogr's own conversion is that wrong number), so publishing would
 * silently change the values; nothing here can read them exactly, so the
 * user is told which members and how to write them.
 */
function longIntegersProblem(file: string, found: readonly LongInteger[]): ManifestProblem {
  const named = found.map((l) => `property '${l.name}': ${l.value}`).join("; ");
  const first = found[0]!;
  return {
    code: "content_mismatch",
    message: `'${file}' has integers beyond 64 bits (${named}), which GDAL reads clamped to ` +
      '9223372036854775807 or -9223372036854775808; write them as strings ("' + first.name +
      `": "${first.value}") to keep every digit, or as decimals (${
        Number(first.value).toExponential()
      }) if an approximation will do, and upload the file again`,
    file,
  };
}

/**
 * What a layer holds that GeoParquet cannot, from the error converting it
 * gave, or `undefined` for another error:
 *
 * - curves GDAL could not turn into segments, not even through
 *   {@linkcode linearizeCurvesZ} (which handles those with Z that
 *   `-nlt CONVERT_TO_LINEAR` leaves), so the writer meets them (before:
 *   parquet-wasm's untyped "Dyn casting error", retried as a platform fault);
 * - 3D surfaces (PolyhedralSurface, TIN: multipatches, city models), which
 *   GDAL can only check for validity with SFCGAL, which neither build has.
 */
function geometryKindProblem(error: unknown): string | undefined {
  if (error instanceof GeoParquetError && error.code === "spatial.geoparquet_geometry_type") {
    return `holds ${error.input} geometries, which GeoParquet cannot hold and which GDAL ` +
      `could not turn into line segments (${
        error.message.replace(/^Cannot write GeoParquet: /, "")
      }` +
      "); export the layer with its curves densified (ArcGIS: Densify; QGIS: Segmentize by " +
      "maximum angle), or without Z (ogr2ogr -dim XY -nlt CONVERT_TO_LINEAR), and upload it again";
  }
  if (error instanceof GdalError && /SFCGAL support not enabled/.test(error.gdalMessage)) {
    return "holds 3D surfaces (PolyhedralSurface or TIN geometries: multipatches, city models), " +
      "which GeoParquet cannot hold; export them as MultiPolygon Z (e.g. ogr2ogr -nlt " +
      "MULTIPOLYGON25D, or ArcGIS's Multipatch To Feature Class) and upload that";
  }
  // gdal3.js's GDAL (3.8) cannot even record the extent of a layer with an infinite
  // coordinate in its scratch GeoPackage (`max_x = Inf`): the same file the native
  // engine's geometry check refuses for it.
  if (
    error instanceof GdalError &&
    /gpkg_contents SET min_x = .*\b(-?Inf|nan)\b/i.test(error.gdalMessage)
  ) {
    return "has geometries with NaN or infinite coordinates";
  }
  return undefined;
}

/**
 * What says the code page of a Shapefile the OGR VRT at `host` reads
 * (`its Shapefile 'dos.shp' (its .dbf's language driver id 0x01)`), the
 * first that has one: GDAL recodes it as it would the Shapefile alone.
 */
async function vrtSourceCodePage(host: string): Promise<string | undefined> {
  const read = vrtSources(await Deno.readTextFile(host));
  for (const source of "sources" in read ? read.sources : []) {
    if (!/\.shp$/i.test(source)) continue;
    const said = await saidCodePage(path.join(path.dirname(host), source));
    if (said !== undefined) return `its Shapefile '${source}' (${said})`;
  }
  return undefined;
}

/** `the ENCODING open option 'X'` when the file is opened with one (the user's), else undefined. */
function encodingOption(options: readonly string[] | undefined): string | undefined {
  const value = options?.find((o) => /^ENCODING=/i.test(o))?.slice("ENCODING=".length);
  return value ? `the ENCODING open option '${value}'` : undefined;
}

/**
 * The converted layer, or, when GEOS refused a polygon ring while making it
 * valid, the `invalid_geometry` problem naming the file, the layer and the
 * features to fix (see _bad_rings.ts) instead of a failed conversion; so
 * for geometries GeoParquet cannot hold (see {@linkcode geometryKindProblem}).
 */
async function ringChecked<T>(
  converting: Promise<T>,
  scratch: GdalScratch,
  file: ManifestFile,
  gdalPath: string,
  layer: string,
  open: OpenOptions,
  name: string,
  engine: GdalEngineKind,
  /** The layer's attribute count, named when SQLite's column limit is what failed. */
  attributes = 0,
): Promise<T | ManifestProblem> {
  try {
    return await converting;
  } catch (error) {
    if (error instanceof GdalError && /\btoo many columns\b/.test(error.gdalMessage)) {
      // GDAL's message quotes the whole CREATE TABLE (40 KB for 2,000 columns).
      return {
        code: "content_mismatch",
        message: `'${file.path}' (layer '${layer}') has ${attributes || "too many"} ` +
          "attributes, more than the GeoPackage step of its conversion holds (SQLite's limit " +
          "of 2,000 columns per table); publish at most 1,990 columns per file (split the " +
          "table, or keep the columns you need: ogr2ogr -select) and upload it again",
        file: file.path,
      };
    }
    const kind = geometryKindProblem(error);
    if (kind !== undefined) {
      return {
        code: "invalid_geometry",
        message: `'${file.path}' (layer '${layer}') ${kind}`,
        file: file.path,
      };
    }
    if (error instanceof GeoParquetError && error.code === "spatial.geoparquet_not_utf8") {
      // A code page the file (or the manifest) names, which this GDAL build cannot
      // recode: gdal3.js's has no CP437, CP850... (a DOS-era .dbf), native GDAL's has.
      const said = encodingOption(open.openOptions) ??
        (/\.(shp|zip)$/i.test(gdalPath) || /\.zip\//i.test(gdalPath)
          ? await saidCodePage(scratch.toHost(gdalPath))
          : /\.vrt$/i.test(gdalPath)
          ? await vrtSourceCodePage(scratch.toHost(gdalPath))
          : undefined);
      if (said !== undefined) {
        const remedy = engine === "wasm"
          ? "the embedded GDAL (gdal3.js) cannot recode that code page. The file may well be " +
            "valid: install GDAL >= 3.6 (Debian: apt-get install gdal-bin) and run with " +
            "GDAL_ENGINE=native (or unset, to pick it automatically), or re-encode its text to " +
            "UTF-8 (ogr2ogr -lco ENCODING=UTF-8) and upload it again"
          : "this GDAL cannot recode that code page; re-encode its text to UTF-8 (ogr2ogr -lco " +
            "ENCODING=UTF-8 from a GDAL that can) and upload it again";
        return {
          code: engine === "wasm" ? "codec_missing" : "content_mismatch",
          message: `Cannot read '${file.path}' (layer '${layer}'): its text is in the code page ` +
            `${said} names, but ${remedy}`,
          file: file.path,
        };
      }
      // Text of a code page nothing in the file names (see formats/geoparquet.ts notUtf8).
      return {
        code: "content_mismatch",
        message: `'${file.path}' (layer '${layer}') ${
          error.message.replace(/^Cannot write GeoParquet( of '[^']*')?: it /, "")
        }`,
        file: file.path,
      };
    }
    if (!(error instanceof GdalError) || !BAD_RING_MESSAGE.test(error.gdalMessage)) throw error;
    const { named, count } = await badRings(scratch, gdalPath, layer, open, name);
    const which = count === 0
      ? `a polygon ring GEOS refuses (${error.gdalMessage})`
      : `${count} feature${count === 1 ? "" : "s"} with a polygon ring that is not a closed ` +
        `ring of 4 or more positions: ${named.join(", ")}${count > named.length ? ", ..." : ""}`;
    return {
      code: "invalid_geometry",
      message: `'${file.path}' (layer '${layer}') has ${which}; close each ring (its last ` +
        "position repeating its first) and upload the file again",
      file: file.path,
    };
  }
}

/**
 * ogr2ogr's `-dim` that drops the M values of a measured layer (a
 * Shapefile's PolyLineM, PointZM...), keeping Z: GeoParquet has no M, and
 * GEOS's MakeValid drops it anyway, so without this the lines (made valid)
 * would lose it and the points (left alone) keep it. Layer type names as
 * the engines give them: `MeasuredLineString`, `3DMeasuredPoint` (native),
 * `LineStringM`, `PointZM` (gdal3.js).
 */
export function dropMeasures(geometryType: string): string[] {
  if (!/measured|[a-z]Z?M$/i.test(geometryType.replaceAll(" ", ""))) return [];
  return ["-dim", hasZ(geometryType) ? "XYZ" : "XY"];
}

/** The writer's result once both GDAL's conversion and the writer settled. */
async function settledPair<T>(conversion: Promise<unknown>, writing: Promise<T>): Promise<T> {
  const [c, w] = await Promise.allSettled([conversion, writing]);
  // GDAL's own failure explains a writer that found nothing better than the writer's.
  if (c.status === "rejected") throw c.reason;
  if (w.status === "rejected") throw w.reason;
  return w.value;
}

/** ogr2ogr's output options of a FlatGeobuf written feature by feature (no index to sort). */
const STREAMED_FGB_OPTIONS = ["-f", "FlatGeobuf", "-lco", "SPATIAL_INDEX=NO"];

/** GDAL's FlatGeobuf writer refusing a feature whose type is not its layer's. */
const MISMATCHED_TYPE = /Mismatched geometry type/i;

/** OGR field types whose values come out of a FlatGeobuf exactly as out of a GeoPackage. */
const FGB_EXACT_FIELDS = new Set([
  "Integer",
  "Integer64",
  "Real",
  "String",
  "Integer(Boolean)",
  "Integer(Int16)",
]);

/**
 * ogr2ogr's `-nlt` of a FlatGeobuf layer of any type, with Z when the
 * source layer has it: a polygon made valid into a multipolygon then fits.
 */
function anyTypeOptions(geometryType: string): string[] {
  return ["-nlt", hasZ(geometryType) ? "GEOMETRY25D" : "GEOMETRY"];
}

/**
 * Whether gdal3.js streams a layer into a FlatGeobuf (see the wasm route in
 * `convertLayer`): a Shapefile, whose layer has one geometry type and one
 * dimension for every feature, with a known feature count (to see rows
 * GDAL's FlatGeobuf writer left out), and only fields FlatGeobuf stores as
 * the GeoPackage does.
 */
function streamsAsFlatGeobuf(
  layer: {
    driver: string;
    featureCount: number;
    fields: readonly { name: string; type: string }[];
  },
): boolean {
  return layer.driver === "ESRI Shapefile" && layer.featureCount >= 0 && exactFields(layer.fields);
}

/** Whether FlatGeobuf stores every field as the GeoPackage does (see `FGB_EXACT_FIELDS`). */
function exactFields(fields: readonly { name: string; type: string }[]): boolean {
  return fields.every((f) => FGB_EXACT_FIELDS.has(f.type) && !/^(fid|geom)$/i.test(f.name));
}

/** The geometry types GeoParquet holds, as a GeoPackage's `ST_GeometryType` names them. */
const LINEAR_TYPES = [
  "POINT",
  "LINESTRING",
  "POLYGON",
  "MULTIPOINT",
  "MULTILINESTRING",
  "MULTIPOLYGON",
  "GEOMETRYCOLLECTION",
];

/**
 * Drivers whose layer's geometry type and dimension hold for every feature:
 * a Shapefile and a FlatGeobuf have one dimension per file; GDAL's GeoJSON
 * reader types a layer from all of its features, 3D when any has a Z, so a
 * 2D GeoJSON layer of one type is 2D throughout (a 3D one may mix 2D
 * features in, and a layer of mixed types, `Unknown`, says nothing of Z:
 * a Point Z among 2D lines is typed `Unknown`, not `3D Unknown`).
 */
const UNIFORM_DIMENSION: Readonly<Record<string, "any" | "2d">> = {
  "ESRI Shapefile": "any",
  FlatGeobuf: "any",
  GeoJSON: "2d",
};

/**
 * The `-nlt` options of a layer converted into a streamed FlatGeobuf rather
 * than a scratch GeoPackage (see formats/flatgeobuf_pages.ts), or
 * `undefined` for the GeoPackage. A FlatGeobuf has one dimension for all
 * its features, where a GeoPackage keeps each geometry's own, so the
 * route is taken only where the outputs are the same:
 *
 * - only fields FlatGeobuf stores as the GeoPackage does (dates are text of
 *   another form there, 32-bit floats lose digits), and a known feature
 *   count (to see rows GDAL's FlatGeobuf writer left out: null and empty
 *   geometries, then converted again through the GeoPackage);
 * - points (not made valid): the layer keeps its declared type, and GDAL's
 *   writer refuses a feature of another type or dimension (a 3D point in a
 *   2D layer), which sends the layer to the GeoPackage (see
 *   `MISMATCHED_TYPE`): exact whatever the format;
 * - other layers are made valid, which may turn a polygon into a
 *   multipolygon, so the layer takes any type (with Z kept when declared):
 *   only where every feature has the declared dimension
 *   ({@linkcode UNIFORM_DIMENSION}), or in a GeoPackage whose geometries
 *   GDAL counted as all of its dimension, linear, neither null nor empty.
 */
async function streamedTypeOptions(
  scratch: GdalScratch,
  file: ManifestFile,
  gdalPath: string,
  layer: {
    name: string;
    driver: string;
    geometryType: string;
    geometryColumn: string;
    featureCount: number;
    openOptions: readonly string[];
    drivers?: readonly string[] | undefined;
    fields: readonly { name: string; type: string }[];
  },
  makeValid: boolean,
): Promise<string[] | undefined> {
  if (layer.featureCount <= 0 || !exactFields(layer.fields)) return undefined;
  if (!makeValid) return [];
  const type = layer.geometryType.replaceAll(" ", "");
  const withZ = hasZ(type);
  const anyType = anyTypeOptions(type);
  const uniform = UNIFORM_DIMENSION[layer.driver];
  if (uniform === "any" || (uniform === "2d" && !withZ && !/measured|unknown/i.test(type))) {
    return anyType;
  }
  if (layer.driver !== "GPKG" || layer.geometryColumn === "") return undefined;
  const g = `"${layer.geometryColumn.replaceAll('"', '""')}"`;
  // A measured layer loses its M for every feature (see dropMeasures).
  const where = [
    `${g} IS NULL`,
    `ST_IsEmpty(${g})`,
    withZ ? `NOT ST_Is3D(${g})` : `ST_Is3D(${g})`,
    ...(/measured/i.test(type) ? [] : [`ST_IsMeasured(${g})`]),
    `ST_GeometryType(${g}) NOT IN (${LINEAR_TYPES.map((t) => `'${t}'`).join(", ")})`,
  ].join(" OR ");
  try {
    const counted = await scratch.gdal.vectorInfo(gdalPath, {
      label: file.path,
      openOptions: layer.openOptions,
      ...(layer.drivers ? { drivers: layer.drivers } : {}),
      where,
    });
    const found = counted.layers.find((l) => l.name === layer.name)?.featureCount;
    return found === 0 ? anyType : undefined;
  } catch (error) {
    // Another layer of the file has no such column: the GeoPackage route, which needs no count.
    if (error instanceof GdalError) return undefined;
    throw error;
  }
}

/** Rows of the converted layer GDAL commits at a time while the writer follows it. */
const FOLLOW_BATCH = 16_384;

/** Geodesic `area_m2` / `length_m` of each row's own WKB (longitude/latitude on WGS84). */
function measuresInPlace(): ComputedColumn[] {
  return [
    { name: "area_m2", fn: (wkb) => (wkb === null ? null : geodesicMeasures(wkb).areaM2) },
    { name: "length_m", fn: (wkb) => (wkb === null ? null : geodesicMeasures(wkb).lengthM) },
  ];
}

/**
 * The box every output coordinate must lie in: the target CRS's area of use
 * when it is geographic, narrowed to the source CRS's when that is
 * geographic too (with 0.01° for the datum shift between them).
 */
function areaOfUse(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
): [number, number, number, number] | undefined {
  const t = geographicAreaOfUse(target);
  if (t === undefined) return undefined;
  const s = geographicAreaOfUse(source);
  if (s === undefined) return t;
  const slack = 0.01;
  return [
    Math.max(t[0], s[0] - slack),
    Math.max(t[1], s[1] - slack),
    Math.min(t[2], s[2] + slack),
    Math.min(t[3], s[3] + slack),
  ];
}

/**
 * The warnings GDAL gives when it publishes a value other than the file's:
 * measured with GDAL 3.6 on both engines, a .dbf Real `2,25` (a decimal
 * comma) was read as 2 and an Integer `1e99` as 1, each with only "Value
 * '2,25' of field ov.val parsed incompletely to real 2." (at most the first
 * five, deduplicated).
 */
export function lossyWarnings(warnings: readonly string[]): string[] {
  const lossy = warnings.filter((w) => /\bparsed incompletely to\b/.test(w))
    .map((w) => w.trim().replace(/\.$/, ""));
  return [...new Set(lossy)].slice(0, 5);
}

/**
 * No CRS on Earth has coordinates this large (the Earth's circumference is
 * 4e7 m, 1.3e8 US feet). Measured with GDAL 3.6 (both engines: the same
 * PROJ loop), reprojecting one point from EPSG:3857 to EPSG:4326 took 0.35 s
 * at x = 1e15, 11 s at 1e17 and more than 30 s at 1e18: its time grows with x
 * (normalising the longitude), so a point at 1e300 (a slip of a digitising
 * tool) held a batch for hours.
 */
const MAX_COORDINATE = 1e10;

/**
 * The largest absolute coordinate of a layer's extent (`[minx, miny, maxx,
 * maxy]` as GDAL gives it) when it is beyond {@linkcode MAX_COORDINATE} or
 * not finite; `undefined` when the extent is sane or unknown.
 */
export function hugeCoordinate(extent: readonly number[] | undefined): number | undefined {
  if (extent === undefined || extent.length === 0) return undefined;
  const largest = Math.max(...extent.map((v) => Number.isNaN(v) ? Infinity : Math.abs(v)));
  return largest > MAX_COORDINATE ? largest : undefined;
}

/**
 * Why a converted layer must not be published (as sentences), given the
 * source layer's feature count: rows lost or added, non-finite coordinates,
 * coordinates outside the CRS's area of use, null or empty geometries.
 */
export function layerProblems(
  file: string,
  layer: string,
  sourceCount: number,
  result: GeoParquetResult,
  allowEmpty = false,
  census?: GeometryCensus,
  /** The file's declared format: what an unreadable geometry is written as differs. */
  format = "",
): string[] {
  const problems: string[] = [];
  const where = `'${file}' (layer '${layer}')`;
  const s = result.stats;
  const read = result.rows - s.nullGeometries;
  const shortfall = census === undefined ? 0 : Math.max(0, census.geometries - read);
  // Of the geometries GDAL read as NULL, those written `"coordinates": []`
  // (a Point or Polygon: GDAL reads the other types' [] as EMPTY, counted in
  // the stats) are EMPTY, like a LineString []; the rest GDAL could not read.
  const nulledEmpty = Math.min(
    shortfall,
    Math.max(0, (census?.emptyCoordinates ?? 0) - s.emptyGeometries),
  );
  if (shortfall > nulledEmpty) {
    problems.push(
      format === "geojson"
        // A Feature without its "geometry" member is read as one without a geometry.
        ? `${where} has ${shortfall - nulledEmpty} geometries GDAL could not read (coordinates ` +
          "that are not numbers, a geometry type GeoJSON does not have, or a Feature without " +
          'its "geometry" member); fix them, and write "geometry": null for a feature that ' +
          "really has none"
        : `${where} has ${shortfall - nulledEmpty} geometries GDAL could not read (unreadable ` +
          "WKT, EWKT's 'SRID=n;' prefix included: GDAL reads plain WKT and the CRS is " +
          "declared, or coordinates); fix them, or leave the geometry null where a feature " +
          "really has none",
    );
  }
  if (sourceCount >= 0 && result.rows !== sourceCount) {
    problems.push(`${where} has ${sourceCount} features but ${result.rows} were read`);
  }
  if (result.rows === 0) {
    problems.push(`${where} has no features: there is nothing to publish`);
  }
  const empty = s.emptyGeometries + nulledEmpty;
  if (empty > 0 && !allowEmpty) {
    problems.push(
      `${where} has ${empty} EMPTY geometries (coordinates [] of any geometry type, or NaN); ` +
        "fix them, or set allow_empty_geometries on the file if they are meant",
    );
  }
  if (s.nonFiniteGeometries > 0) {
    problems.push(
      `${where} has ${s.nonFiniteGeometries} geometries with NaN or infinite coordinates`,
    );
  }
  if (s.outsideGeometries > 0) {
    problems.push(
      `${where} has ${s.outsideGeometries} geometries outside the CRS's area of use ` +
        "(swapped or wrong coordinates, or a wrong declared CRS?); check the order of the " +
        "coordinates and the declared CRS, and shift longitudes written from 0 to 360 (as " +
        "climate and ocean data have them) to -180..180",
    );
  }
  return problems;
}

/**
 * Converts every vector file of a batch, validates each layer, and only when
 * all are valid publishes the GeoParquet files with their lineage; returns
 * what was written. A bad file throws a {@linkcode SpatialBatchError} with
 * the problems (the batch asset quarantines the batch) before anything is
 * published.
 */
export function processVectorBatch(options: BatchRun): Promise<VectorOutput[]> {
  return withStagedBatch(options, "vector", (staged) => convertVectors(options, staged));
}

async function convertVectors(
  options: BatchRun,
  { batch, files, scratch, staged, timings }: StagedBatch<"vector">,
): Promise<VectorOutput[]> {
  const { lake, landingBucket, batchId, runId } = options;
  const taken = new Set<string>();
  const converted: Converted[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    const {
      gdalPath,
      sources,
      vectorInfo,
      openOptions,
      sourceCrs,
      drivers,
      crs: fileCrs,
      openErrors,
    } = staged.get(file.path)!;
    const withGeometry = (vectorInfo?.layers ?? []).filter((l) =>
      l.geometryFields.length > 0 && (file.layer === undefined || l.name === file.layer)
    );
    // Of a multi-layer file read whole (a GPX has waypoints, routes, tracks...),
    // the empty layers are left out; a file with only empty layers is still an error.
    const filled = withGeometry.filter((l) => l.featureCount !== 0);
    const layers = withGeometry.length > 1 && filled.length > 0 ? filled : withGeometry;
    // Layers whose driver cannot count their features up front (OSM's points,
    // lines, multipolygons...) are known to be empty only once read: left out
    // the same way, unless no layer of the file has any feature.
    const uncountedEmpty: string[] = [];
    const before = converted.length;
    for (const layer of layers) {
      const name = uniqueName(
        file,
        taken,
        layers.length > 1 ? { name: layer.name, index: withGeometry.indexOf(layer) } : undefined,
      );
      // Each layer of a multi-layer file has its own CRS; the rule applies to each.
      const layerCrs = sourceCrs !== undefined
        ? fileCrs
        : await decideCrs(scratch, file, layer.geometryFields[0]?.coordinateSystem?.wkt);
      if ("code" in layerCrs) {
        problems.push(layerCrs);
        continue;
      }
      const census = file.format === "geoparquet" ? undefined : await timings.time(
        "inspect",
        () => geometryCensus(scratch, file, gdalPath, openOptions, layer),
      );
      const longIntegers = census?.longIntegers ?? [];
      if (longIntegers.length > 0) {
        problems.push(longIntegersProblem(file.path, longIntegers));
        continue;
      }
      // An attribute named `geom` is published as it is (see SCRATCH_GEOM),
      // but an intent's SQL runs in a workspace whose geometry column is
      // `geom`: there it would be lost or fail the run.
      const geomField = isIdentityRecipe(batch.manifest.intent)
        ? undefined
        : layer.fields.find((f) => f.name.toLowerCase() === "geom");
      if (geomField !== undefined) {
        problems.push({
          code: "content_mismatch",
          message: `'${file.path}' (layer '${layer.name}') has an attribute named ` +
            `'${geomField.name}', the name intent '${batch.manifest.intent}' keeps for the ` +
            "geometry column; rename that attribute (e.g. to geom_attr) and upload the file " +
            "again, or publish it without an intent",
          file: file.path,
        });
        continue;
      }
      // A JSON key "" (some APIs write one): GDAL's FlatGeobuf writer dropped
      // that column without a word, its GeoPackage writer kept it, so the two
      // engines published different tables, one of them a column no reader
      // (nor the STAC table extension) can name.
      if (layer.fields.some((f) => f.name.trim() === "")) {
        problems.push({
          code: "content_mismatch",
          message: `'${file.path}' (layer '${layer.name}') has an attribute without a name ` +
            '(a property "" in a GeoJSON), which no column of the published table can be ' +
            "called; give it a name (or remove it) and upload the file again",
          file: file.path,
        });
        continue;
      }
      const largest = hugeCoordinate(layer.geometryFields[0]?.extent);
      if (largest !== undefined && layerCrs.crs !== options.targetCrs) {
        problems.push({
          code: "invalid_geometry",
          message: `'${file.path}' (layer '${layer.name}') has coordinates as large as ` +
            `${largest} in ${layerCrs.crs}, beyond any place on Earth (a digitising slip, or ` +
            `the wrong unit?), on which GDAL's reprojection to ${options.targetCrs} would run ` +
            "for hours; fix or remove those features and upload the file again",
          file: file.path,
        });
        continue;
      }
      const layerArgs = {
        warnings: [] as string[],
        errors: [] as string[],
        name: layer.name,
        crs: layerCrs,
        geometryType: layer.geometryFields[0]?.type ?? "",
        openOptions,
        drivers,
        sourceCrs,
        driver: vectorInfo?.driverShortName ?? "",
        featureCount: layer.featureCount,
        fields: layer.fields,
        geometryColumn: layer.geometryFields[0]?.name ?? "",
        withoutGeometry: census !== undefined
          ? census.geometries - census.emptyCoordinates < layer.featureCount
          : vectorInfo?.driverShortName === "ESRI Shapefile"
          ? await shapefileHasNullShapes(scratch.toHost(gdalPath)) === true
          : vectorInfo?.driverShortName === "GPKG" &&
            gpkgHasRowsWithoutGeometry(
                scratch.toHost(gdalPath),
                layer.name,
                layer.geometryFields[0]?.name ?? "",
                layer.featureCount,
              ) === true,
      };
      const attempt = (as: string, linearize: boolean) =>
        convertLayer(scratch, options, batch, file, gdalPath, layerArgs, as, timings, linearize);
      const converting = attempt(name, false).catch(async (error) => {
        if (!isCurveZ(error)) throw error;
        // Arcs with Z met by the writer: converted again, linearized.
        await Deno.remove(scratch.hostPath(`${name}.parquet`)).catch((gone) => {
          if (!(gone instanceof Deno.errors.NotFound)) throw gone;
        });
        return await attempt(`${name}_l`, true);
      });
      const done = await ringChecked(
        converting,
        scratch,
        file,
        gdalPath,
        layer.name,
        {
          label: file.path,
          openOptions,
          ...(drivers ? { drivers } : {}),
        },
        name,
        options.gdal.kind,
        layer.fields.length,
      );
      if ("code" in done) {
        problems.push(done);
        continue;
      }
      const lossy = lossyWarnings(layerArgs.warnings);
      if (lossy.length > 0) {
        // GDAL's GeoJSON reader makes one `id` column of the features' "id"
        // members and an "id" property: a string id ("node/9", as OSM
        // exports write) where the property is a number is what it loses.
        const jsonIds = /^GeoJSON/.test(layerArgs.driver) &&
          lossy.every((w) => / of field [^ ]*\.id parsed /.test(w));
        problems.push({
          code: "content_mismatch",
          message: `'${file.path}' (layer '${layer.name}') holds values GDAL cannot read as ` +
            `their field's type, which it would publish changed (${lossy.join("; ")}); ` +
            (jsonIds
              ? 'GDAL reads the features\' "id" members and their "id" property as one ' +
                'column: rename the "id" property (e.g. to "ref") or make the ids alike, and ' +
                "upload the file again"
              : "write numbers with a decimal point and no thousands separators (or blank " +
                "for none), and upload the file again"),
          file: file.path,
        });
        continue;
      }
      const { parquetPath, result } = done;
      if (result.rows === 0 && layer.featureCount < 0 && layers.length > 1) {
        uncountedEmpty.push(layer.name);
        continue;
      }
      const allowEmpty = file.allow_empty_geometries ?? false;
      // Records flagged deleted in a Shapefile's .dbf are in its count, not in what GDAL reads.
      const sourceCount = result.rows < layer.featureCount &&
          vectorInfo?.driverShortName === "ESRI Shapefile"
        ? layer.featureCount - await deletedDbfRecords(scratch.toHost(gdalPath), layer.name)
        : layer.featureCount;
      for (
        const message of layerProblems(
          file.path,
          layer.name,
          sourceCount,
          result,
          allowEmpty,
          census,
          file.format,
        )
      ) {
        // Rows lost: what GDAL said while it opened and read them is the cause.
        const said = [...new Set([...(openErrors ?? []), ...layerArgs.errors])];
        problems.push({
          code: "invalid_geometry",
          message: / were read$/.test(message) && said.length > 0
            ? `${message} (GDAL reported: ${said.join(" | ")})`
            : message,
          file: file.path,
        });
      }
      converted.push({
        file,
        layer: layer.name,
        name,
        parquetPath,
        result,
        sources,
        crs: layerCrs,
      });
    }
    if (uncountedEmpty.length === layers.length && converted.length === before) {
      problems.push({
        code: "invalid_geometry",
        message: `'${file.path}' has no features in any of its layers (${
          uncountedEmpty.map((l) => `'${l}'`).join(", ")
        }): there is nothing to publish`,
        file: file.path,
      });
    }
  }
  if (problems.length > 0) {
    throw new SpatialBatchError(
      `spatial.${problems[0]!.code}`,
      `Cannot process batch '${batchId}': ${problems.map((p) => p.message).join("; ")}.`,
      { input: `${landingBucket}/${batch.manifestKey}`, problems },
    );
  }
  const processedAt = new Date((options.clock ?? systemClock).now()).toISOString();
  const outputs: VectorOutput[] = [];
  for (const c of converted) {
    const key = `${batch.manifest.metadata.project}/${batchId}/${c.name}.parquet`;
    const doc = await timings.time("publish", () =>
      publishOutput({
        lake,
        ledger: options.ledger,
        bucket: options.lakeBucket,
        key,
        file: c.parquetPath,
        written: { sha256: c.result.sha256, size: c.result.size },
        contentType: "application/vnd.apache.parquet",
        format: "geoparquet",
        runId,
        assetKey: options.assetKey ?? "spatial/vector_geoparquet",
        batchId,
        metadata: vectorMetadata(batch, c, options, processedAt),
      }));
    outputs.push({
      key,
      docId: doc.id,
      source: c.file.path,
      layer: c.layer,
      rows: c.result.rows,
      bbox: c.result.bbox,
      geometryTypes: c.result.geometryTypes,
    });
  }
  return outputs;
}

function vectorMetadata(
  batch: LoadedBatch,
  c: Converted,
  options: BatchRun,
  processedAt: string,
) {
  const { file, result, sources, layer } = c;
  const m = batch.manifest;
  return {
    uploader: m.uploader,
    intent: m.intent,
    project: m.metadata.project,
    source_files: sources,
    crs: options.targetCrs,
    bbox: result.bbox,
    feature_count: result.rows,
    geometry_types: result.geometryTypes,
    column_schema: [
      ...result.columns,
      { name: "geometry", type: "binary (WKB)" },
      { name: "bbox", type: "struct<xmin,ymin,xmax,ymax: double>" },
    ],
    engine: options.engine.kind,
    gdal_engine: `${options.gdal.kind} (GDAL ${options.gdal.version})`,
    source_crs: c.crs.crs,
    crs_source: c.crs.source,
    manifest_etag: batch.etag,
    iso19115: iso19115({
      title: `${m.metadata.title ?? m.metadata.project}: ${
        path.posix.basename(file.path)
      } (${layer})`,
      abstract: m.metadata.description,
      bbox: result.bbox,
      crs: options.targetCrs,
      sources: sources.map((s) => s.key),
      steps: [
        `read ${file.format} layer '${layer}' with GDAL ${options.gdal.version} ` +
        `(${options.gdal.kind}) in ${c.crs.crs} (${
          c.crs.source === "file" ? "the file's CRS, as declared" : "declared; the file has none"
        })`,
        `reprojected to ${options.targetCrs} (when not already in it); ` +
        "curves approximated by line segments; non-point geometries made valid (ogr2ogr " +
        "-nlt CONVERT_TO_LINEAR -makevalid)",
        m.intent === "measure"
          ? "geodesic area_m2 / length_m on the WGS84 ellipsoid (GeographicLib, Karney 2013)"
          : `intent '${m.intent}' SQL run on ${options.engine.kind}`,
        "written as GeoParquet 1.1 (WKB, bbox covering, Snappy)",
      ],
      format: "GeoParquet 1.1.0",
      uploader: m.uploader,
      processedAt,
    }),
  };
}

/** Builds `spatial/vector_geoparquet`: GeoParquet of every vector file of a batch, with lineage. */
export function vectorGeoparquetAsset(options: SpatialAssetOptions = {}) {
  return batchAsset({
    key: "spatial/vector_geoparquet",
    description: "Vector files of a batch as GeoParquet 1.1 in data-lake/<project>/<batch>/",
    checks: vectorChecks,
    process: processVectorBatch,
    describe: (o) => `wrote ${o.key} (${o.rows} features)`,
    summarize: (o) => ({ rows: o.rows, bbox: o.bbox, geometry_types: o.geometryTypes }),
    totals: (outputs) => ({ features: outputs.reduce((n, o) => n + o.rows, 0) }),
    // parquet-wasm compiles its WASM on this thread (~0.2 s, apache-arrow
    // with it) while a fresh GDAL host starts in its own process: overlapped,
    // a cold `deno task materialize` of one vector file takes that much less
    // (bench/spatial.ts). A raster-only batch loads them for nothing, within
    // the same wait.
    preload: () =>
      Promise.all([
        import("../../formats/geoparquet.ts"),
        import("../../formats/parquet_metadata.ts"),
      ]),
  }, options);
}

/** `spatial/vector_geoparquet` without upstream assets. */
export const vectorGeoparquet = vectorGeoparquetAsset();
