/**
 * The ingestion contract of spatial batches.
 *
 * Users upload files to `landing-zone/<batch_id>/...` and then commit
 * `landing-zone/manifests/<batch_id>.json`. The zod {@linkcode Manifest} schema
 * below is the contract; {@linkcode validateManifest} checks a committed
 * manifest against it and against the landing zone (paths stay in the batch
 * folder, every file exists), and {@linkcode quarantineManifest} sets a bad one
 * aside in `quarantine/` beside an error report a person can read.
 *
 * @example Validate, then quarantine a bad manifest
 * ```ts
 * import { MemoryObjectStore } from "../../resources/object_store/mod.ts";
 * import { quarantineManifest, validateManifest } from "./manifest.ts";
 * await using store = new MemoryObjectStore();
 * await store.ensureBucket("landing-zone");
 * await store.put("landing-zone", "manifests/b1.json", new TextEncoder().encode("{"));
 * const result = await validateManifest(store, "landing-zone", "manifests/b1.json");
 * if (!result.ok) await quarantineManifest(store, "landing-zone", "manifests/b1.json", result.problems);
 * ```
 *
 * @module
 */

import { z } from "zod";
import type { ObjectHead, ObjectStore } from "../../resources/object_store/types.ts";
import { PlatformError, toError } from "../../core/errors.ts";
import { clip, printable, quote } from "../../core/printable.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { closest, editDistance } from "../../core/suggest.ts";
import { Intent, INTENT_NAMES } from "./intents.ts";
import { duplicateJsonKey } from "../../formats/json_keys.ts";

/** Prefix of committed manifests in the landing zone. */
export const MANIFESTS_PREFIX = "manifests/";
/** Prefix where bad manifests and their error reports are set aside. */
export const QUARANTINE_PREFIX = "quarantine/";
/** Prefix where the files of processed batches are archived. */
export const ARCHIVE_PREFIX = "archive/";
/** Largest manifest read, so a stray huge object cannot exhaust memory. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Top-level landing-zone folders that can never be a batch id. */
const RESERVED_BATCH_IDS = new Set(["manifests", "quarantine", "archive"]);

/**
 * A batch id: lowercase letters, digits, `_` and `-`, 1 to 64 characters,
 * starting and ending with a letter or digit. It becomes a folder, a
 * partition key and part of SQL schema names, so it is kept this narrow.
 */
export const BATCH_ID_PATTERN = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;

/** A project slug, used as the first folder of the batch's outputs in the lake. */
const PROJECT_PATTERN = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;

/** A CRS given as `AUTHORITY:CODE`, e.g. `EPSG:4326` or `ESRI:102003`. */
const CRS_PATTERN = /^[A-Z][A-Z0-9]*:\d+$/;

/**
 * Vector formats known by a short name, each with the GDAL drivers that may
 * read it. Any other format GDAL reads is declared as `gdal:<DRIVER>` with
 * GDAL's short driver name (e.g. `gdal:OpenFileGDB`, `gdal:DXF`).
 */
export const VECTOR_DRIVERS = {
  shapefile: ["ESRI Shapefile"],
  geojson: ["GeoJSON", "GeoJSONSeq"],
  geopackage: ["GPKG"],
  flatgeobuf: ["FlatGeobuf"],
  gpx: ["GPX"],
  kml: ["KML", "LIBKML"],
  csv: ["CSV"],
  geoparquet: ["Parquet"],
  gml: ["GML"],
  filegdb: ["OpenFileGDB", "FileGDB"],
  mapinfo: ["MapInfo File"],
  dxf: ["DXF"],
  topojson: ["TopoJSON"],
  sqlite: ["SQLite"],
} as const satisfies Record<string, readonly string[]>;

/** Raster formats known by a short name (others as `gdal:<DRIVER>`). */
export const RASTER_DRIVERS = {
  geotiff: ["GTiff", "COG"],
  jpeg2000: ["JP2OpenJPEG", "JPEG2000", "JP2ECW", "JP2KAK"],
  png: ["PNG"],
  jpeg: ["JPEG"],
  netcdf: ["netCDF"],
  erdas_img: ["HFA"],
  ascii_grid: ["AAIGrid"],
  geopackage: ["GPKG"],
} as const satisfies Record<string, readonly string[]>;

/**
 * Drivers never accepted: their files can point at other files on the
 * machine (a VRT naming `/etc/passwd`), which would leave the batch folder.
 * VRTs are the exception (`gdal:VRT`, `gdal:OGR_VRT`, see {@linkcode VRT_FORMAT}
 * and {@linkcode OGR_VRT_FORMAT}).
 */
