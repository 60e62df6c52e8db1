/**
 * `spatial/vector_geoparquet`: each vector file of a batch (Shapefile, zipped
 * Shapefile, GeoJSON, GeoPackage, FlatGeobuf) read with gdal3.js, reprojected
 * to `TARGET_CRS`, made valid, passed through the intent's SQL in the spatial
 * engine, and written to `data-lake/<project>/<batch>/<name>.parquet` as
 * GeoParquet 1.1 with its ledger document.
 *
 * @module
 */

import path from "node:path";
import { systemClock } from "../../core/clock.ts";
import type { GdalScratch } from "../../resources/spatial/gdal.ts";
import { sqliteToGeoParquet } from "../../formats/geoparquet.ts";
import { withWorkspace } from "../../resources/spatial/engine.ts";
import { isIdentityRecipe, recipeSql } from "../../resources/spatial/recipes.ts";
import { batchAsset, type BatchRun, type SpatialAssetOptions } from "./batch_asset.ts";
import {
  checkBatchContent,
  loadBatch,
  type LoadedBatch,
  SpatialBatchError,
  type StagedSource,
} from "./_batch.ts";
import type { ManifestFile } from "./manifest.ts";
import { iso19115, publishOutput } from "./lineage.ts";
import { mayNeedMakeValid } from "./_make_valid.ts";
import { vectorChecks } from "./checks.ts";

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

async function convertLayer(
  scratch: GdalScratch,
  options: BatchRun,
  batch: LoadedBatch,
  file: ManifestFile & { type: "vector" },
  gdalPath: string,
  layer: { name: string; hasCrs: boolean; epsg: number | undefined; geometryType: string },
  name: string,
) {
  const sameCrs = layer.hasCrs && `EPSG:${layer.epsg}` === options.targetCrs;
  const convert = (makeValid: boolean, suffix: string) =>
    scratch.gdal.ogr2ogr(
      gdalPath,
      [
        "-f",
        "GPKG",
        "-lco",
        "GEOMETRY_NAME=geom",
        "-lco",
        "SPATIAL_INDEX=NO",
        "-nln",
        "input",
        // Reprojecting onto the same CRS would still transform every vertex.
        ...(sameCrs ? [] : ["-t_srs", options.targetCrs]),
        ...(layer.hasCrs ? [] : ["-s_srs", file.crs]),
        ...(makeValid ? ["-makevalid"] : []),
      ],
      `${name}_${suffix}`,
      { label: file.path, layers: [layer.name] },
    );
  // Points are valid by construction; making them valid only costs time.
  const makeValid = !isPointType(layer.geometryType);
  let reprojected: string;
  if (makeValid && sameCrs) {
    // Without reprojection the converted geometries are the source's, so a
    // scan of them tells whether -makevalid would change anything; it is
    // asked for only then (see _make_valid.ts). With reprojection, whether
    // GDAL makes valid before or after transforming would matter: keep it.
    reprojected = await convert(false, "input");
    if (
      await mayNeedMakeValid(scratch, reprojected, "input", "geom", `${name}_scan`)
    ) {
      await Deno.remove(scratch.toHost(reprojected));
      reprojected = await convert(true, "valid");
    }
  } else {
    reprojected = await convert(makeValid, "input");
  }
  const info = await scratch.gdal.vectorInfo(reprojected);
  const projjson = info.layers[0]?.geometryFields[0]?.coordinateSystem?.projjson;
  if (projjson === undefined) {
    throw new SpatialBatchError(
      "spatial.no_crs",
      `Cannot write '${file.path}': the reprojected layer '${layer.name}' has no CRS.`,
      { input: file.path },
    );
  }
  const srid = Number(options.targetCrs.split(":")[1]);
  const outDir = scratch.hostPath(`${name}_out`);
  await Deno.mkdir(outDir);
  const dumped = isIdentityRecipe(batch.manifest.intent)
    ? { path: scratch.toHost(reprojected), table: "input", geometryColumn: "geom" }
    : await withWorkspace(options.engine, `${options.runId}_${name}`, async (ws) => {
      await ws.load("input", {
        path: scratch.toHost(reprojected),
        table: "input",
        geometryColumn: "geom",
      }, srid);
      await ws.run(recipeSql(batch.manifest.intent, await ws.columns("input")), "result");
      return await ws.dump("result", outDir);
    });
  const parquetPath = scratch.hostPath(`${name}.parquet`);
  const result = await sqliteToGeoParquet(dumped.path, dumped.table, parquetPath, {
    crs: projjson,
    geometryColumn: dumped.geometryColumn,
  });
  return { parquetPath, result };
}

