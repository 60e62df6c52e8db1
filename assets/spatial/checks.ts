/**
 * Checks of the spatial assets, run after each batch partition is
 * materialised: `geoparquet_valid` and `cog_valid` (blocking) verify every
 * output object against its ledger document and its format's rules;
 * `lineage_complete` (blocking) verifies the lineage both ways: a batch whose
 * outputs lack their lineage (e.g. an S3 server that dropped an object's
 * `mongodb_doc_id`) is not archived, so it stays pending for a re-run.
 *
 * Each check reads the outputs of the materialization it checks (its
 * `outputs[].key` and `outputs[].ledger_id`), streams objects to hash them and
 * reads only the headers and footers it needs, so memory stays bounded
 * whatever the object size.
 *
 * @example Attach to an asset
 * ```ts
 * import { rasterChecks, vectorChecks } from "./checks.ts";
 * // asset({ key: "spatial/vector_geoparquet", resources: ["config", "lake", "ledger"],
 * //   checks: vectorChecks, ... })
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { z } from "zod";
import type { CheckContext, CheckResult, CheckSpec } from "../../core/asset.ts";
import { PlatformError } from "../../core/errors.ts";
import type { AppResources } from "../../resources/app.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import { type ByteReader, cachedReader } from "../../formats/byte_reader.ts";

/** A spatial check cannot run at all (as opposed to finding a problem). */
export class SpatialCheckError extends PlatformError {}

/** Resources the spatial checks use. */
export type SpatialCheckResources = Pick<AppResources, "lake" | "ledger">;

/** The part of a spatial asset's materialization metadata the checks read. */
const Outputs = z.looseObject({
  outputs: z.array(z.looseObject({ key: z.string().min(1), ledger_id: z.string().min(1) })),
});

const GEOMETRY_TYPE =
  /^(Point|LineString|Polygon|MultiPoint|MultiLineString|MultiPolygon|GeometryCollection)( Z)?$/;

/** A covering column's field (`["bbox", "xmin"]`): the struct, then the field the spec names. */
const coveringPath = (field: string) =>
  z.tuple([
    z.string().min(1),
    z.literal(field, { error: `must name the struct's field '${field}'` }),
  ]);

/**
 * One column of the GeoParquet 1.1 `geo` metadata: the rules of the
 * specification's JSON schema (format-specs/schema.json of 1.1.0), but
 * `encoding`, which this platform writes as WKB only, and the PROJJSON
 * schema of `crs`, of which only the object and its `type` are checked.
 */
const GeoColumn = z.looseObject({
  encoding: z.literal("WKB", { error: "encoding must be 'WKB'" }),
  geometry_types: z.array(
    z.string().regex(GEOMETRY_TYPE, { error: "must be a GeoParquet geometry type" }),
  ).refine((types) => new Set(types).size === types.length, {
    error: "must not list a type twice",
  }),
  crs: z.looseObject({ type: z.string().min(1) }, {
    error: "must be a PROJJSON object (with a 'type') or null",
  }).nullable().optional(),
  edges: z.enum(["planar", "spherical"], { error: "must be 'planar' or 'spherical'" }).optional(),
  orientation: z.literal("counterclockwise", { error: "must be 'counterclockwise'" }).optional(),
  bbox: z.array(z.number()).refine((b) => b.length === 4 || b.length === 6, {
    error: "must hold 4 numbers (or 6 for 3D)",
  }).optional(),
  epoch: z.number({ error: "must be a number (a decimal year)" }).optional(),
  covering: z.looseObject({
    bbox: z.looseObject({
      xmin: coveringPath("xmin"),
      ymin: coveringPath("ymin"),
      xmax: coveringPath("xmax"),
      ymax: coveringPath("ymax"),
    }),
  }).optional(),
});

/** The GeoParquet 1.1 `geo` file metadata. */
export const GeoParquetMetadata = z.looseObject({
  version: z.literal("1.1.0", { error: "must be '1.1.0'" }),
  primary_column: z.string().min(1),
  columns: z.record(z.string().min(1), GeoColumn).refine((c) => Object.keys(c).length > 0, {
    error: "must describe at least one geometry column",
  }),
});