export const REFUSED_DRIVERS = new Set(["VRT", "OGR_VRT", "GTI", "WMS", "WFS", "HTTP", "OAPIF"]);

/**
 * The declared format of a raster VRT: published when every file it reads is
 * a file of its batch named relative to it (`_vrt.ts`), its sources staged,
 * archived and recorded with it.
 */
export const VRT_FORMAT = "gdal:VRT";

/**
 * The declared format of an OGR (vector) VRT: published when every file it
 * reads is a file of its batch named relative to it and it holds no SQL
 * (`_vrt.ts`), its sources staged, archived and recorded with it.
 */
export const OGR_VRT_FORMAT = "gdal:OGR_VRT";

/**
 * Drivers that hand a file to a sibling: GDAL opens an HDF4 or HDF5 file
 * holding one dataset with its `HDF4Image` / `HDF5Image` driver, so a file
 * declared `gdal:HDF5` is read by either.
 */
const DRIVER_FAMILIES: Record<string, readonly string[]> = {
  HDF4: ["HDF4", "HDF4Image"],
  HDF5: ["HDF5", "HDF5Image"],
};

/** Vector format names of {@linkcode VECTOR_DRIVERS}. */
export const VECTOR_FORMATS = Object.keys(VECTOR_DRIVERS) as (keyof typeof VECTOR_DRIVERS)[];
/** Raster format names of {@linkcode RASTER_DRIVERS}. */
export const RASTER_FORMATS = Object.keys(RASTER_DRIVERS) as (keyof typeof RASTER_DRIVERS)[];

const GDAL_FORMAT = /^gdal:[A-Za-z0-9_ -]{1,40}$/;

/** The GDAL drivers a declared format may be read by. */
export function driversOf(
  file: { type: "vector" | "raster"; format: string; path?: string },
): readonly string[] {
  if (file.format.startsWith("gdal:")) {
    const driver = file.format.slice(5);
    return DRIVER_FAMILIES[driver] ?? [driver];
  }
  // A KMZ (zipped KML) is read by LIBKML, unless its one KML is plain (_kml.ts, _batch.ts).
  if (file.type === "vector" && file.format === "kml" && /\.kmz$/i.test(file.path ?? "")) {
    return ["LIBKML"];
  }
  const table: Record<string, readonly string[]> = file.type === "vector"
    ? VECTOR_DRIVERS
    : RASTER_DRIVERS;
  return table[file.format] ?? [];
}

const format = (known: readonly string[], allowed: readonly string[] = []) =>
  z.string().refine((f) => known.includes(f) || GDAL_FORMAT.test(f), {
    error: `must be one of ${known.join(", ")}, or gdal:<GDAL driver short name>`,
  }).refine((f) => allowed.includes(f) || !REFUSED_DRIVERS.has(f.slice(5)), {
    error: "names a GDAL driver that may read files outside the batch (VRT, WMS...)" +
      (allowed.length > 0
        ? `; a VRT whose sources are in the batch is declared ${allowed.join(", ")}`
        : ""),
  });

/** GDAL open options (`NAME=VALUE`), e.g. `X_POSSIBLE_NAMES=lon` for a CSV. */
const OpenOptionsSchema = z.array(
  z.string().regex(/^[A-Z][A-Z0-9_]{0,63}=[^\n]{0,200}$/, {
    error: "must be NAME=VALUE with an upper-case GDAL option name",
  }),
).max(20);

/** A batch id (see {@linkcode BATCH_ID_PATTERN}). */
export const BatchId = z.string().regex(BATCH_ID_PATTERN, {
  error:
    "must be 1-64 lowercase letters, digits, '_' or '-', starting and ending with a letter or digit",
}).refine((id) => !RESERVED_BATCH_IDS.has(id), {
  error: `must not be one of the reserved folder names ${[...RESERVED_BATCH_IDS].join(", ")}`,
});

const nonEmpty = () => z.string().trim().min(1, { error: "must be a non-empty string" });
const crs = () =>
  z.string().regex(CRS_PATTERN, { error: "must be AUTHORITY:CODE, e.g. EPSG:4326" });