/**
 * Converts every vector file of a batch and publishes the GeoParquet files
 * with their lineage; returns what was written. A batch with a bad file is
 * quarantined before anything is written.
 */
export async function processVectorBatch(options: BatchRun): Promise<VectorOutput[]> {
  const { lake, landingBucket, batchId, runId } = options;
  const batch = await loadBatch(lake, landingBucket, batchId, runId);
  await using scratch = await options.gdal.createScratch();
  const staged = await checkBatchContent(lake, landingBucket, batch, scratch, runId);
  const files = batch.manifest.files.filter((f): f is ManifestFile & { type: "vector" } =>
    f.type === "vector"
  );
  const outputs: VectorOutput[] = [];
  const taken = new Set<string>();
  const processedAt = new Date((options.clock ?? systemClock).now()).toISOString();
  for (const file of files) {
    const { gdalPath, sources, vectorInfo } = staged.get(file.path)!;
    // The content check already opened it; a GeoJSON is parsed at each open.
    const info = vectorInfo ?? await scratch.gdal.vectorInfo(gdalPath, { label: file.path });
    const layers = info.layers.filter((l) =>
      l.geometryFields.length > 0 && (file.layer === undefined || l.name === file.layer)
    );
    if (layers.length === 0) {
      throw new SpatialBatchError(
        "spatial.no_layer",
        `Cannot process '${file.path}': it has no geometry layer named '${file.layer}'.`,
        { input: file.path },
      );
    }
    for (const layer of layers) {
      const name = uniqueName(file, taken, layers.length > 1 ? layer.name : undefined);
      const crs = layer.geometryFields[0]?.coordinateSystem;
      const hasCrs = crs?.wkt !== undefined;
      const id = crs?.projjson?.id as { authority?: string; code?: number } | undefined;
      const epsg = id?.authority === "EPSG" ? id.code : undefined;
      const { parquetPath, result } = await convertLayer(
        scratch,
        options,
        batch,
        file,
        gdalPath,
        { name: layer.name, hasCrs, epsg, geometryType: layer.geometryFields[0]?.type ?? "" },
        name,
      );
      const key = `${batch.manifest.metadata.project}/${batchId}/${name}.parquet`;
      const doc = await publishOutput({
        lake,
        ledger: options.ledger,
        bucket: options.lakeBucket,
        key,
        file: parquetPath,
        contentType: "application/vnd.apache.parquet",
        format: "geoparquet",
        runId,
        assetKey: options.assetKey ?? "spatial/vector_geoparquet",
        batchId,
        metadata: vectorMetadata(batch, file, sources, options, result, processedAt, layer.name),
      });
      outputs.push({
        key,
        docId: doc.id,
        source: file.path,
        layer: layer.name,
        rows: result.rows,
        bbox: result.bbox,
        geometryTypes: result.geometryTypes,
      });
    }
  }
  return outputs;
}

function vectorMetadata(
  batch: LoadedBatch,
  file: ManifestFile,
  sources: StagedSource[],
  options: BatchRun,
  result: Awaited<ReturnType<typeof sqliteToGeoParquet>>,
  processedAt: string,
  layer: string,
) {
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
        `read ${file.format} layer '${layer}' with GDAL ${options.gdal.version} (${options.gdal.kind}; ` +
        `declared CRS ${file.crs})`,
        `reprojected to ${options.targetCrs} (when not already in it); ` +
        "non-point geometries made valid (ogr2ogr -makevalid)",
        `intent '${m.intent}' SQL run on ${options.engine.kind}`,
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
