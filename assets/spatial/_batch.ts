/**
 * What the spatial assets do with a batch: find its manifest (committed or
 * already archived), stage its files into a GDAL scratch folder with their
 * SHA-256 (each landing file read once, from the landing zone or, after a
 * finished run, from the archive), check each file's content against its
 * declared type, and archive the landing files once every asset of the batch
 * succeeded (`spatial/batch_archive`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import path from "node:path";
import { PlatformError } from "../../core/errors.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import type { GdalScratch, VectorInfo } from "../../resources/spatial/gdal.ts";
import type { GetResult } from "../../resources/object_store/types.ts";
import {
  ARCHIVE_PREFIX,
  Manifest,
  type ManifestFile,
  manifestKeyOf,
  type ManifestProblem,
  quarantineManifest,
  validateManifest,
} from "./manifest.ts";

/** A batch cannot be processed; the message says where its report is. */
export class SpatialBatchError extends PlatformError {}

/** A landing file as staged for processing. */
export interface StagedSource {
  /** Landing-zone key the manifest names. */
  key: string;
  /** Lowercase hex SHA-256 of its bytes. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/** A batch's manifest, where it was read from, and its etag. */
export interface LoadedBatch {
  manifest: Manifest;
  manifestKey: string;
  etag: string;
  archived: boolean;
}

/** Key of the archived copy of a landing key (`archive/<batch>/...`). */
export function archiveKeyOf(landingKey: string): string {
  return `${ARCHIVE_PREFIX}${landingKey}`;
}

function archivedManifestKey(batchId: string): string {
  return `${ARCHIVE_PREFIX}${batchId}/manifest.json`;
}

/**
 * Loads and validates the manifest of `batchId`: the committed one, or the
 * archived one when the batch was already processed (re-runs are safe). A
 * committed manifest that is invalid is quarantined here too.
 */
export async function loadBatch(
  store: ObjectStore,
  bucket: string,
  batchId: string,
  runId: string,
): Promise<LoadedBatch> {
  const committed = manifestKeyOf(batchId);
  if (await store.head(bucket, committed) !== undefined) {
    const result = await validateManifest(store, bucket, committed, {
      alternateKey: archiveKeyOf,
    });
    if (result.ok) {
      return {
        manifest: result.manifest,
        manifestKey: committed,
        etag: result.etag,
        archived: false,
      };
    }
    await quarantineManifest(store, bucket, committed, result.problems, { runId });
    throw new SpatialBatchError(
      "spatial.manifest_invalid",
      `Cannot process batch '${batchId}': ${result.problems[0]?.message ?? "invalid manifest"} ` +
        `(${result.problems.length} problem(s); see ${bucket}/quarantine/${batchId}.error.json).`,
      { input: `${bucket}/${committed}` },
    );
  }
  const archived = archivedManifestKey(batchId);
  const head = await store.head(bucket, archived);
  if (head === undefined) {
    throw new SpatialBatchError(
      "spatial.manifest_missing",
      `Cannot process batch '${batchId}': no manifest at '${bucket}/${committed}' nor in the ` +
        `archive; if it was rejected, read '${bucket}/quarantine/${batchId}.error.json'.`,
      { input: `${bucket}/${committed}` },
    );
  }
  const manifest = JSON.parse(new TextDecoder().decode(await store.getBytes(bucket, archived)));
  return {
    manifest: Manifest.parse(manifest),
    manifestKey: archived,
    etag: head.etag,
    archived: true,
  };
}

function isNotFound(error: unknown): boolean {
  return error instanceof PlatformError && error.code === "object_store.not_found";
}

/**
 * Opens a landing file where it is now: its key, or its archived key after a
 * finished run. One `get` per place, no `head` first, so a file archived
 * between two calls cannot be missed.
 */
async function openSource(store: ObjectStore, bucket: string, key: string): Promise<GetResult> {
  for (const at of [key, archiveKeyOf(key)]) {
    try {
      return await store.get(bucket, at);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  throw new SpatialBatchError(
    "spatial.source_missing",
    `Cannot read '${bucket}/${key}': it is neither in the landing zone nor archived.`,
    { input: `${bucket}/${key}` },
  );
}

/** Shapefile sidecars copied beside a `.shp` when present. */
const SIDECARS = [".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"];

/** Landing keys a manifest file brings along: itself, plus a Shapefile's sidecars. */
export async function keysOf(
  store: ObjectStore,
  bucket: string,
  file: ManifestFile,
): Promise<string[]> {
  const keys = [file.path];
  if (file.format === "shapefile" && /\.shp$/i.test(file.path)) {
    const stem = file.path.slice(0, -4);
    for (const ext of SIDECARS) {
      for (const candidate of [`${stem}${ext}`, `${stem}${ext.toUpperCase()}`]) {
        const found = await store.head(bucket, candidate) ??
          await store.head(bucket, archiveKeyOf(candidate));
        if (found !== undefined) {
          keys.push(candidate);
          break;
        }
      }
    }
  }
  return keys;
}

/**
 * Copies a manifest file (and its sidecars) into `scratch`, hashing while
 * copying. Returns the gdal3.js path of the main file and the sources.
 */
export async function stageFile(
  store: ObjectStore,
  bucket: string,
  file: ManifestFile,
  scratch: GdalScratch,
  folder: string,
): Promise<{ gdalPath: string; sources: StagedSource[] }> {
  const sources: StagedSource[] = [];
  await Deno.mkdir(scratch.hostPath(folder), { recursive: true });
  for (const key of await keysOf(store, bucket, file)) {
    const got = await openSource(store, bucket, key);
    const hash = createHash("sha256");
    let size = 0;
    const target = await Deno.open(scratch.hostPath(`${folder}/${path.posix.basename(key)}`), {
      write: true,
      create: true,
      truncate: true,
    });
    await got.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hash.update(chunk);
          size += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    ).pipeTo(target.writable);
    sources.push({ key, sha256: hash.digest("hex"), size });
  }
  return { gdalPath: scratch.gdalPath(`${folder}/${path.posix.basename(file.path)}`), sources };
}

/** GDAL driver each declared vector format must be read by. */
const DRIVERS: Record<string, string> = {
  shapefile: "ESRI Shapefile",
  geojson: "GeoJSON",
  geopackage: "GPKG",
  flatgeobuf: "FlatGeobuf",
};

/**
 * Opens a staged file as its declared type; returns a problem when GDAL
 * cannot, or when another driver than the declared format's reads it.
 */
export async function contentProblem(
  scratch: GdalScratch,
  file: ManifestFile,
  gdalPath: string,
): Promise<ManifestProblem | undefined> {
  return (await contentCheck(scratch, file, gdalPath)).problem;
}

/**
 * {@linkcode contentProblem}, also returning what GDAL said about a vector
 * file, so the caller need not open it again: every open of a GeoJSON parses
 * the whole file (about 5 s for 50 MB in gdal3.js).
 */
export async function contentCheck(
  scratch: GdalScratch,
  file: ManifestFile,
  gdalPath: string,
): Promise<{ problem?: ManifestProblem; vectorInfo?: VectorInfo }> {
  const mismatch = (why: string): ManifestProblem => ({
    code: "content_mismatch",
    message: `File '${file.path}' is declared ${file.type}/${file.format} but ${why}.`,
    file: file.path,
  });
  try {
    if (file.type === "vector") {
      const info = await scratch.gdal.vectorInfo(gdalPath, { label: file.path });
      const expected = DRIVERS[file.format];
      if (info.driverShortName !== expected) {
        return {
          problem: mismatch(`GDAL reads it as ${info.driverShortName || "an unknown format"}`),
        };
      }
      if (!info.layers.some((layer) => layer.geometryFields.length > 0)) {
        return { problem: mismatch("it has no layer with geometries") };
      }
      return { vectorInfo: info };
    }
    const info = await scratch.gdal.rasterInfo(gdalPath, [], { label: file.path });
    if (info.driverShortName !== "GTiff") {
      return { problem: mismatch(`GDAL reads it as ${String(info.driverShortName)}`) };
    }
    return {};
  } catch (error) {
    return {
      problem: mismatch(
        `GDAL cannot open it as such (${error instanceof Error ? error.message : String(error)})`,
      ),
    };
  }
}

/** A staged manifest file: its gdal3.js path, its sources and, for a vector file, its layers. */
export interface StagedFile {
  gdalPath: string;
  sources: StagedSource[];
  vectorInfo?: VectorInfo;
}

/**
 * Checks every file of the batch against its declared type before anything
 * is written, so a bad file quarantines the batch with no partial output.
 */
export async function checkBatchContent(
  store: ObjectStore,
  bucket: string,
  batch: LoadedBatch,
  scratch: GdalScratch,
  runId: string,
): Promise<Map<string, StagedFile>> {
  const staged = new Map<string, StagedFile>();
  const problems: ManifestProblem[] = [];
  let index = 0;
  for (const file of batch.manifest.files) {
    const folder = `in${index++}`;
    const stagedFile = await stageFile(store, bucket, file, scratch, folder);
    const { problem, vectorInfo } = await contentCheck(scratch, file, stagedFile.gdalPath);
    staged.set(file.path, vectorInfo ? { ...stagedFile, vectorInfo } : stagedFile);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) {
    const id = batch.manifest.batch_id;
    if (!batch.archived) {
      await quarantineManifest(store, bucket, batch.manifestKey, problems, { runId });
    }
    throw new SpatialBatchError(
      "spatial.content_mismatch",
      `Cannot process batch '${id}': ${problems.map((p) => p.message).join(" ")} ` +
        `The batch was quarantined; see '${bucket}/quarantine/${id}.error.json'.`,
      { input: `${bucket}/${batch.manifestKey}` },
    );
  }
  return staged;
}

/**
 * Moves the landing files of `files` (with their sidecars) to `archive/`,
 * then the manifest once no file of the batch is left in the landing zone.
 * Safe to repeat after a crash half-way.
 */
export async function archiveFiles(
  store: ObjectStore,
  bucket: string,
  batch: LoadedBatch,
  files: readonly ManifestFile[],
): Promise<string[]> {
  const moved: string[] = [];
  for (const file of files) {
    for (const key of await keysOf(store, bucket, file)) {
      if (await moveIfPresent(store, bucket, key, archiveKeyOf(key))) moved.push(key);
    }
  }
  if (batch.archived) return moved;
  for (const file of batch.manifest.files) {
    if (await store.head(bucket, file.path) !== undefined) return moved;
  }
  const target = archivedManifestKey(batch.manifest.batch_id);
  if (await moveIfPresent(store, bucket, batch.manifestKey, target)) moved.push(batch.manifestKey);
  return moved;
}

async function moveIfPresent(
  store: ObjectStore,
  bucket: string,
  from: string,
  to: string,
): Promise<boolean> {
  if (await store.head(bucket, from) === undefined) return false;
  try {
    await store.move({ bucket, key: from }, { bucket, key: to });
    return true;
  } catch (error) {
    // Another asset of the batch moved it first.
    if (isNotFound(error)) return false;
    throw error;
  }
}
