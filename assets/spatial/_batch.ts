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

import { crashPoint } from "../../core/crash_point.ts";
import path from "node:path";
import { PlatformError } from "../../core/errors.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import { GdalError, type GdalScratch, type VectorInfo } from "../../resources/spatial/gdal.ts";
import { type CrsDecision, decideCrs } from "./crs.ts";
import { Timings } from "./_timings.ts";
import { csvNotUtf8, csvUnclosedQuote, dbfText, mifNeutralNotUtf8 } from "./_dbf_encoding.ts";
import { csvCutShort } from "./_csv_cut.ts";
import { csvPrjWkt } from "./_csv_prj.ts";
import { esriWkidWkt, geoJsonEsriCrs } from "./_esri_wkid.ts";
import { esriDatesAsText } from "./_esri_dates.ts";
import { badDbfDates } from "./_dbf_dates.ts";
import { inexactDbfNumbers } from "./_dbf_numbers.ts";
import { addZeroSeconds, badSqliteDates, hasMinutesZ } from "./_sqlite_dates.ts";
import { kmlDrivers, kmlNeedsLibkml, libkmlContent, plainKmzDocument } from "./_kml.ts";
import { ZipListingError, zipNames } from "../../formats/zip_names.ts";
import { netcdfCutShort } from "../../formats/netcdf_size.ts";
import { GeoParquetReadError } from "../../formats/geoparquet_errors.ts";
import type { GetFileResult } from "../../resources/object_store/types.ts";
import {
  ARCHIVE_PREFIX,
  driversOf,
  isFolderDataset,
  Manifest,
  type ManifestFile,
  manifestKeyOf,
  type ManifestProblem,
  OGR_VRT_FORMAT,
  quarantineManifest,
  REFUSED_DRIVERS,
  validateManifest,
  VRT_FORMAT,
} from "./manifest.ts";
import { vrtSources } from "./_vrt.ts";

/**
 * A batch cannot be processed because of its content; `problems` says what,
 * per file, for the quarantine report.
 */
export class SpatialBatchError extends PlatformError {
  /** What is wrong, per file. */
  readonly problems: readonly ManifestProblem[];

  /** Creates the error; without `problems`, the message is the one problem. */
  constructor(
    code: string,
    message: string,
    fields: ConstructorParameters<typeof PlatformError>[2] & {
      problems?: readonly ManifestProblem[];
    } = {},
  ) {
    const { problems, ...rest } = fields;
    super(code, message, rest);
    this.problems = problems ?? [];
  }
}

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