/** One vector file of a batch. */
export const VectorFile = z.strictObject({
  path: nonEmpty().describe("Landing-zone key, inside the batch folder"),
  type: z.literal("vector"),
  format: format(VECTOR_FORMATS, [OGR_VRT_FORMAT]),
  crs: crs().describe(
    "CRS of the file as uploaded: must agree with the file's own CRS, or is assigned to a " +
      "file without one; reprojected to TARGET_CRS",
  ),
  assign_crs: z.boolean().optional().describe(
    "Replace the file's own CRS with `crs` (GDAL's -a_srs) instead of checking that they " +
      "agree: for a file whose CRS is a local engineering grid or plainly wrong while its " +
      "coordinates are in `crs`",
  ),
  layer: nonEmpty().optional().describe("Layer to read from a multi-layer file (GeoPackage)"),
  open_options: OpenOptionsSchema.optional().describe(
    "GDAL open options; CSV files get X/Y and WKT column detection by default",
  ),
  sort: z.enum(["none", "hilbert"]).optional().describe(
    "Row order of the GeoParquet: as read, or along a Hilbert curve for spatial locality",
  ),
  allow_empty_geometries: z.boolean().optional().describe(
    "Publish EMPTY geometries (coordinates [] of any type, which GDAL reads as EMPTY, or as " +
      "NULL for a Point or Polygon) instead of quarantining the batch (NULL geometries are " +
      "always kept)",
  ),
});

/** One raster file of a batch. */
export const RasterFile = z.strictObject({
  path: nonEmpty().describe("Landing-zone key, inside the batch folder"),
  type: z.literal("raster"),
  format: format(RASTER_FORMATS, [VRT_FORMAT]),
  crs: crs().describe(
    "CRS of the raster as uploaded: must agree with the file's own, or is assigned to a " +
      "raster without one",
  ),
  assign_crs: z.boolean().optional().describe(
    "Replace the file's own CRS with `crs` (GDAL's -a_srs) instead of checking that they " +
      "agree: for a file whose CRS is a local engineering grid or plainly wrong while its " +
      "coordinates are in `crs`",
  ),
  open_options: OpenOptionsSchema.optional().describe("GDAL open options"),
  subdataset: z.union([nonEmpty(), z.array(nonEmpty()).min(1).max(100)]).optional().describe(
    "Subdataset(s) to publish from a file holding several (netCDF or HDF variables, by name, " +
      "e.g. 'temperature' or ['tas', 'pr']), a COG each; every one when omitted",
  ),
});

/** One file of a batch, vector or raster (told apart by `type`). */
export const ManifestFile = z.discriminatedUnion("type", [VectorFile, RasterFile]);

/** One file of a batch. */
export type ManifestFile = z.output<typeof ManifestFile>;

/**
 * Metadata of a batch: its project, a description, and any further fields
 * (but not a misspelling of these: {@linkcode validateManifest} refuses
 * `license`, `Title`, `titel`, which would leave the real key unset).
 */
export const ManifestMetadata = z.looseObject({
  project: z.string().regex(PROJECT_PATTERN, {
    error: "must be a slug: 1-64 lowercase letters, digits, '_' or '-'",
  }).refine((p) => p !== "stac", {
    error: "must not be 'stac', the lake folder of the STAC catalogue",
  }),
  description: nonEmpty(),
  title: nonEmpty().optional(),
  licence: nonEmpty().optional(),
});

/**
 * The manifest of a spatial batch: the single source of its shape. The
 * ledger's spatial metadata and any MongoDB `$jsonSchema` derive from it.
 */
export const Manifest = z.strictObject({
  batch_id: BatchId,
  uploader: nonEmpty().describe("Who uploaded the batch (name or e-mail)"),
  intent: Intent,
  files: z.array(ManifestFile).min(1, { error: "must list at least one file" }).max(1000),
  metadata: ManifestMetadata,
});

/** A validated manifest. */
export type Manifest = z.output<typeof Manifest>;

/** Stable codes of the problems a manifest can have. */
export const MANIFEST_PROBLEM_CODES = [
  "manifest_missing",
  "manifest_too_large",
  "malformed_json",
  "invalid_schema",
  "unknown_intent",
  "batch_id_mismatch",
  "path_outside_landing_zone",
  "path_outside_batch",
  "duplicate_path",
  "missing_file",
  "missing_sidecar",
  "content_mismatch",
  "unknown_crs",
  "crs_mismatch",
  "codec_missing",
  "invalid_geometry",
  "feature_count_mismatch",
  "processing_failed",
] as const;

/** One thing wrong with a manifest or with one of its files. */
export const ManifestProblem = z.strictObject({
  code: z.enum(MANIFEST_PROBLEM_CODES),
  message: z.string(),
  /** The manifest's `files[].path` concerned, when the problem is about one file. */
  file: z.string().optional(),
});

/** One thing wrong with a manifest or with one of its files. */
export type ManifestProblem = z.output<typeof ManifestProblem>;