/** The GeoParquet 1.1 `geo` file metadata. */
export type GeoParquetMetadata = z.output<typeof GeoParquetMetadata>;

/** A problem found with one output. */
interface Problem {
  key: string;
  problem: string;
}

type Inspect = (
  lake: ObjectStore,
  doc: LedgerDocument,
) => Promise<{ problems: string[]; facts?: Record<string, number | string | boolean> }>;

const BYTE_ARRAY = "BYTE_ARRAY";

/** Ranged reads of a ledger document's object. */
function objectReader(lake: ObjectStore, doc: LedgerDocument): ByteReader {
  return (offset, length) =>
    offset >= doc.size || length <= 0
      ? Promise.resolve(new Uint8Array())
      : lake.getBytes(doc.bucket, doc.key, {
        range: { start: offset, end: Math.min(offset + length, doc.size) - 1 },
      });
}

/** Streams the object to hash it; compares with the ledger's size and SHA-256. */
async function verifyContent(lake: ObjectStore, doc: LedgerDocument): Promise<string[]> {
  const object = await lake.get(doc.bucket, doc.key);
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of object.body) {
    hash.update(chunk);
    size += chunk.length;
  }
  const sha256 = hash.digest("hex");
  const problems: string[] = [];
  if (size !== doc.size) problems.push(`its size ${size} differs from the ledger's ${doc.size}`);
  if (sha256 !== doc.sha256) {
    problems.push(`its sha256 ${sha256} does not match the ledger's ${doc.sha256}`);
  }
  return problems;
}

/** The problems of a GeoParquet `geo` metadata against its schema; empty when valid. */
export function geoProblems(
  raw: string | undefined,
  columns: { name: string; physicalType: string | undefined; children: { name: string }[] }[],
): string[] {
  if (raw === undefined) return ["its Parquet footer has no 'geo' key-value metadata"];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    return [`its 'geo' metadata is not JSON: ${(error as Error).message}`];
  }
  const parsed = GeoParquetMetadata.safeParse(json);
  if (!parsed.success) {
    return parsed.error.issues.map((i) => `geo.${i.path.join(".")}: ${i.message}`);
  }
  const geo = parsed.data;
  const problems: string[] = [];
  const byName = new Map(columns.map((c) => [c.name, c]));
  if (geo.columns[geo.primary_column] === undefined) {
    problems.push(`geo.primary_column '${geo.primary_column}' is not described in geo.columns`);
  }
  for (const [name, column] of Object.entries(geo.columns)) {
    const field = byName.get(name);
    if (field === undefined) {
      problems.push(`geo.columns.${name}: the column is not in the Parquet schema`);
    } else if (field.physicalType !== BYTE_ARRAY) {
      problems.push(`geo.columns.${name}: the column is not a binary (WKB) column`);
    }
    const box = column.covering?.bbox;
    for (const part of ["xmin", "ymin", "xmax", "ymax"] as const) {
      if (box === undefined) break;
      const [struct, child] = box[part];
      const target = byName.get(struct);
      if (!target?.children.some((c) => c.name === child)) {
        problems.push(
          `geo.columns.${name}.covering.bbox.${part}: the struct field '${struct}.${child}' ` +
            "is not in the Parquet schema",
        );
      }
    }
  }
  return problems;
}

// The readers (hyparquet, geotiff.js) load on first use: a batch without
// rasters never needs geotiff.js, and a process that never checks needs neither.
const inspectGeoParquet: Inspect = async (lake, doc) => {
  const { readParquetMetadata } = await import("../../formats/parquet_metadata.ts");
  const footer = await readParquetMetadata(objectReader(lake, doc), doc.size);
  const problems = geoProblems(footer.keyValue.get("geo"), footer.columns);
  const expected = doc.metadata.feature_count;
  if (typeof expected !== "number") {
    problems.push("its ledger document has no feature_count to compare the rows with");
  } else if (footer.numRows !== expected) {
    problems.push(`it has ${footer.numRows} rows but the ledger's feature_count is ${expected}`);
  }
  return { problems, facts: { rows: footer.numRows, footer_bytes: footer.footerBytes } };
};