/** Key of a batch's archived manifest: present once the batch was done. */
export function archivedManifestKey(batchId: string): string {
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
 * Copies a landing file where it is now (its key, or its archived key after
 * a finished run) into the local file `target`, with its SHA-256. One read
 * per place, no `head` first, so a file archived between two calls cannot be
 * missed. On the local store nothing is copied: the object's file gets a
 * second name in the scratch folder (see `ObjectStore.getFile`), which GDAL
 * only ever opens read-only.
 */
async function stageSource(
  store: ObjectStore,
  bucket: string,
  key: string,
  target: string,
): Promise<GetFileResult> {
  for (const at of [key, archiveKeyOf(key)]) {
    try {
      return await store.getFile(bucket, at, target);
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

/**
 * Landing keys a manifest file brings along: itself, plus every object of its
 * folder named like it (`<stem>.*`, any case; in the landing zone or already
 * archived): a Shapefile's `.shx`/`.dbf`/`.prj`/`.cpg`, a MapInfo table's
 * `.dat`/`.map`/`.id`, a raster's world file (`.tfw`, `.wld`), PAM
 * `.aux.xml`, `.msk` mask or `.prj`, an ENVI `.hdr`, an ER Mapper header's
 * data file (`dem.ers` beside `dem`, no extension). GDAL reads whichever
 * its driver needs, so the file is read exactly as native GDAL reads it in
 * the user's folder, whatever the format. Files the manifest lists itself
 * (`listed`) are never taken as another file's sidecar.
 */
export async function keysOf(
  store: ObjectStore,
  bucket: string,
  file: ManifestFile,
  listed: readonly ManifestFile[] = [],
): Promise<string[]> {
  if (isFolderDataset(file)) {
    // A File Geodatabase uploaded as its folder: every object under it.
    const inside = await keysUnderFolder(store, bucket, `${file.path}/`);
    if (inside.length > 0) return inside;
  }
  const folder = file.path.slice(0, file.path.lastIndexOf("/") + 1);
  const own = new Set(listed.map((f) => f.path.toLowerCase()));
  // Each folder listed once: a mosaic's thousands of tiles share a few folders.
  const listings = new Map<string, Promise<Set<string>>>();
  const listing = (key: string) => {
    const at = key.slice(0, key.lastIndexOf("/") + 1);
    if (!listings.has(at)) listings.set(at, folderKeys(store, bucket, at));
    return listings.get(at)!;
  };
  const keys = new Set([file.path, ...sidecarsIn(await listing(file.path), file.path, own)]);
  // A VRT brings the files it reads (and theirs), each checked to be in the
  // batch folder (`_vrt.ts`); a VRT refused is refused by contentCheck.
  if (file.format === (file.type === "raster" ? VRT_FORMAT : OGR_VRT_FORMAT)) {
    const xml = await readSmall(store, bucket, file.path);
    const read = xml === undefined ? { sources: [] } : vrtSources(xml);
    for (const source of "sources" in read ? read.sources : []) {
      const key = `${folder}${source}`;
      const names = await listing(key);
      // One not uploaded is named by contentCheck, as the file's problem.
      if (keys.has(key) || !names.has(key)) continue;
      keys.add(key);
      for (const sidecar of sidecarsIn(names, key, own)) keys.add(sidecar);
    }
  }
  return [...keys];
}

/** The landing keys of every object under landing folder `folder` (or its archive), sorted. */
async function keysUnderFolder(store: ObjectStore, bucket: string, folder: string) {
  const keys = new Set<string>();
  for (const prefix of [folder, archiveKeyOf(folder)]) {
    for await (const object of store.listAll(bucket, { prefix })) {
      keys.add(`${folder}${object.key.slice(prefix.length)}`);
    }
  }
  return [...keys].sort();
}

/** The landing keys of the objects directly in landing folder `folder` (or its archive). */
async function folderKeys(store: ObjectStore, bucket: string, folder: string) {
  const keys = new Set<string>();
  for (const prefix of [folder, archiveKeyOf(folder)]) {
    for await (const object of store.listAll(bucket, { prefix })) {
      const rest = object.key.slice(prefix.length);
      if (!rest.includes("/")) keys.add(`${folder}${rest}`);
    }
  }
  return keys;
}

/** The keys of `names` (one folder's) named like `key` (`<stem>.*`, or `<stem>`), sorted. */
function sidecarsIn(names: ReadonlySet<string>, key: string, own: ReadonlySet<string>): string[] {
  const folder = key.slice(0, key.lastIndexOf("/") + 1);
  const stem = `${key.slice(folder.length).replace(/\.[^.]+$/, "")}.`.toLowerCase();
  return [...names].filter((found) => {
    const rest = found.slice(folder.length).toLowerCase();
    // `<stem>.*`, or `<stem>` alone: an ER Mapper header's (`dem.ers`) raw data file (`dem`).
    const sidecar = rest.startsWith(stem) || `${rest}.` === stem;
    return sidecar && found !== key && !own.has(found.toLowerCase());
  }).sort();
}

/** Largest VRT read to find its sources (gdalbuildvrt writes ~1 KB per tile). */
const MAX_VRT_BYTES = 64 * 1024 * 1024;

/** The text of a landing object (where it is now: landing zone or archive), if small enough. */
async function readSmall(
  store: ObjectStore,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  for (const at of [key, archiveKeyOf(key)]) {
    const head = await store.head(bucket, at);
    if (head === undefined) continue;
    if (head.size > MAX_VRT_BYTES) return undefined;
    try {
      return new TextDecoder().decode(await store.getBytes(bucket, at));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return undefined;
}

/**
 * Stages a manifest file (and its sidecars) into `scratch` with their
 * SHA-256 (see `stageSource`). Returns the path GDAL opens the main file by
 * and the sources.
 */
export async function stageFile(
  store: ObjectStore,
  bucket: string,
  file: ManifestFile,
  scratch: GdalScratch,
  folder: string,
  listed: readonly ManifestFile[] = [],
): Promise<{ gdalPath: string; sources: StagedSource[] }> {
  const sources: StagedSource[] = [];
  await Deno.mkdir(scratch.hostPath(folder), { recursive: true });
  const fileFolder = file.path.slice(0, file.path.lastIndexOf("/") + 1);
  for (const key of await keysOf(store, bucket, file, listed)) {
    // Where it is beside the file (a VRT's tiles may be in a folder of the batch).
    const relative = key.startsWith(fileFolder)
      ? key.slice(fileFolder.length)
      : path.posix.basename(key);
    const target = scratch.hostPath(`${folder}/${relative}`);
    if (relative.includes("/")) await Deno.mkdir(path.dirname(target), { recursive: true });
    const { sha256, size } = await stageSource(store, bucket, key, target);
    sources.push({ key, sha256, size });
  }
  const gdalPath = scratch.gdalPath(`${folder}/${path.posix.basename(file.path)}`);
  // The CSV: prefix makes GDAL read a CSV as a table, never as an XYZ raster grid.
  return { gdalPath: file.format === "csv" ? `CSV:${gdalPath}` : gdalPath, sources };
}

/** Open options a CSV gets so that X/Y or WKT columns become its geometry. */
const CSV_OPTIONS = [
  "X_POSSIBLE_NAMES=x,lon,long,lng,longitude,easting",
  "Y_POSSIBLE_NAMES=y,lat,latitude,northing",
  "GEOM_POSSIBLE_NAMES=wkt,geom,geometry,the_geom,shape",
  "KEEP_GEOM_COLUMNS=NO",
];

/**
 * Open options a GeoJSON gets: an array or object property becomes its JSON
 * text. Without it GDAL reads arrays as list fields, which a GeoPackage
 * (the step before the GeoParquet) cannot hold: GDAL 3.6 (native) writes
 * them as `(3:1,2,3)`, gdal3.js's newer GDAL as `[ 1, 2, 3 ]`, so one file
 * gave two tables depending on the engine.
 */
const GEOJSON_OPTIONS = ["ARRAY_AS_STRING=YES"];

/** The GDAL open options of a manifest file: the defaults of its format, then its own. */
export function openOptionsOf(file: ManifestFile): string[] {
  const defaults = file.type !== "vector"
    ? []
    : file.format === "csv"
    ? CSV_OPTIONS
    : file.format === "geojson"
    ? GEOJSON_OPTIONS
    : [];
  const own = file.open_options ?? [];
  const named = new Set(own.map((o) => o.split("=")[0]));
  return [...defaults.filter((o) => !named.has(o.split("=")[0])), ...own];
}

/**
 * `: it names '<name>'` for the CRS a text file names at its start (a
 * GeoJSON's legacy "crs" member, a GML's first srsName), for a message about
 * a CRS GDAL cannot resolve (PROJ says only "crs not found"); `""` otherwise.
 */
async function crsNamed(path: string): Promise<string> {
  let head: string;
  try {
    using file = await Deno.open(path);
    const buffer = new Uint8Array(65536);
    const n = await file.read(buffer);
    head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  } catch (error) {
    // A zip member or a folder: nothing to quote, GDAL's message stands alone.
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory ||
      error instanceof Deno.errors.NotADirectory
    ) {
      return "";
    }
    throw error;
  }
  const name =
    /"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]{1,200})"/.exec(head)
      ?.[1] ?? /\bsrsName\s*=\s*"([^"]{1,200})"/.exec(head)?.[1];
  return name === undefined ? "" : `: it names '${name}'`;
}

/**
 * GDAL's messages once each, on one line (some end in "\nSuccess", strerror's
 * word), a path in one of the `staged` folders (as GDAL was given it, or
 * relative to the scratch folder, as a native host names a VRT's source:
 * 'in0/roads.shp') named as in the user's landing folder `folder`.
 */
function gdalSaid(messages: readonly string[], staged: string[] = [], folder = ""): string[] {
  const escaped = staged.filter((s) => s !== "").map((s) =>
    s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  );
  const scratchPath = escaped.length > 0
    ? new RegExp(`(?<![\\w./-])(?:${escaped.join("|")})`, "g")
    : undefined;
  return [
    ...new Set(messages.map((m) => {
      const line = m.replace(/\s*\nSuccess$/, "").replace(/\s+/g, " ");
      return scratchPath ? line.replace(scratchPath, () => folder) : line;
    })),
  ];
}

/** A staged manifest file: where GDAL sees it, its sources, what GDAL said, its CRS. */
export interface StagedFile {
  /** The file as GDAL opens it. */
  gdalPath: string;
  /** Its landing objects with their SHA-256. */
  sources: StagedSource[];
  /** The layers of a vector file. */
  vectorInfo?: VectorInfo;
  /** `gdalinfo -json` of a raster. */
  rasterInfo?: Record<string, unknown>;
  /** Errors GDAL reported while it still opened the file (see OpenOptions.errors). */
  openErrors?: string[];
  /**
   * The subdatasets to publish of a raster that holds several and no band
   * of its own (a netCDF's variables), each with its own CRS decision: a
   * COG each.
   */
  subdatasets?: RasterSubdataset[];
  /** The CRS it is processed in (see crs.ts). */
  crs: CrsDecision;
  /** GDAL open options. */
  openOptions: string[];
  /** The only drivers that may open it, when GDAL's own pick must be overruled (see _kml.ts). */
  drivers?: readonly string[];
  /**
   * The CRS GDAL must be told the file is in, when what it reads says
   * otherwise (a GeoParquet input is read as GeoJSON Sequence, whose CRS
   * GDAL takes for CRS84 whatever the `geo` metadata says; a GeoJSON naming
   * `EPSG::102100`, which GDAL reads as WGS 84).
   */
  sourceCrs?: string;
}

/** One subdataset of a raster (see {@linkcode StagedFile.subdatasets}). */
export interface RasterSubdataset {
  /** Its name in the file (a netCDF variable: `temperature`). */
  name: string;
  /** What GDAL opens (`NETCDF:"<file>":temperature`). */
  gdalPath: string;
  /** Its `gdalinfo -json`. */
  rasterInfo: Record<string, unknown>;
  /** The CRS it is processed in. */
  crs: CrsDecision;
}

/**
 * The subdatasets GDAL lists for a raster (`gdalinfo -json`'s SUBDATASETS
 * metadata): what GDAL opens and the variable's name (the part after the
 * last `:`, without quotes or an HDF5 path's leading slashes); a page of a
 * multi-page TIFF (`GTIFF_DIR:2:<file>`) is `page_2`.
 */
export function subdatasetsOf(
  info: Record<string, unknown> | undefined,
): { name: string; gdalPath: string }[] {
  const list = (info?.metadata as Record<string, Record<string, string>> | undefined)?.SUBDATASETS;
  return Object.entries(list ?? {})
    .filter(([k]) => /^SUBDATASET_\d+_NAME$/.test(k))
    .sort(([a], [b]) => Number(a.split("_")[1]) - Number(b.split("_")[1]))
    .map(([, gdalPath]) => {
      const page = /^GTIFF_DIR:(\d+):/.exec(gdalPath)?.[1];
      return {
        gdalPath,
        name: page !== undefined
          ? `page_${page}`
          : gdalPath.split(":").pop()!.replace(/^"|"$/g, "").replace(/^\/+/, ""),
      };
    });
}

/**
 * Whether a raster's subdatasets are the pages of a multi-page TIFF: GDAL
 * opens the file as its first page, bands and all, and `gdal_translate`
 * converts that page alone; the others were dropped without a word. Each is
 * published, as a netCDF's variables are.
 */
function tiffPages(listed: readonly { gdalPath: string }[]): boolean {
  return listed.length > 1 && listed.every((s) => s.gdalPath.startsWith("GTIFF_DIR:"));
}

/** The WKT a raster is placed in: its own, else that of its ground control points. */
export function rasterWkt(info: Record<string, unknown>): string | undefined {
  return (info.coordinateSystem as { wkt?: string } | undefined)?.wkt ??
    (info.gcps as { coordinateSystem?: { wkt?: string } } | undefined)?.coordinateSystem?.wkt;
}

/** Whether a local file exists. */
async function exists(host: string): Promise<boolean> {
  try {
    await Deno.stat(host);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A GDAL raster or OGR VRT document: XML whose root is `VRTDataset` or `OGRVRTDataSource`. */
const VRT_START =
  /^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<(VRTDataset|OGRVRTDataSource)\b/;

/**
 * The first 4 KiB of the local file at `host` as Latin-1 text (every byte one
 * character), or `undefined` for a path that is no plain file (a zip member).
 */
async function headBytes(host: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(host);
  } catch {
    return undefined;
  }
  try {
    if (!(await file.stat()).isFile) return undefined;
    const head = new Uint8Array(4096);
    const n = await file.read(head);
    return new TextDecoder("latin1").decode(head.subarray(0, n ?? 0));
  } finally {
    file.close();
  }
}

/** Whether the local file at `host` starts as a VRT document (a missing file, e.g. a /vsizip/ path, is not). */
async function isVrt(host: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(host);
  } catch {
    return false;
  }
  try {
    // A folder (a File Geodatabase staged as one) is no VRT.
    if (!(await file.stat()).isFile) return false;
    const head = new Uint8Array(4096);
    const n = await file.read(head);
    return VRT_START.test(new TextDecoder("latin1").decode(head.subarray(0, n ?? 0)));
  } finally {
    file.close();
  }
}

/**
 * Why the staged VRT at `host` (of a file of `type`) is not published (see
 * `_vrt.ts`), or `undefined`: a source outside its folder, one not uploaded, a
 * VRT read by a VRT (whose sources were not checked), a VRT of the other kind.
 */
async function vrtProblem(
  host: string,
  type: "vector" | "raster",
): Promise<string | undefined> {
  const read = vrtSources(await Deno.readTextFile(host));
  if ("why" in read) return read.why;
  if (read.kind !== type) {
    return read.kind === "vector"
      ? `it is an OGR (vector) VRT; declare it type vector, format ${OGR_VRT_FORMAT}`
      : `it is a raster VRT; declare it type raster, format ${VRT_FORMAT}`;
  }
  const folder = path.dirname(host);
  const missing: string[] = [];
  for (const source of read.sources) {
    const at = path.join(folder, source);
    if (!await exists(at)) missing.push(source);
    else if (await isVrt(at)) {
      return `it is a VRT file that reads another VRT ('${source}'); make one VRT of the ` +
        "files themselves " +
        (type === "raster" ? "(gdalbuildvrt mosaic.vrt tiles/*.tif) " : "") +
        "and upload it with them";
    }
  }
  if (missing.length > 0) {
    return `it is a VRT file that reads ${missing.slice(0, 5).map((m) => `'${m}'`).join(", ")}${
      missing.length > 5 ? ", ..." : ""
    }, which ${
      missing.length === 1 ? "is" : "are"
    } not in the batch; upload the files it reads beside it (paths relative to the VRT)`;
  }
  return undefined;
}

/**
 * Where the Shapefile of a zip is when it is not at its root: its path
 * inside (`export/data/parcels.shp`), or the folder of several
 * (`export/data`: a layer each); `undefined` when GDAL finds them itself (at
 * the root); why not, when the zip holds none (empty, another zip inside,
 * other files), several in different folders, names outside the archive, or
 * cannot be listed.
 */
async function zippedShapefile(host: string): Promise<string | undefined | { why: string }> {
  let names: string[];
  try {
    names = await zipNames(host);
  } catch (error) {
    if (!(error instanceof ZipListingError)) throw error;
    return { why: `it is not a readable zip archive (${error.message})` };
  }
  // A name that climbs out of the archive or starts at the root (`../x.shp`,
  // `/etc/x`) is what a crafted zip carries, never a GIS export.
  const unsafe = names.filter((n) => /^([a-z]:)?\/|(^|\/)\.\.(\/|$)/i.test(n));
  if (unsafe.length > 0) {
    return {
      why: `its zip holds paths outside the archive (${unsafe.slice(0, 3).join(", ")}), which ` +
        "no GIS export writes; zip the Shapefile's files again and upload that zip",
    };
  }
  // macOS's zip adds `__MACOSX/._name.shp` resource forks beside the real files.
  const files = names.filter((n) => !n.endsWith("/") && !/(^|\/)(__MACOSX\/|\._)/.test(n));
  const shps = files.filter((n) => /\.shp$/i.test(n));
  if (shps.length === 0) {
    const zips = files.filter((n) => /\.zip$/i.test(n));
    return {
      why: files.length === 0
        ? "its zip is empty"
        : zips.length > 0
        ? `its zip holds another zip (${zips.slice(0, 3).join(", ")}) instead of a ` +
          "Shapefile; unzip the outer one and upload the zip inside"
        : `its zip holds no .shp (it holds ${files.slice(0, 5).join(", ")}${
          files.length > 5 ? ", ..." : ""
        }); declare the format of what it holds, or zip the Shapefile's .shp, .shx, .dbf ` +
          "and .prj",
    };
  }
  if (shps.some((n) => !n.includes("/"))) return undefined;
  if (shps.length === 1) return shps[0];
  // Several in one folder (a portal's `export/parcels.shp`, `export/wells.shp`):
  // GDAL opens the folder as one dataset of a layer per Shapefile, as it
  // opens the root of a zip. In several folders, no one dataset holds them.
  const folders = new Set(shps.map((n) => n.slice(0, n.lastIndexOf("/"))));
  if (folders.size === 1) return [...folders][0];
  return {
    why:
      `its zip holds ${shps.length} Shapefiles in ${folders.size} folders (${
        shps.slice(0, 5).join(", ")
      }${shps.length > 5 ? ", ..." : ""}); zip each folder's Shapefiles as a file of its own, ` +
      "or move them into one folder of the zip",
  };
}

/** The problem of a file whose format's drivers this GDAL build lacks (gdal3.js's). */
function driverMissing(
  file: ManifestFile,
  drivers: readonly string[],
  gdalMessage: string,
  why = "",
): ManifestProblem {
  const said = /^$|gave no reason/.test(gdalMessage) ? why : ` (GDAL: ${gdalMessage})`;
  return {
    code: "codec_missing",
    message: `Cannot read '${file.path}' (${file.type}/${file.format}): the embedded GDAL ` +
      `(gdal3.js) has no ${drivers.join(" or ")} driver${said}. The file may well be valid: ` +
      "install GDAL >= 3.6 (Debian: apt-get install gdal-bin) and run with " +
      "GDAL_ENGINE=native (or unset, to pick it automatically).",
    file: file.path,
  };
}

/**
 * Why the CSV at `csv` would be published cut short (a quoted value never
 * closed, a last row with fewer columns and no line end: an upload cut off),
 * as a sentence starting "its", or `undefined`.
 */
async function csvProblem(csv: string): Promise<string | undefined> {
  const unclosed = await csvUnclosedQuote(csv);
  if (unclosed !== undefined) {
    return `its quoted value opened on line ${unclosed} is never closed (the file may be cut ` +
      "off, or a quote is missing), so GDAL would publish that row cut short; upload the " +
      'whole file, or close the quote (a quote inside a value is written "")';
  }
  const cut = await csvCutShort(csv);
  if (cut !== undefined) {
    return `its last row (${JSON.stringify(cut.row)}) has ${cut.columns} of the header's ` +
      `${cut.expected} columns and no line end: the file was probably cut off in ` +
      "transfer, and GDAL would publish that row with the rest left empty; upload the " +
      "whole file";
  }
  return undefined;
}

/**
 * Why the values of the `.dbf` of the Shapefile at `shp` would be published
 * changed (Date values that are not dates, `_dbf_dates.ts`; whole numbers too
 * long for a double, `_dbf_numbers.ts`), as a sentence starting "its .dbf",
 * or `undefined`. `look` skips a check GDAL's field types rule out.
 */
async function dbfValueProblem(
  shp: string,
  look: { dates: boolean; numbers: boolean } = { dates: true, numbers: true },
): Promise<string | undefined> {
  const lower = shp.replace(/\.shp$/i, ".dbf");
  const dbf = await exists(lower) ? lower : shp.replace(/\.shp$/i, ".DBF");
  if (look.dates) {
    const bad = await badDbfDates(dbf);
    if (bad.length > 0) {
      return `its .dbf holds Date values that are not dates (${
        bad.map((b) => `field '${b.field}', row ${b.row}: '${b.value}'`).join("; ")
      }), which GDAL would publish garbled or as nothing; write them as YYYYMMDD (blank ` +
        "for no date) and upload it again";
    }
  }
  if (look.numbers) {
    const inexact = await inexactDbfNumbers(dbf);
    if (inexact.length > 0) {
      return `its .dbf holds whole numbers too long for GDAL to read exactly (${
        inexact.map((n) =>
          `field '${n.field}', row ${n.row}: ${n.value} would be published as ${n.published}`
        ).join("; ")
      }): GDAL reads a numeric field of 19 or more digits as a floating-point number; ` +
        "store such ids in a text field (in ArcGIS or QGIS, a Text field calculated from " +
        "it) and upload it again";
    }
  }
  return undefined;
}

/**
 * Opens a staged file as its declared type and applies the CRS rule;
 * returns what GDAL said, or the problem: GDAL cannot open it (with GDAL's
 * message), another driver than the declared format's reads it, a codec the
 * wasm build lacks, an unknown or disagreeing CRS.
 */
export async function contentCheck(
  scratch: GdalScratch,
  file: ManifestFile,
  staged: string,
): Promise<{ problem: ManifestProblem } | Omit<StagedFile, "sources">> {
  const mismatch = (why: string): { problem: ManifestProblem } => ({
    problem: {
      code: "content_mismatch",
      message: `File '${file.path}' is declared ${file.type}/${file.format} but ${why}.`,
      file: file.path,
    },
  });
  let gdalPath = staged;
  // GDAL names a VRT's sources by their staged paths; the user knows them by their landing keys.
  const unprefixed = staged.replace(/^CSV:/, "");
  const stagedFolder = unprefixed.slice(0, unprefixed.lastIndexOf("/") + 1);
  const root = scratch.gdalPath("").replace(/\/?$/, "/");
  const stagedFolders = [
    stagedFolder,
    ...(stagedFolder.startsWith(root) ? [stagedFolder.slice(root.length)] : []),
  ];
  const landingFolder = file.path.slice(0, file.path.lastIndexOf("/") + 1);
  const said = (messages: readonly string[]) => gdalSaid(messages, stagedFolders, landingFolder);
  // An upload cut off before its first byte: GDAL would only say it knows no such format.
  const size = await Deno.stat(scratch.toHost(staged.replace(/^CSV:/, ""))).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === 0) {
    return mismatch("it is empty (0 bytes): the upload may have been cut off; upload it again");
  }
  // Told by its first bytes, before any GDAL opens it: a VRT may name files
  // outside the batch (or another batch's, in gdal3.js's shared folder).
  const vrt = await isVrt(scratch.toHost(staged));
  const vrtFormat = file.type === "raster" ? VRT_FORMAT : OGR_VRT_FORMAT;
  if (vrt && file.format !== vrtFormat) {
    return mismatch(
      "it is a VRT file, which may point outside the batch; upload the files it reads " +
        "instead" + (file.type === "raster"
          ? " (or one GeoTIFF of it: gdal_translate -of COG mosaic.vrt mosaic.tif)"
          : " (or one file of it: ogr2ogr -f GPKG layers.gpkg layers.vrt)") +
        `, or declare its format ${vrtFormat} with the files it reads in the batch beside it`,
    );
  }
  if (vrt) {
    const why = await vrtProblem(scratch.toHost(staged), file.type);
    if (why !== undefined) return mismatch(why);
  }
  const csvHead = file.type === "vector" && file.format === "csv"
    ? await headBytes(scratch.toHost(staged.replace(/^CSV:/, "")))
    : undefined;
  if (csvHead !== undefined && /^(\xFF\xFE|\xFE\xFF)/.test(csvHead)) {
    // GDAL's CSV reader takes bytes as UTF-8 (or Latin-1): UTF-16 is read as
    // one garbled column on gdal3.js, and not opened at all by GDAL 3.6.
    return mismatch(
      'its text is UTF-16 (Excel\'s "Unicode Text"), which GDAL does not read as CSV; save ' +
        'it as "CSV UTF-8" (Excel) or re-encode it (iconv -f UTF-16 -t UTF-8), and upload it ' +
        "again",
    );
  }
  const openOptions = openOptionsOf(file);
  let drivers = driversOf(file);
  // Both engines read a KML with the same driver, hence the same columns (see _kml.ts).
  const kmz = file.type === "vector" && file.format === "kml" && /\.kmz$/i.test(file.path)
    ? await plainKmzDocument(scratch.toHost(staged))
    : undefined;
  if (kmz !== undefined && "damaged" in kmz) {
    return mismatch(
      `it is not a readable KMZ (a KMZ is a zipped KML; ${kmz.damaged}): it may be cut off in ` +
        "transfer, or a KML renamed .kmz; upload it again, or the .kml itself",
    );
  }
  const kmzDocument = kmz?.document;
  if (kmzDocument !== undefined) gdalPath = `${staged}/${kmzDocument}`;
  const kml = file.type === "vector" && file.format === "kml"
    ? kmlDrivers(
      kmzDocument ?? file.path,
      !/\.kmz$/i.test(file.path) && await kmlNeedsLibkml(scratch.toHost(staged)),
    )
    : undefined;
  if (kml !== undefined) {
    drivers = kml;
    if (kml[0] === "LIBKML" && scratch.gdal.hasDriver?.("LIBKML") === false) {
      // Said exactly: which of the user's attributes its KML driver would drop.
      const { fields, elements } = /\.kmz$/i.test(file.path)
        ? { fields: [], elements: [] }
        : await libkmlContent(scratch.toHost(staged));
      const what = [
        ...(fields.length > 0
          ? [
            `the ExtendedData attribute${fields.length === 1 ? "" : "s"} ${
              fields.map((f) => `'${f}'`).join(", ")
            }`,
          ]
          : []),
        ...(elements.length > 0 ? [`${elements.join(", ")} elements`] : []),
      ];
      return {
        problem: driverMissing(
          file,
          kml,
          "",
          /\.kmz$/i.test(file.path)
            ? " (its KML holds ExtendedData, a Schema or times, or it holds several KML " +
              "documents: such a KMZ is read by LIBKML only)"
            : ` (it holds ${
              what.length > 0 ? what.join(" and ") : "a Schema"
            }, which only LIBKML reads: its KML driver would publish the placemarks without ` +
              "them)",
        ),
      };
    }
  }
  // What GDAL reported while opening a file it still opened (a truncated file's real cause).
  const openErrors: string[] = [];
  const open = {
    label: file.path,
    openOptions,
    errors: openErrors,
    ...(kml ? { drivers: kml } : {}),
  };
  const reported = () =>
    openErrors.length > 0 ? ` (GDAL reported: ${said(openErrors).join(" | ")})` : "";
  let wkt: string | undefined;
  let found: Pick<StagedFile, "vectorInfo" | "rasterInfo" | "subdatasets" | "openErrors">;
  let sourceCrs: string | undefined;
  try {
    if (file.type === "vector" && file.format === "geoparquet") {
      // GDAL here has no Parquet driver: the file is read with hyparquet and
      // handed to GDAL as GeoJSON Sequence, in the CRS its `geo` metadata names.
      const host = scratch.toHost(gdalPath);
      const converted = `${host.replace(/\.[^./]*$/, "")}.geojsons`;
      const { geoParquetToGeoJsonSeq } = await import("../../formats/geoparquet_read.ts");
      try {
        sourceCrs = (await geoParquetToGeoJsonSeq(host, converted, file.path)).crs;
      } catch (error) {
        if (!(error instanceof GeoParquetReadError)) throw error;
        return mismatch(`it cannot be read as GeoParquet (${error.message})`);
      }
      gdalPath = gdalPath.replace(/\.[^./]*$/, ".geojsons");
      drivers = ["GeoJSONSeq"];
      wkt = (await scratch.gdal.crsInfo(sourceCrs)).wkt;
    }
    if (file.type === "vector" && file.format === "shapefile" && /\.zip$/i.test(file.path)) {
      // GDAL opens the Shapefiles at the root of a zip only: one in a folder
      // (a portal's `export/data/parcels.shp`) is opened by its path inside.
      const inner = await zippedShapefile(scratch.toHost(staged));
      if (typeof inner === "object") return mismatch(inner.why);
      if (inner !== undefined) gdalPath = `${gdalPath}/${inner}`;
    }
    if (file.type === "vector") {
      const info = await scratch.gdal.vectorInfo(gdalPath, open);
      if (
        REFUSED_DRIVERS.has(info.driverShortName) && !(vrt && info.driverShortName === "OGR_VRT")
      ) {
        return mismatch(`it is a ${info.driverShortName} file, which may point outside the batch`);
      }
      if (!drivers.includes(info.driverShortName)) {
        return mismatch(`GDAL reads it as ${info.driverShortName || "an unknown format"}`);
      }
      // A CRS the file names that PROJ does not know (`EPSG::999999` in a GeoJSON's
      // "crs" member, a GML srsName): GDAL says so and reads the layer as WGS 84 or
      // without CRS, and the declared CRS would then be assigned to coordinates the
      // file says are in another one.
      let unknownCrs = said(openErrors).filter((m) => /^PROJ: /.test(m));
      if (
        unknownCrs.length > 0 && info.driverShortName === "ESRIJSON" &&
        info.layers.every((l) => l.geometryFields.every((g) => !g.coordinateSystem?.wkt))
      ) {
        // An ArcGIS id PROJ knows under the ESRI authority (see _esri_wkid.ts).
        const esri = await esriWkidWkt(scratch, scratch.toHost(gdalPath));
        if (esri !== undefined) {
          wkt = esri.wkt;
          unknownCrs = [];
        }
      }
      if (unknownCrs.length > 0 && /^GeoJSON/.test(info.driverShortName)) {
        // `"urn:ogc:def:crs:EPSG::102100"`: GDAL read the coordinates as WGS 84
        // degrees, so it is told the file's CRS (see _esri_wkid.ts).
        const esri = await geoJsonEsriCrs(scratch, scratch.toHost(gdalPath));
        if (esri !== undefined) {
          wkt = esri.wkt;
          sourceCrs = `ESRI:${esri.wkid}`;
          unknownCrs = [];
        }
      }
      if (unknownCrs.length > 0) {
        return {
          problem: {
            code: "unknown_crs",
            message:
              `File '${file.path}' names a CRS that GDAL does not know (${
                unknownCrs.join(" | ")
              }${await crsNamed(
                scratch.toHost(gdalPath),
              )}); name its CRS by an EPSG code GDAL knows ` +
              "(or remove the file's own CRS and declare the right one in files[].crs), and " +
              "upload it again.",
            file: file.path,
          },
        };
      }
      const layers = info.layers.filter((l) => l.geometryFields.length > 0);
      if (layers.length === 0 && info.driverShortName === "CSV") {
        const columns = info.layers[0]?.fields.map((f) => f.name) ?? [];
        return mismatch(
          `GDAL finds no geometry in it: none of its columns (${columns.slice(0, 12).join(", ")}${
            columns.length > 12 ? ", ..." : ""
          }) is a WKT column (wkt, geom, geometry, the_geom, shape) or a pair of coordinate ` +
            "columns (lon/lat, longitude/latitude, x/y, easting/northing); rename them, or name " +
            'yours with open_options, e.g. ["X_POSSIBLE_NAMES=X_COORD", "Y_POSSIBLE_NAMES=' +
            'Y_COORD"] or ["GEOM_POSSIBLE_NAMES=footprint"]',
        );
      }
      // No layer at all and GDAL's errors: the file itself is unreadable (a
      // FlatGeobuf cut inside its header), not a file of tables without geometry.
      if (info.layers.length === 0 && openErrors.length > 0) {
        return mismatch(
          `GDAL cannot read a layer of it (GDAL reported: ${said(openErrors).join(" | ")}): ` +
            "the file is damaged or cut short (an upload cut off in transfer?); upload it again, " +
            "or export it again from its source",
        );
      }
      if (layers.length === 0) {
        return mismatch(
          /^(ODS|XLSX|XLS)$/.test(info.driverShortName)
            ? "it has no layer with geometries: GDAL reads a spreadsheet as a plain table; save " +
              "the sheet as CSV with lon/lat (or x/y) or WKT columns and declare it csv"
            : `it has no layer with geometries${reported()}`,
        );
      }
      const chosen = file.type === "vector" && file.layer !== undefined
        ? layers.find((l) => l.name === file.layer)
        : layers[0];
      if (chosen === undefined) {
        return mismatch(
          `it has no geometry layer named '${file.layer}' (it has ${
            layers.map((l) => `'${l.name}'`).join(", ")
          })`,
        );
      }
      wkt ??= chosen.geometryFields[0]?.coordinateSystem?.wkt;
      if (wkt === undefined && info.driverShortName === "CSV") {
        wkt = await csvPrjWkt(scratch, scratch.toHost(gdalPath.replace(/^CSV:/, "")));
      }
      if (
        info.driverShortName === "ESRI Shapefile" &&
        !openOptions.some((o) => /^ENCODING=/i.test(o))
      ) {
        // A code page GDAL would misread or cannot know: told, or refused (see _dbf_encoding.ts).
        const text = await dbfText(scratch.toHost(gdalPath));
        if ("problem" in text) return mismatch(text.problem);
        if (text.encoding !== undefined) openOptions.push(`ENCODING=${text.encoding}`);
      }
      if (info.driverShortName === "ESRIJSON" && !/\/vsi[a-z]+\/|\.zip\//i.test(gdalPath)) {
        // Dates GDAL 3.6 reads as milliseconds text: given as GDAL 3.7+ reads them (_esri_dates.ts).
        const staged = scratch.toHost(gdalPath);
        const rewritten = await esriDatesAsText(
          staged,
          chosen.fields.filter((f) => f.type === "String").map((f) => f.name),
          `${staged.slice(0, staged.lastIndexOf("/"))}/esri-dates`,
        );
        if (rewritten !== undefined) {
          gdalPath = `${gdalPath.slice(0, gdalPath.lastIndexOf("/"))}/esri-dates/${
            gdalPath.slice(gdalPath.lastIndexOf("/") + 1)
          }`;
        }
      }
      const host = scratch.toHost(gdalPath);
      if (
        info.driverShortName === "ESRI Shapefile" && /\.shp$/i.test(host) &&
        !/\.zip\//i.test(host)
      ) {
        const why = await dbfValueProblem(host, {
          dates: chosen.fields.some((f) => f.type === "Date"),
          numbers: chosen.fields.some((f) => f.type === "Real"),
        });
        if (why !== undefined) return mismatch(why);
      }
      if (vrt && info.driverShortName === "OGR_VRT") {
        // The Shapefiles an OGR VRT reads are read as GDAL reads them directly: the same checks.
        const read = vrtSources(await Deno.readTextFile(host));
        for (const source of "sources" in read ? read.sources : []) {
          if (!/\.shp$/i.test(source)) continue;
          const why = await dbfValueProblem(path.join(path.dirname(host), source));
          if (why !== undefined) {
            return mismatch(
              `it reads the Shapefile '${source}', whose ${why.replace(/^its /, "")}`,
            );
          }
        }
      }
      if (/^(GPKG|SQLite)$/.test(info.driverShortName) && !/\/vsi[a-z]+\//.test(gdalPath)) {
        // Date text GDAL would publish as null or as an impossible date (see _sqlite_dates.ts).
        const read = file.type === "vector" && file.layer !== undefined ? [chosen] : layers;
        const columns = read.map((l) => ({
          layer: l.name,
          dates: l.fields.filter((f) => f.type === "Date").map((f) => f.name),
          dateTimes: l.fields.filter((f) => f.type === "DateTime").map((f) => f.name),
        }));
        const bad = badSqliteDates(host, columns);
        if (bad.length > 0) {
          return mismatch(
            `it holds Date/DateTime values that are not dates (${
              bad.map((b) => `layer '${b.layer}', column '${b.field}', fid ${b.fid}: '${b.value}'`)
                .join("; ")
            }), which GDAL would publish as null or as an impossible date; write them as ` +
              "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (NULL for no date) and upload it again",
          );
        }
        if (hasMinutesZ(host, columns)) {
          // Read as UTC by every GDAL from a private copy (the staged file may be
          // the landing file's second name): see _sqlite_dates.ts.
          const copy = `${host}.utc-${crypto.randomUUID()}`;
          await Deno.copyFile(host, copy);
          // Its uncheckpointed pages come along (merged into the copy when it closes).
          const wal = await exists(`${host}-wal`);
          if (wal) await Deno.copyFile(`${host}-wal`, `${copy}-wal`);
          addZeroSeconds(copy, columns);
          if (wal) {
            for (const side of ["-wal", "-shm"]) {
              await Deno.remove(`${host}${side}`).catch((error) => {
                if (!(error instanceof Deno.errors.NotFound)) throw error;
              });
            }
          }
          await Deno.rename(copy, host);
        }
      }
      if (
        info.driverShortName === "CSV" &&
        await csvNotUtf8(scratch.toHost(staged.replace(/^CSV:/, "")))
      ) {
        return mismatch(
          'its text is not UTF-8 (Excel on Windows saves "CSV" in the ANSI code page, e.g. ' +
            "CP1252), and GDAL reads CSV bytes as they are, so it would be published garbled; " +
            'save it as "CSV UTF-8" (Excel) or re-encode it to UTF-8, and upload it again',
        );
      }
      if (
        /^(GeoJSON|GeoJSONSeq|TopoJSON|ESRIJSON)$/.test(info.driverShortName) &&
        !/\/vsi[a-z]+\/|\.zip(\/|$)/i.test(gdalPath) && await csvNotUtf8(host)
      ) {
        // JSON is UTF-8 (RFC 8259); GDAL passes other bytes through: measured, a Latin-1
        // 'Zürich' was published as 'Z\uFFFDrich' by gdal3.js and failed the native engine's
        // run in the GeoParquet writer ("Invalid UTF8 sequence"), naming no file.
        return mismatch(
          "its text is not UTF-8 (JSON must be: RFC 8259; it was probably saved in a Windows " +
            "code page such as CP1252), so it would be published garbled; re-encode it to UTF-8 " +
            "(e.g. iconv -f CP1252 -t UTF-8) and upload it again",
        );
      }
      if (
        info.driverShortName === "MapInfo File" && /\.mif$/i.test(host) &&
        !/\/vsi[a-z]+\/|\.zip(\/|$)/i.test(gdalPath) && await mifNeutralNotUtf8(host) === true
      ) {
        return mismatch(
          'its Charset is "Neutral" (or missing) and its .mid holds text that is not UTF-8, ' +
            "which GDAL passes through as it is, so it would be published garbled; set the " +
            "Charset line of the .mif to the code page it was written in (e.g. Charset " +
            '"WindowsLatin1", "WindowsCyrillic" or "UTF-8") and upload it again',
        );
      }
      if (info.driverShortName === "CSV") {
        const why = await csvProblem(scratch.toHost(staged.replace(/^CSV:/, "")));
        if (why !== undefined) return mismatch(why);
      }
      if (vrt && info.driverShortName === "OGR_VRT") {
        // The CSVs an OGR VRT reads (its usual use: points from X/Y columns), checked alike.
        const read = vrtSources(await Deno.readTextFile(host));
        for (const source of "sources" in read ? read.sources : []) {
          if (!/\.(csv|tsv|txt)$/i.test(source)) continue;
          const why = await csvProblem(path.join(path.dirname(host), source));
          if (why !== undefined) {
            return mismatch(`it reads the CSV '${source}', whose ${why.replace(/^its /, "")}`);
          }
        }
      }
      found = {
        vectorInfo: info,
        ...(openErrors.length > 0 ? { openErrors: said(openErrors) } : {}),
      };
    } else {
      const info = await scratch.gdal.rasterInfo(gdalPath, [], open);
      const driver = String(info.driverShortName ?? "");
      if (REFUSED_DRIVERS.has(driver) && !(vrt && driver === "VRT")) {
        return mismatch(`it is a ${driver} file, which may point outside the batch`);
      }
      if (vrt) {
        // GDAL's own list of what it opened, against the reading of _vrt.ts.
        const folder = gdalPath.slice(0, gdalPath.lastIndexOf("/") + 1);
        const outside = ((info.files ?? []) as unknown[]).map(String).filter((f) =>
          !f.startsWith(folder) || f.slice(folder.length).split("/").includes("..")
        );
        if (outside.length > 0) {
          return mismatch(
            `it is a VRT file that reads files outside the batch (${
              outside.slice(0, 3).join(", ")
            })`,
          );
        }
      }
      if (!drivers.includes(driver)) return mismatch(`GDAL reads it as ${driver || "unknown"}`);
      // GDAL reads the missing part of a classic netCDF as fill values, without a word.
      const cut = driver === "netCDF" && !gdalPath.startsWith("NETCDF:")
        ? await netcdfCutShort(scratch.toHost(gdalPath))
        : undefined;
      if (cut !== undefined) {
        return mismatch(
          `it is cut short: its header lays out ${cut.expected} bytes and the file has ` +
            `${cut.actual}, so GDAL would read the missing values as nodata; upload the whole ` +
            "file (it was probably cut off in transfer)",
        );
      }
      wkt = rasterWkt(info);
      found = {
        rasterInfo: info,
        ...(openErrors.length > 0 ? { openErrors: said(openErrors) } : {}),
      };
      const listed = subdatasetsOf(info);
      const bands = (info.bands as unknown[] | undefined)?.length ?? 0;
      const wanted = file.type === "raster" && file.subdataset !== undefined
        ? [file.subdataset].flat()
        : undefined;
      const pages = tiffPages(listed);
      if (wanted !== undefined && (listed.length === 0 || (bands > 0 && !pages))) {
        return mismatch(
          `it holds no subdatasets to pick ${
            wanted.map((w) => `'${w}'`).join(", ")
          } from (it is one dataset with ${bands} band${
            bands === 1 ? "" : "s"
          }); remove subdataset from the manifest`,
        );
      }
      if (listed.length > 0 && (bands === 0 || pages)) {
        const absent = (wanted ?? []).filter((w) =>
          !listed.some((s) => s.name === w || s.gdalPath === w)
        );
        if (absent.length > 0) {
          return mismatch(
            `it has no subdataset ${absent.map((w) => `'${w}'`).join(", ")} (it has ${
              listed.map((s) => `'${s.name}'`).join(", ")
            }); set subdataset to those to publish`,
          );
        }
        const picked = wanted === undefined
          ? listed
          : listed.filter((s) => wanted.includes(s.name) || wanted.includes(s.gdalPath));
        const subdatasets: RasterSubdataset[] = [];
        for (const s of picked) {
          // GDAL names a subdataset after the file it opened; any other file
          // named there would be read from outside the batch.
          if (!s.gdalPath.includes(gdalPath)) {
            return mismatch(`its subdataset '${s.name}' names another file (${s.gdalPath})`);
          }
          const sInfo = await scratch.gdal.rasterInfo(s.gdalPath, [], {
            label: `${file.path} (subdataset '${s.name}')`,
            openOptions,
          });
          const sCrs = await decideCrs(scratch, file, rasterWkt(sInfo));
          if ("code" in sCrs) {
            return { problem: { ...sCrs, message: `Subdataset '${s.name}': ${sCrs.message}` } };
          }
          subdatasets.push({ name: s.name, gdalPath: s.gdalPath, rasterInfo: sInfo, crs: sCrs });
        }
        found = { rasterInfo: info, subdatasets };
      }
    }
  } catch (error) {
    if (error instanceof GdalError && error.code === "spatial.codec_missing") {
      return { problem: { code: "codec_missing", message: error.message, file: file.path } };
    }
    if (!(error instanceof GdalError)) throw error;
    const has = scratch.gdal.hasDriver?.bind(scratch.gdal);
    if (has && drivers.length > 0 && !drivers.some(has)) {
      return { problem: driverMissing(file, drivers, error.gdalMessage) };
    }
    // GDAL 3.6 (the native engine) knows no '|' separator (3.7 and later, gdal3.js's, do).
    const header = csvHead?.split(/\r?\n/)[0] ?? "";
    if (header.includes("|") && !/[,;\t]/.test(header)) {
      return mismatch(
        "its columns are separated by '|', which this GDAL (3.6, the native engine) does not " +
          "read as " +
          "CSV (GDAL 3.7 and later do: GDAL_ENGINE=wasm); save it with commas or semicolons " +
          "and upload it again",
      );
    }
    // gdal3.js's CSV reading fails outright on EWKT (native GDAL reads the geometry as null).
    const ewkt = file.format === "csv" && /Unsupported WKB type/.test(error.gdalMessage)
      ? "; if its geometry column is EWKT ('SRID=4326;POINT (...)'), remove the 'SRID=n;' " +
        "prefix: GDAL reads plain WKT, and the CRS is the one declared"
      : "";
    // gdal3.js says nothing when no driver knows the bytes; native GDAL says "not recognized".
    const said = /^GDAL gave no reason$/.test(error.gdalMessage)
      ? "no GDAL driver recognizes its content: it may be damaged, or another kind of file"
      : error.gdalMessage;
    const remedy = ewkt !== ""
      ? ewkt
      : isFolderDataset(file)
      ? "; a file of the folder may be missing or cut off in transfer: upload every file " +
        `under '${file.path}/' again (or one zip of the folder)`
      : "; check that it is a complete file of the declared format (an upload cut off in " +
        "transfer?) and upload it again";
    return mismatch(`GDAL cannot open it as such (${said})${remedy}`);
  }
  const crs = await decideCrs(scratch, file, wkt);
  if ("code" in crs) return { problem: crs };
  return {
    ...found,
    crs,
    openOptions,
    gdalPath,
    ...(sourceCrs ? { sourceCrs } : {}),
    ...(kml ? { drivers: kml } : {}),
  };
}

/**
 * Stages the files of `type` of the batch and checks each against its
 * declared format and CRS before anything is written. Every problem found is
 * reported at once in a {@linkcode SpatialBatchError} carrying `problems`,
 * which the batch asset turns into a quarantine.
 */
export async function checkBatchContent(
  store: ObjectStore,
  bucket: string,
  batch: LoadedBatch,
  scratch: GdalScratch,
  type: "vector" | "raster",
  timings: Timings = new Timings(),
): Promise<Map<string, StagedFile>> {
  const staged = new Map<string, StagedFile>();
  const problems: ManifestProblem[] = [];
  let index = 0;
  for (const file of batch.manifest.files) {
    if (file.type !== type) continue;
    const folder = `in${index++}`;
    const stagedFile = await timings.time(
      "stage",
      () => stageFile(store, bucket, file, scratch, folder, batch.manifest.files),
    );
    const checked = await timings.time(
      "inspect",
      () => contentCheck(scratch, file, stagedFile.gdalPath),
    );
    if ("problem" in checked) problems.push(checked.problem);
    else staged.set(file.path, { ...stagedFile, ...checked });
  }
  if (problems.length > 0) {
    throw new SpatialBatchError(
      `spatial.${problems[0]!.code}`,
      `Cannot process batch '${batch.manifest.batch_id}': ${
        problems.map((p) => p.message).join(" ")
      }`,
      { input: `${bucket}/${batch.manifestKey}`, problems },
    );
  }
  return staged;
}

/**
 * Moves the landing files of `files` (with their sidecars) to `archive/`,
 * then the manifest once no file of the batch is left in the landing zone,
 * then removes the batch's emptied landing folder (`<batch_id>/`: the local
 * store's folders; the batch is finished, so no uploader writes there). Safe
 * to repeat after a crash half-way.
 */
export async function archiveFiles(
  store: ObjectStore,
  bucket: string,
  batch: LoadedBatch,
  files: readonly ManifestFile[],
): Promise<string[]> {
  const moved: string[] = [];
  for (const file of files) {
    for (const key of await keysOf(store, bucket, file, batch.manifest.files)) {
      if (await moveIfPresent(store, bucket, key, archiveKeyOf(key))) moved.push(key);
      crashPoint("archive.file", key);
    }
  }
  for (const file of batch.manifest.files) {
    if (await store.head(bucket, file.path) !== undefined) return moved;
  }
  if (!batch.archived) {
    const target = archivedManifestKey(batch.manifest.batch_id);
    if (await moveIfPresent(store, bucket, batch.manifestKey, target)) {
      moved.push(batch.manifestKey);
    }
    crashPoint("archive.manifest");
  }
  await store.removeEmptyFolders(bucket, `${batch.manifest.batch_id}/`);
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