/** The outcome of {@linkcode validateManifest}. */
export type ManifestValidation =
  | { ok: true; manifest: Manifest; etag: string }
  | { ok: false; batchId: string | undefined; problems: ManifestProblem[] };

/** A manifest could not be read or set aside for a reason other than its content. */
export class ManifestError extends PlatformError {}

/**
 * The batch id a manifest key names (`manifests/<batch_id>.json`), or
 * `undefined` when the key is not a manifest key.
 */
export function batchIdFromManifestKey(manifestKey: string): string | undefined {
  if (!manifestKey.startsWith(MANIFESTS_PREFIX) || !manifestKey.endsWith(".json")) {
    return undefined;
  }
  const stem = manifestKey.slice(MANIFESTS_PREFIX.length, -".json".length);
  return BatchId.safeParse(stem).success ? stem : undefined;
}

/** The landing-zone key of a batch's manifest. */
export function manifestKeyOf(batchId: string): string {
  return `${MANIFESTS_PREFIX}${batchId}.json`;
}

/**
 * Checks a committed manifest: JSON, schema (problems name the field path,
 * e.g. `files[2].crs`), intent, that its `batch_id` matches its key, that
 * every path stays in `<batch_id>/` inside the landing zone, and that every
 * file (and a Shapefile's `.shx`/`.dbf` sidecars) exists.
 *
 * Never throws for a bad manifest: every problem found is returned, so the
 * error report lists them all at once. Throws only when the store fails.
 */
export async function validateManifest(
  store: ObjectStore,
  bucket: string,
  manifestKey: string,
  options: ValidateManifestOptions = {},
): Promise<ManifestValidation> {
  const keyBatchId = batchIdFromManifestKey(manifestKey);
  const read = await readManifest(store, bucket, manifestKey);
  if ("problem" in read) return { ok: false, batchId: keyBatchId, problems: [read.problem] };

  let json: unknown;
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(read.bytes);
    json = JSON.parse(text);
  } catch (error) {
    // The parser quotes the text around the fault, control characters included.
    const reason = textProblem(read.bytes) ?? printable(toError(error).message);
    return {
      ok: false,
      batchId: keyBatchId,
      problems: [{
        code: "malformed_json",
        message: `Cannot parse manifest '${manifestKey}': ${reason}. Commit valid UTF-8 JSON.`,
      }],
    };
  }

  const twice = duplicateJsonKey(text);
  if (twice) {
    return {
      ok: false,
      batchId: keyBatchId,
      problems: [{
        code: "malformed_json",
        message:
          `Cannot parse manifest '${manifestKey}': key ${quote(twice.key)} appears twice in ` +
          `one object (line ${twice.line}); JSON readers keep only one of them, so which ` +
          "value counts is unclear. Remove the other and commit it again.",
      }],
    };
  }

  const declaredId = readDeclaredBatchId(json);
  const batchId = declaredId ?? keyBatchId;
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      batchId,
      problems: parsed.error.issues.map((issue) => schemaProblem(manifestKey, issue, json)),
    };
  }
  const manifest = parsed.data;
  const problems: ManifestProblem[] = [];
  if (manifest.batch_id !== keyBatchId) {
    problems.push({
      code: "batch_id_mismatch",
      message: `Manifest '${manifestKey}' declares batch_id '${manifest.batch_id}'; ` +
        `commit it as '${manifestKeyOf(manifest.batch_id)}' or fix batch_id.`,
    });
  }
  problems.push(...metadataProblems(manifestKey, manifest));
  problems.push(...pathProblems(manifestKey, manifest));
  if (problems.length === 0) {
    problems.push(...await fileProblems(store, bucket, manifest, options.alternateKey));
  }
  if (problems.length > 0) return { ok: false, batchId: manifest.batch_id, problems };
  return { ok: true, manifest, etag: read.etag };
}

/**
 * What makes `bytes` no UTF-8 text at all, said plainly: a UTF-16 file (an
 * editor's "Unicode") read as "Expected property name at position 1" or "The
 * encoded data is not valid", a NUL byte as a JSON syntax error.
 */
function textProblem(bytes: Uint8Array): string | undefined {
  const head = bytes.subarray(0, 64);
  const zeros = head.filter((b) => b === 0).length;
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    return "the file is UTF-16 text (it starts with a UTF-16 byte order mark)";
  }
  if (zeros * 3 >= head.length && zeros > 0) {
    return "the file is UTF-16 text (every other byte is zero)";
  }
  const nul = bytes.indexOf(0);
  if (nul === -1) return undefined;
  const line = bytes.subarray(0, nul).filter((b) => b === 0x0a).length + 1;
  return `line ${line} holds a NUL byte (offset ${nul}); remove it`;
}