const inspectCog: Inspect = async (lake, doc) => {
  const { cogProblems, readTiffStructure } = await import("../../formats/tiff_structure.ts");
  const read = cachedReader(objectReader(lake, doc));
  const tiff = await readTiffStructure(read, doc.size);
  const overviews = tiff.ifds.filter((ifd) => (ifd.subfileType & 0b101) === 1).length;
  return {
    problems: cogProblems(tiff),
    facts: { ifds: tiff.ifds.length, overviews, tile_width: tiff.ifds[0]?.tileWidth ?? 0 },
  };
};

function outputsOf(ctx: CheckContext<SpatialCheckResources>) {
  const parsed = Outputs.safeParse(ctx.materialization.metadata);
  if (!parsed.success) {
    throw new SpatialCheckError(
      "spatial.check_no_outputs",
      `Cannot check '${ctx.assetKey}' partition '${ctx.partitionKey}': its materialization ` +
        "metadata has no outputs[{key, ledger_id}] list; materialise it again.",
      { assetKey: ctx.assetKey },
    );
  }
  return parsed.data.outputs;
}

/** Loads the ledger document of an output, or says why it cannot be used. */
async function documentOf(
  ctx: CheckContext<SpatialCheckResources>,
  output: { key: string; ledger_id: string },
): Promise<LedgerDocument | string> {
  let doc: LedgerDocument;
  try {
    doc = await ctx.resources.ledger.get(output.ledger_id);
  } catch (error) {
    return `its ledger document '${output.ledger_id}' cannot be read: ${(error as Error).message}`;
  }
  if (doc.key !== output.key) return `its ledger document points at '${doc.key}' instead`;
  return doc;
}

function describe(problems: Problem[], checked: number, what: string): CheckResult {
  const lines = problems.map((p) => `'${p.key}': ${p.problem}`);
  return {
    passed: problems.length === 0,
    metadata: { outputs: checked, problems: lines },
    ...(problems.length > 0
      ? { description: `${problems.length} problem(s) in ${what}: ${lines.join("; ")}` }
      : {}),
  };
}

/** Runs `inspect` on every output, after checking it exists and matches its ledger hash. */
async function checkObjects(
  ctx: CheckContext<SpatialCheckResources>,
  inspect: Inspect,
  what: string,
): Promise<CheckResult> {
  const outputs = outputsOf(ctx);
  const problems: Problem[] = [];
  const facts: Record<string, Record<string, number | string | boolean>> = {};
  for (const output of outputs) {
    const add = (problem: string) => problems.push({ key: output.key, problem });
    const doc = await documentOf(ctx, output);
    if (typeof doc === "string") {
      add(doc);
      continue;
    }
    if ((await ctx.resources.lake.head(doc.bucket, doc.key)) === undefined) {
      add(`the object is missing from bucket '${doc.bucket}'`);
      continue;
    }
    const content = await verifyContent(ctx.resources.lake, doc);
    content.forEach(add);
    try {
      const result = await inspect(ctx.resources.lake, doc);
      result.problems.forEach(add);
      if (result.facts) facts[output.key] = result.facts;
    } catch (error) {
      // The readers throw RangeError for bytes that break their format; any
      // other error (an unreachable store...) is not a finding about the object.
      if (!(error instanceof RangeError)) throw error;
      add(`it cannot be read: ${error.message}`);
    }
  }
  const result = describe(problems, outputs.length, what);
  return { ...result, metadata: { ...result.metadata, objects: facts } };
}

/**
 * Blocking: each GeoParquet output exists, matches its ledger SHA-256, and
 * its footer's `geo` metadata is valid GeoParquet 1.1 (version, primary
 * column in the schema, WKB, geometry types, PROJJSON CRS, bbox, covering
 * bbox pointing at struct fields of the schema), with the ledger's row count.
 */
export const geoparquetValid: CheckSpec<SpatialCheckResources> = {
  name: "geoparquet_valid",
  description: "Every GeoParquet output is intact and valid GeoParquet 1.1 with the ledger's rows",
  severity: "error",
  blocking: true,
  run: (ctx) => checkObjects(ctx, inspectGeoParquet, "the GeoParquet outputs"),
};

