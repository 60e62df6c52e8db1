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
import { type GdalScratch, SCRATCH_GPKG_OPTIONS } from "../../resources/spatial/gdal.ts";
import type { ComputedColumn, GeoParquetResult } from "../../formats/geoparquet.ts";
import { type GeodesicMeasures, geodesicMeasures } from "../../formats/geodesic.ts";
import { gpkgToWkb } from "../../formats/wkb.ts";
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
import { vectorChecks } from "./checks.ts";
import { Timings } from "./_timings.ts";
import { type GeometryCensus, geometryCensus } from "./_census.ts";

/** One GeoParquet written by {@linkcode processVectorBatch}. */
export interface VectorOutput {
  key: string;
  docId: string;
  source: string;
  layer: string;
  rows: number;
  bbox: [number, number, number, number] | null;
  geometryTypes: string[];
}

/** Whether an OGR layer geometry type (`Point`, `Multi Point`, `3D Point`...) holds only points. */
export function isPointType(type: string): boolean {
  return /point/i.test(type) && !/polygon|line|curve|surface|collection|unknown/i.test(type);
}

function uniqueName(file: ManifestFile, taken: Set<string>, layer?: string): string {
  const stem = path.posix.basename(file.path).replace(/\.(shp\.zip|[^.]+)$/i, "")
    .toLowerCase().replace(/[^a-z0-9_-]+/g, "_");
  let name = layer === undefined
    ? stem
    : `${stem}__${layer.toLowerCase().replace(/[^a-z0-9_-]+/g, "_")}`;
  if (taken.has(name)) name = `${name}_${file.format}`;
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
    for (const row of db.prepare(`SELECT rowid AS id, geom FROM "${table}"`).iterate()) {
      if (row.geom instanceof Uint8Array) {
        measures.set(Number(row.id), geodesicMeasures(gpkgToWkb(row.geom)));
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
    sourceCrs?: string | undefined;
    /** GDAL's driver of the file and the layer's feature count (-1: unknown). */
    driver: string;
    featureCount: number;
  },
  name: string,
  timings: Timings,
) {
  const target = await scratch.gdal.crsInfo(options.targetCrs);
  const sameCrs = layer.crs.crs === options.targetCrs;
  const convert = (makeValid: boolean, suffix: string, followed = false, sql?: string) =>
    scratch.gdal.ogr2ogr(
      gdalPath,
      [
        ...SCRATCH_GPKG_OPTIONS,
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
        ...dropMeasures(layer.geometryType),
        // Reprojecting onto the same CRS would still transform every vertex.
        ...(sameCrs ? [] : ["-t_srs", options.targetCrs]),
        // The CRS rule: a file without CRS gets the declared one (assigned
        // outright when no reprojection follows, ogr2ogr's -s_srs needs -t_srs);
        // a file GDAL reads in another CRS than its own is told its own.
        ...(layer.sourceCrs !== undefined
          ? [sameCrs ? "-a_srs" : "-s_srs", layer.sourceCrs]
          : layer.crs.source === "declared"
          ? [sameCrs ? "-a_srs" : "-s_srs", file.crs]
          : []),
        ...(makeValid ? ["-makevalid"] : []),
        // Followed by the writer: commits every page of rows, in WAL mode so
        // that the reader sees each commit while GDAL goes on.
        ...(followed ? ["-gt", String(FOLLOW_BATCH)] : []),
        // A part of the layer (see _chunks.ts) instead of the layer.
        ...(sql === undefined ? [] : ["-sql", sql]),
      ],
      `${name}_${suffix}`,
      {
        label: file.path,
        ...(sql === undefined ? { layers: [layer.name] } : {}),
        openOptions: layer.openOptions,
        ...(followed ? { config: { OGR_SQLITE_JOURNAL: "WAL" } } : {}),
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
        crs: target.projjson,
        geometryColumn,
        compute,
        sort: file.sort ?? "none",
        ...(validBox ? { validBox } : {}),
        ...(follow ? { follow } : {}),
      }));
  // The native engine converts in its own process: the GeoParquet writer then
  // follows the GeoPackage while GDAL writes it, so conversion and writing
  // overlap on two cores. Not when the rows need the whole layer first (an
  // intent's SQL, measures in another CRS, a Hilbert sort), nor on gdal3.js,
  // which converts on this thread.
  const overlap = options.gdal.kind === "native" && isIdentityRecipe(intent) &&
    (intent !== "measure" || options.targetCrs === "EPSG:4326") &&
    (file.sort ?? "none") === "none";
  if (overlap) {
    const converted = scratch.toHost(scratch.gdalPath(`${name}_input.gpkg`));
    const conversion = timings.time("convert", () => convert(makeValid, "input", true));
    const writing = write(
      converted,
      "input",
      "geom",
      intent === "measure" ? measuresInPlace() : [],
      conversion,
    );
    const [c, w] = await Promise.allSettled([conversion, writing]);
    // GDAL's own failure explains a writer that found nothing better than the writer's.
    if (c.status === "rejected") throw c.reason;
    if (w.status === "rejected") throw w.reason;
    return { parquetPath, result: w.value };
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
          const made = await makeValidInPlace(scratch, part, "input", "geom", `${name}_mv${i}`, {
            label: file.path,
          });
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
      appendParts(scratch.toHost(written[0]!), "input", written.slice(1).map(scratch.toHost));
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
      const made = await makeValidInPlace(scratch, reprojected, "input", "geom", `${name}_mv`, {
        label: file.path,
      });
      if (made === undefined) {
        await Deno.remove(scratch.toHost(reprojected));
        reprojected = await convert(true, "valid");
      }
    } else {
      reprojected = await convert(makeValid, "input");
    }
  });
  const srid = Number(options.targetCrs.split(":")[1]);
  const outDir = scratch.hostPath(`${name}_out`);
  await Deno.mkdir(outDir);
  const dumped = isIdentityRecipe(intent)
    ? { path: scratch.toHost(reprojected), table: "input", geometryColumn: "geom" }
    : await timings.time(
      "intent",
      () =>
        withWorkspace(options.engine, `${options.runId}_${name}`, async (ws) => {
          await ws.load("input", {
            path: scratch.toHost(reprojected),
            table: "input",
            geometryColumn: "geom",
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
              "GEOMETRY_NAME=geom",
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
 * ogr2ogr's `-dim` that drops the M values of a measured layer (a
 * Shapefile's PolyLineM, PointZM...), keeping Z: GeoParquet has no M, and
 * GEOS's MakeValid drops it anyway, so without this the lines (made valid)
 * would lose it and the points (left alone) keep it. Layer type names as
 * the engines give them: `MeasuredLineString`, `3DMeasuredPoint` (native),
 * `LineStringM`, `PointZM` (gdal3.js).
 */
export function dropMeasures(geometryType: string): string[] {
  if (!/measured|[a-z]Z?M$/i.test(geometryType.replaceAll(" ", ""))) return [];
  return ["-dim", /^3D|ZM$/i.test(geometryType.replaceAll(" ", "")) ? "XYZ" : "XY"];
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
      `${where} has ${shortfall - nulledEmpty} geometries GDAL could not read (unreadable WKT ` +
        "or coordinates); fix them, or leave the geometry null where a feature really has none",
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
        "(swapped or wrong coordinates, or a wrong declared CRS?)",
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
    const { gdalPath, sources, vectorInfo, openOptions, sourceCrs, crs: fileCrs } = staged.get(
      file.path,
    )!;
    const withGeometry = (vectorInfo?.layers ?? []).filter((l) =>
      l.geometryFields.length > 0 && (file.layer === undefined || l.name === file.layer)
    );
    // Of a multi-layer file read whole (a GPX has waypoints, routes, tracks...),
    // the empty layers are left out; a file with only empty layers is still an error.
    const filled = withGeometry.filter((l) => l.featureCount !== 0);
    const layers = withGeometry.length > 1 && filled.length > 0 ? filled : withGeometry;
    for (const layer of layers) {
      const name = uniqueName(file, taken, layers.length > 1 ? layer.name : undefined);
      // Each layer of a multi-layer file has its own CRS; the rule applies to each.
      const layerCrs = sourceCrs !== undefined
        ? fileCrs
        : await decideCrs(scratch, file, layer.geometryFields[0]?.coordinateSystem?.wkt);
      if ("code" in layerCrs) {
        problems.push(layerCrs);
        continue;
      }
      const census = sourceCrs !== undefined ? undefined : await timings.time(
        "inspect",
        () => geometryCensus(scratch, file, gdalPath, openOptions, layer),
      );
      const { parquetPath, result } = await convertLayer(
        scratch,
        options,
        batch,
        file,
        gdalPath,
        {
          name: layer.name,
          crs: layerCrs,
          geometryType: layer.geometryFields[0]?.type ?? "",
          openOptions,
          sourceCrs,
          driver: vectorInfo?.driverShortName ?? "",
          featureCount: layer.featureCount,
        },
        name,
        timings,
      );
      const allowEmpty = file.allow_empty_geometries ?? false;
      for (
        const message of layerProblems(
          file.path,
          layer.name,
          layer.featureCount,
          result,
          allowEmpty,
          census,
        )
      ) {
        problems.push({ code: "invalid_geometry", message, file: file.path });
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
        "written as GeoParquet 1.1 (WKB, bbox covering, zstd)",
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
  }, options);
}

/** `spatial/vector_geoparquet` without upstream assets. */
export const vectorGeoparquet = vectorGeoparquetAsset();