/** Options of {@linkcode validateManifest}. */
export interface ValidateManifestOptions {
  /**
   * Where a listed file may also be found: the spatial assets pass the
   * archive, so a batch half archived by one asset still validates for the
   * other.
   *
   * @default {undefined, only the landing key itself}
   */
  alternateKey?: (key: string) => string;
}

/** Options of {@linkcode quarantineManifest}. */
export interface QuarantineOptions {
  /**
   * Clock of the report's `quarantined_at`.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /** Run that found the problems, recorded in the report. */
  runId?: string;
}

/**
 * Sets a bad manifest aside: writes `quarantine/<batch_id>.error.json` (the
 * problems, for which file) and then moves the manifest to
 * `quarantine/<batch_id>.json`, in that order so a manifest never vanishes
 * without its reason. The batch's uploaded files are left where they are.
 * When the batch id is unknown (an unreadable manifest under an odd name),
 * the manifest's file name stands in for it.
 *
 * Safe to repeat: a manifest already moved away only gets its report rewritten.
 */
export async function quarantineManifest(
  store: ObjectStore,
  bucket: string,
  manifestKey: string,
  problems: readonly ManifestProblem[],
  options: QuarantineOptions = {},
): Promise<{ manifestKey: string; reportKey: string }> {
  const name = quarantineName(manifestKey, problems);
  const target = `${QUARANTINE_PREFIX}${name}.json`;
  const reportKey = `${QUARANTINE_PREFIX}${name}.error.json`;
  const report = {
    batch_id: name,
    manifest_key: manifestKey,
    quarantined_key: target,
    quarantined_at: new Date((options.clock ?? systemClock).now()).toISOString(),
    ...(options.runId === undefined ? {} : { run_id: options.runId }),
    problems,
  };
  await store.put(
    bucket,
    reportKey,
    new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`),
    { contentType: "application/json" },
  );
  if (await store.head(bucket, manifestKey) !== undefined) {
    await store.move({ bucket, key: manifestKey }, { bucket, key: target });
  }
  return { manifestKey: target, reportKey };
}

// A name for the quarantined files: the batch id the manifest's key gives,
// else a sanitised file name, so a hostile key never shapes the target key.
function quarantineName(manifestKey: string, problems: readonly ManifestProblem[]): string {
  const fromKey = batchIdFromManifestKey(manifestKey);
  if (fromKey !== undefined) return fromKey;
  const base = manifestKey.split("/").pop() ?? "manifest";
  const cleaned = base.replace(/\.json$/i, "").toLowerCase().replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 64);
  // Keep the report traceable even when the name was mangled.
  return cleaned === "" ? `unnamed-${problems.length}` : cleaned;
}

async function readManifest(
  store: ObjectStore,
  bucket: string,
  key: string,
): Promise<{ bytes: Uint8Array; etag: string } | { problem: ManifestProblem }> {
  const head = await store.head(bucket, key);
  if (head === undefined) {
    return {
      problem: {
        code: "manifest_missing",
        message: `Cannot load manifest '${key}': it is no longer in bucket '${bucket}'.`,
      },
    };
  }
  if (head.size > MAX_MANIFEST_BYTES) {
    return {
      problem: {
        code: "manifest_too_large",
        message: `Cannot load manifest '${key}': it is ${head.size} bytes, over the ` +
          `${MAX_MANIFEST_BYTES} byte limit. List fewer files per batch.`,
      },
    };
  }
  const got = await store.get(bucket, key);
  const bytes = new Uint8Array(await new Response(got.body).arrayBuffer());
  return { bytes, etag: got.etag };
}

function readDeclaredBatchId(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const id = (json as Record<string, unknown>).batch_id;
  return typeof id === "string" && BatchId.safeParse(id).success ? id : undefined;
}

/** `files[2].crs` from a zod issue path. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** The keys an object at `path` of a manifest may have (a file's: either type's). */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(Manifest.shape);
  if (path[0] === "files") {
    return [...new Set([...Object.keys(VectorFile.shape), ...Object.keys(RasterFile.shape)])];
  }
  return [];
}

/** ` (did you mean 'x'?)` for a key near one of `known`, else nothing. */
function didYouMean(key: string, known: readonly string[]): string {
  const near = known.find((k) => k === key.toLowerCase()) ?? closest(key, known);
  return near === undefined ? "" : ` (did you mean '${near}'?)`;
}

/** Whether the object holding `path` in `json` lacks its last key. */
function isAbsent(json: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = json;
  for (const part of path.slice(0, -1)) {
    if (typeof at !== "object" || at === null) return false;
    at = (at as Record<PropertyKey, unknown>)[part];
  }
  const last = path[path.length - 1];
  return last !== undefined && typeof at === "object" && at !== null && !Array.isArray(at) &&
    !Object.hasOwn(at, last);
}

function schemaProblem(
  manifestKey: string,
  issue: z.core.$ZodIssue,
  json: unknown,
): ManifestProblem {
  const where = formatIssuePath(issue.path);
  const missing = issue.code !== "unrecognized_keys" && isAbsent(json, issue.path);
  if (issue.path.length === 1 && issue.path[0] === "intent") {
    return {
      code: "unknown_intent",
      message: `Cannot load manifest '${manifestKey}': intent is ${
        missing ? "missing" : "not known"
      }; use one of ${INTENT_NAMES.join(", ")}.`,
    };
  }
  if (issue.code === "unrecognized_keys") {
    // A typo ('intnet', 'crss') must not pass silently, and should say what was meant.
    const known = knownKeysAt(issue.path);
    const keys = issue.keys.map((key) => `${quote(clip(key, 100))}${didYouMean(key, known)}`);
    return {
      code: "invalid_schema",
      message: `Cannot load manifest '${manifestKey}': ${where} has unknown key(s) ` +
        `${keys.join(", ")}; the keys it takes are ${known.join(", ")}.`,
    };
  }
  if (missing) {
    return {
      code: "invalid_schema",
      message: `Cannot load manifest '${manifestKey}': ${where} is missing (required).`,
    };
  }
  return {
    code: "invalid_schema",
    message: `Cannot load manifest '${manifestKey}': ${where} ${issue.message}`,
  };
}

/** The metadata keys the platform reads; any other is kept as the uploader's own. */
const METADATA_KEYS = Object.keys(ManifestMetadata.shape);

/**
 * Metadata keys that are a misspelling of one the platform reads (`license`,
 * `Title`, `titel`): kept as free fields, they would silently leave the real
 * one unset. A key is a misspelling when it equals a known one but for case,
 * or (5 characters and more) differs by one edit or two swapped neighbours.
 */
function metadataProblems(manifestKey: string, manifest: Manifest): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const key of Object.keys(manifest.metadata)) {
    if (METADATA_KEYS.includes(key)) continue;
    const meant = METADATA_KEYS.find((known) => isMisspelling(key, known));
    if (meant === undefined) continue;
    problems.push({
      code: "invalid_schema",
      message: `Cannot load manifest '${manifestKey}': metadata.${key} looks like a ` +
        `misspelling of metadata.${meant}, which would stay unset; rename it '${meant}'.`,
    });
  }
  return problems;
}

function isMisspelling(key: string, known: string): boolean {
  if (key.toLowerCase() === known) return true;
  if (key.length < 5 || Math.abs(key.length - known.length) > 1) return false;
  if (editDistance(key.toLowerCase(), known) <= 1) return true;
  if (key.length !== known.length) return false;
  const diff = [...key.toLowerCase()].flatMap((c, i) => (c === known[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === diff[0]! + 1 &&
    key.toLowerCase()[diff[0]!] === known[diff[1]!] &&
    key.toLowerCase()[diff[1]!] === known[diff[0]!];
}

function pathProblems(manifestKey: string, manifest: Manifest): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const seen = new Set<string>();
  const composed = new Map<string, { path: string; index: number }>();
  manifest.files.forEach((file, index) => {
    const escape = landingPathProblem(file.path);
    const field = `files[${index}].path`;
    if (escape !== undefined) {
      problems.push({
        code: "path_outside_landing_zone",
        message: `Cannot load manifest '${manifestKey}': ${field} ${escape}`,
        file: file.path,
      });
    } else if (!file.path.startsWith(`${manifest.batch_id}/`)) {
      problems.push({
        code: "path_outside_batch",
        message: `Cannot load manifest '${manifestKey}': ${field} leaves the batch folder; ` +
          `upload it under '${manifest.batch_id}/'.`,
        file: file.path,
      });
    } else if (seen.has(file.path)) {
      problems.push({
        code: "duplicate_path",
        message: `Cannot load manifest '${manifestKey}': ${field} lists '${file.path}' twice.`,
        file: file.path,
      });
    } else if (composed.has(file.path.normalize("NFC"))) {
      // Two keys that print alike ('café' composed and decomposed): both were published, as
      // 'caf_' and 'caf__geojson', and which upload was meant could not be told.
      const first = composed.get(file.path.normalize("NFC"))!;
      problems.push({
        code: "duplicate_path",
        message:
          `Cannot load manifest '${manifestKey}': ${field} '${file.path}' and files[${first.index}].path '${first.path}' are one name written two ways (one with composed accents, ` +
          "NFC, the other decomposed, NFD, as macOS writes names): they look the same " +
          "everywhere. Keep one: list it once and delete the other upload.",
        file: file.path,
      });
    }
    seen.add(file.path);
    if (!composed.has(file.path.normalize("NFC"))) {
      composed.set(file.path.normalize("NFC"), { path: file.path, index });
    }
  });
  return problems;
}

// Control characters are exactly what this must find in a path.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The longest object key S3 takes, in UTF-8 bytes. */
const MAX_PATH_BYTES = 1024;

/** Why a manifest path could reach outside the landing zone, or `undefined` if it cannot. */
function landingPathProblem(path: string): string | undefined {
  // S3's (and the local store's) limit on a key: a longer path can never have been uploaded,
  // and was reported as 'not a valid landing-zone key' with the whole path echoed.
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_PATH_BYTES) {
    return `is ${bytes} bytes long, over the ${MAX_PATH_BYTES}-byte limit of an object key; ` +
      "use a shorter name";
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) return "is a URL or drive path, not a landing-zone key";
  if (path.startsWith("/")) return "is an absolute path";
  if (path.includes("\\")) return "contains a backslash";
  if (CONTROL.test(path)) return "contains a control character";
  // Bidi overrides and marks, zero-width spaces, BOMs (U+202E shows 'b1/\u202Egeojson.exe' as
  // 'b1/exe.nosjoeg'): a key that does not read as it is stored. Not the zero-width (non-)
  // joiners, which Persian and emoji names need.
  const invisible = /[\u200B\u200E\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/.exec(path)?.[0];
  if (invisible !== undefined) {
    const code = invisible.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `contains the invisible formatting character U+${code}; remove it`;
  }
  for (const segment of path.split("/")) {
    if (segment === "..") return "climbs out with '..'";
    if (segment === "." || segment === "") return "contains an empty or '.' folder name";
  }
  return undefined;
}

/**
 * Whether `file` names a folder dataset that is uploaded as the files of
 * its folder: an ArcGIS File Geodatabase (`parcels.gdb/`, as a browser or
 * `aws s3 cp --recursive` uploads it), declared `filegdb` or
 * `gdal:OpenFileGDB`. Its landing keys are every object under the folder.
 */
export function isFolderDataset(file: { type: string; format: string; path: string }): boolean {
  return file.type === "vector" && /\.gdb$/i.test(file.path) &&
    ["filegdb", "gdal:OpenFileGDB", "gdal:FileGDB"].includes(file.format);
}

/** Sidecars a Shapefile cannot be read without. */
const SHAPEFILE_SIDECARS = [".shx", ".dbf"] as const;

async function fileProblems(
  store: ObjectStore,
  bucket: string,
  manifest: Manifest,
  alternateKey: ((key: string) => string) | undefined,
): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  let uploaded: string[] | undefined;
  const exists = async (key: string) =>
    await store.head(bucket, key) !== undefined ||
    (alternateKey !== undefined && await store.head(bucket, alternateKey(key)) !== undefined);
  for (const file of manifest.files) {
    let head = await headOrInvalid(store, bucket, file.path);
    if (head === undefined && alternateKey !== undefined) {
      head = await store.head(bucket, alternateKey(file.path));
    }
    if (head === "invalid") {
      problems.push({
        code: "path_outside_landing_zone",
        message: `File '${file.path}' of batch '${manifest.batch_id}' is not a valid ` +
          `landing-zone key; rename it with plain '/'-separated names.`,
        file: file.path,
      });
      continue;
    }
    if (head === undefined) {
      uploaded ??= await keysUnder(store, bucket, `${manifest.batch_id}/`);
      // A folder uploaded as its files (an ArcGIS File Geodatabase, `parcels.gdb/`):
      // it will never arrive as one object, so waiting for it would only delay the answer.
      const inside = uploaded.filter((key) => key.startsWith(`${file.path}/`)).length;
      // A File Geodatabase uploaded as its folder is staged as that folder (_batch.ts keysOf).
      if (
        isFolderDataset(file) && (inside > 0 ||
          (alternateKey !== undefined &&
            (await keysUnder(store, bucket, `${alternateKey(file.path)}/`)).length > 0))
      ) {
        continue;
      }
      if (inside > 0) {
        problems.push({
          code: "content_mismatch",
          message: `File '${file.path}' of batch '${manifest.batch_id}' is a folder of ${inside} ` +
            `file${inside === 1 ? "" : "s"} in the landing zone, not a file; upload a folder ` +
            `format as one zip of the folder (zip -r ${folderName(file.path)}.zip ` +
            `${folderName(file.path)}) and list the zip; a File Geodatabase folder (.gdb) is ` +
            "read as it is when declared format filegdb or gdal:OpenFileGDB.",
          file: file.path,
        });
        continue;
      }
      problems.push({
        code: "missing_file",
        message: `File '${file.path}' of batch '${manifest.batch_id}' is not in the landing ` +
          `zone; ${
            spelledOtherwise(file.path, uploaded) ?? "upload it before committing the manifest."
          }`,
        file: file.path,
      });
      continue;
    }
    if (file.format === "shapefile" && /\.shp$/i.test(file.path)) {
      for (const sidecar of SHAPEFILE_SIDECARS) {
        const key = file.path.replace(/\.shp$/i, sidecar);
        if (await hasSidecar(exists, key)) continue;
        problems.push({
          code: "missing_sidecar",
          message: `Shapefile '${file.path}' of batch '${manifest.batch_id}' has no '${sidecar}' ` +
            `beside it; upload '${key}' (or a .zip of the whole Shapefile).`,
          file: file.path,
        });
      }
    }
  }
  return problems;
}

/** The last name of a landing key (`b/parcels.gdb` -> `parcels.gdb`). */
const folderName = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/** Keys under `prefix`, at most 10,000 (enough to find a near spelling). */
async function keysUnder(store: ObjectStore, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.listAll(bucket, { prefix })) {
    keys.push(object.key);
    if (keys.length >= 10_000) break;
  }
  return keys;
}

/**
 * What to do when the manifest names a file that was uploaded under another
 * spelling of the same name: letter case, or accents composed differently
 * (macOS writes names decomposed, NFD; most tools compose them, NFC), which
 * look identical in every message.
 */
function spelledOtherwise(path: string, uploaded: readonly string[]): string | undefined {
  const nfc = path.normalize("NFC");
  const same = uploaded.find((key) => key !== path && key.normalize("NFC") === nfc);
  if (same !== undefined) {
    const form = (
      text: string,
    ) => (text === text.normalize("NFC") ? "composed (NFC)" : "decomposed (NFD)");
    return `'${same}' was uploaded, which looks the same but encodes its accented letters ` +
      `${form(same)} where the manifest's are ${form(path)}: write the path in the manifest ` +
      "as the uploaded key spells it (or upload the file again under the manifest's name).";
  }
  // 'b1/my%20roads.geojson' for the key 'b1/my roads.geojson': the name copied from a URL.
  let decoded: string | undefined;
  try {
    decoded = /%[0-9A-Fa-f]{2}/.test(path) ? decodeURIComponent(path) : undefined;
  } catch {
    decoded = undefined; // not valid percent-encoding: no decoded spelling to offer
  }
  if (decoded !== undefined && decoded !== path && uploaded.includes(decoded)) {
    return `'${decoded}' was uploaded: the manifest's path is percent-encoded (as in a URL); ` +
      "write it as the uploaded key spells it.";
  }
  const lower = nfc.toLowerCase();
  const cased = uploaded.find((key) => key.normalize("NFC").toLowerCase() === lower);
  if (cased !== undefined) {
    return `'${cased}' was uploaded, whose name differs in letter case (keys are ` +
      "case-sensitive): write the path in the manifest exactly as uploaded.";
  }
  return undefined;
}

// A key the store itself rejects (too long, reserved name) is a path problem, not a crash.
async function headOrInvalid(
  store: ObjectStore,
  bucket: string,
  key: string,
): Promise<ObjectHead | undefined | "invalid"> {
  try {
    return await store.head(bucket, key);
  } catch (error) {
    if (error instanceof PlatformError && error.code === "object_store.invalid_key") {
      return "invalid";
    }
    throw error;
  }
}

// Sidecar extensions come in either case from desktop GIS tools.
async function hasSidecar(
  exists: (key: string) => Promise<boolean>,
  key: string,
): Promise<boolean> {
  if (await exists(key)) return true;
  const dot = key.lastIndexOf(".");
  const upper = key.slice(0, dot) + key.slice(dot).toUpperCase();
  return upper !== key && await exists(upper);
}