/**
 * Blocking: each raster output exists, matches its ledger SHA-256, and is a
 * Cloud Optimized GeoTIFF: tiled, GDAL's COG layout, overviews when larger
 * than one tile.
 */
export const cogValid: CheckSpec<SpatialCheckResources> = {
  name: "cog_valid",
  description: "Every raster output is intact and a tiled COG with overviews",
  severity: "error",
  blocking: true,
  run: (ctx) => checkObjects(ctx, inspectCog, "the COG outputs"),
};

const Sha256 = /^[0-9a-f]{64}$/;

/** The lineage gaps of one ledger document and its object's user metadata. */
function lineageGaps(
  doc: LedgerDocument,
  objectDocId: string | undefined,
  batchId: string | undefined,
): string[] {
  const gaps: string[] = [];
  const m = doc.metadata;
  if (!doc.run_id) gaps.push("its ledger document has no run_id");
  if (!doc.batch_id) gaps.push("its ledger document has no batch_id");
  else if (batchId !== undefined && doc.batch_id !== batchId) {
    gaps.push(`its ledger document's batch_id '${doc.batch_id}' is not the batch '${batchId}'`);
  }
  const sources = m.source_files;
  if (!Array.isArray(sources) || sources.length === 0) {
    gaps.push("its ledger document lists no source_files");
  } else {
    sources.forEach((s, i) => {
      const source = s as { key?: unknown; sha256?: unknown } | null;
      if (typeof source?.key !== "string" || source.key === "") {
        gaps.push(`source_files[${i}] has no key`);
      }
      if (typeof source?.sha256 !== "string" || !Sha256.test(source.sha256)) {
        gaps.push(`source_files[${i}] has no sha256`);
      }
    });
  }
  if (typeof m.crs !== "string" || m.crs === "") gaps.push("its ledger document has no crs");
  const bbox = m.bbox;
  const validBox = Array.isArray(bbox) && bbox.length === 4 &&
    bbox.every((v) => typeof v === "number" && Number.isFinite(v));
  // Only an output with no features may have no extent.
  if (!validBox && !(bbox === null && m.feature_count === 0)) {
    gaps.push("its ledger document has no bbox of 4 numbers");
  }
  if (objectDocId === undefined) {
    gaps.push("the object has no mongodb_doc_id user metadata");
  } else if (objectDocId !== doc.id) {
    gaps.push(`the object's mongodb_doc_id '${objectDocId}' is not its ledger id '${doc.id}'`);
  }
  return gaps;
}

/**
 * Blocking: every output's ledger document has run id, batch, source files
 * with SHA-256, CRS and bbox, and the object's user metadata `mongodb_doc_id`
 * is that document's id. A failure stops `spatial/batch_archive`: a batch
 * whose lineage is broken is never archived as done (#15 item 12).
 */
export const lineageComplete: CheckSpec<SpatialCheckResources> = {
  name: "lineage_complete",
  description: "Every output and its ledger document point at each other with complete lineage",
  severity: "error",
  blocking: true,
  run: async (ctx) => {
    const outputs = outputsOf(ctx);
    const problems: Problem[] = [];
    for (const output of outputs) {
      const doc = await documentOf(ctx, output);
      if (typeof doc === "string") {
        problems.push({ key: output.key, problem: doc });
        continue;
      }
      const head = await ctx.resources.lake.head(doc.bucket, doc.key);
      const gaps = head === undefined
        ? [`the object is missing from bucket '${doc.bucket}'`]
        : lineageGaps(doc, head.metadata.mongodb_doc_id, ctx.partitionKey);
      for (const problem of gaps) problems.push({ key: output.key, problem });
    }
    return describe(problems, outputs.length, "the lineage");
  },
};

/** Checks of `spatial/vector_geoparquet`. */
export const vectorChecks: readonly CheckSpec<SpatialCheckResources>[] = [
  geoparquetValid,
  lineageComplete,
];

/** Checks of `spatial/raster_cog`. */
export const rasterChecks: readonly CheckSpec<SpatialCheckResources>[] = [
  cogValid,
  lineageComplete,
];
