/**
 * A STAC catalogue of the lake (STAC 1.0.0), kept up to date by the archive
 * step of each batch: one Item per published GeoParquet or COG, one
 * Collection per project, one root Catalog, all relative links, under
 * `stac/` in the lake bucket:
 *
 *     stac/catalog.json
 *     stac/<project>/collection.json
 *     stac/<project>/<batch>/<output>.json      (Items)
 *
 * Items carry the projection (`proj:epsg`), file (`file:checksum` as a
 * SHA-256 multihash and `file:size`, from the ledger), and raster
 * (`raster:bands`) or table (`table:columns`, `table:row_count`) extensions;
 * their `data` asset's href points at the object. The ISO 19115-style block
 * stays in the ledger. Every STAC object is itself recorded in the ledger
 * (format `stac`), so the lake never holds an object without lineage.
 *
 * @module
 */

import { createHash } from "node:crypto";
import path from "node:path";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";

/** STAC version written. */
export const STAC_VERSION = "1.0.0";
/** Where the catalogue lives in the lake bucket. */
export const STAC_PREFIX = "stac/";

/** Extension schemas used, by name. */
export const STAC_EXTENSIONS = {
  projection: "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
  file: "https://stac-extensions.github.io/file/v2.1.0/schema.json",
  raster: "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
  table: "https://stac-extensions.github.io/table/v1.2.0/schema.json",
} as const;

type Json = Record<string, unknown>;

/** Relative href from the JSON at `from` to the key `to` (both keys of one bucket). */
function relative(from: string, to: string): string {
  const href = path.posix.relative(path.posix.dirname(from), to);
  return href.startsWith(".") ? href : `./${href}`;
}

/** The key of the Item of an output. */
export function itemKeyOf(doc: LedgerDocument): string {
  const [project = "unknown", batch = "unknown"] = doc.key.split("/");
  const name = path.posix.basename(doc.key).replace(/\.[^.]+$/, "");
  return `${STAC_PREFIX}${project}/${batch}/${name}.json`;
}

const epsgOf = (crs: unknown) => {
  const m = typeof crs === "string" ? /^EPSG:(\d+)$/.exec(crs) : null;
  return m ? Number(m[1]) : null;
};

/** The raster extension's `data_type` of a GDAL band type (`Byte` is `uint8`). */
export function stacDataType(gdalType: string): string {
  const t = gdalType.toLowerCase();
  if (t === "byte") return "uint8";
  return /^(u?int(8|16|32|64)|float(16|32|64)|cint(16|32)|cfloat(32|64))$/.test(t) ? t : "other";
}

/**
 * A nodata value as the raster extension writes it: a number, or `"nan"`,
 * `"inf"`, `"-inf"` (GDAL says `NaN`, `Infinity`, `-Infinity`, which JSON
 * numbers cannot hold).
 */
function stacNodata(value: unknown): unknown {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  const text = String(value).toLowerCase();
  if (text === "nan") return "nan";
  if (/^\+?inf(inity)?$/.test(text)) return "inf";
  if (/^-inf(inity)?$/.test(text)) return "-inf";
  return value;
}

/** The STAC Item of one published output (a ledger document of format geoparquet or cog). */
export function stacItem(doc: LedgerDocument): Json {
  const m = doc.metadata as Json;
  const iso = m.iso19115 as Json | undefined;
  const processedAt = ((iso?.extent as Json | undefined)?.temporal as Json | undefined)
    ?.processed_at;
  const bbox = Array.isArray(m.bbox) ? m.bbox as number[] : null;
  const epsg = epsgOf(m.crs);
  // Item geometry and bbox are WGS84 lon/lat by the spec: COG footprints are;
  // vector extents only when the output CRS is EPSG:4326.
  const lonLat = bbox !== null && (doc.format === "cog" || epsg === 4326);
  const [x0, y0, x1, y1] = bbox ?? [];
  const key = itemKeyOf(doc);
  const isRaster = doc.format === "cog";
  const raster = m.raster as Json | undefined;
  const asset: Json = {
    href: relative(key, doc.key),
    type: doc.content_type ?? "application/octet-stream",
    title: iso?.title ?? doc.key,
    roles: ["data"],
    "file:checksum": `1220${doc.sha256}`,
    "file:size": doc.size,
    ...(isRaster
      ? {
        "raster:bands": ((raster?.bands as Json[] | undefined) ?? []).map((b) => ({
          data_type: stacDataType(String(b.type ?? "")),
          ...(b.nodata === null || b.nodata === undefined ? {} : { nodata: stacNodata(b.nodata) }),
          statistics: {
            ...(b.min === null ? {} : { minimum: b.min }),
            ...(b.max === null ? {} : { maximum: b.max }),
            ...(b.mean === null ? {} : { mean: b.mean }),
            ...(b.std_dev === null ? {} : { stddev: b.std_dev }),
          },
        })),
      }
      : {}),
  };
  return {
    type: "Feature",
    stac_version: STAC_VERSION,
    stac_extensions: [
      STAC_EXTENSIONS.projection,
      STAC_EXTENSIONS.file,
      isRaster ? STAC_EXTENSIONS.raster : STAC_EXTENSIONS.table,
    ],
    id: `${doc.batch_id ?? "batch"}-${path.posix.basename(doc.key).replace(/\.[^.]+$/, "")}`,
    geometry: lonLat ? boxGeometry(x0!, y0!, x1!, y1!) : null,
    ...(lonLat ? { bbox } : {}),
    properties: {
      datetime: typeof processedAt === "string" ? processedAt : doc.created_at,
      created: doc.created_at,
      updated: doc.updated_at,
      title: iso?.title ?? doc.key,
      ...(typeof iso?.abstract === "string" ? { description: iso.abstract } : {}),
      "proj:epsg": epsg,
      ...(isRaster && raster ? { "proj:shape": [raster.height, raster.width] } : {}),
      ...(isRaster && Array.isArray(raster?.geo_transform)
        ? { "proj:transform": (raster.geo_transform as number[]).slice(0, 6) }
        : {}),
      ...(!isRaster
        ? {
          "table:row_count": m.feature_count ?? 0,
          "table:columns": ((m.column_schema as Json[] | undefined) ?? []).map((c) => ({
            name: c.name,
            type: c.type,
          })),
          "table:primary_geometry": "geometry",
        }
        : {}),
    },
    collection: doc.key.split("/")[0],
    links: [
      { rel: "root", href: relative(key, `${STAC_PREFIX}catalog.json`), type: "application/json" },
      { rel: "parent", href: "../collection.json", type: "application/json" },
      { rel: "collection", href: "../collection.json", type: "application/json" },
    ],
    assets: { data: asset },
  };
}

/**
 * The GeoJSON geometry of a lon/lat box: a Polygon, or, across the
 * antimeridian (`west > east`), a MultiPolygon of its two halves, as RFC
 * 7946 section 3.1.9 asks.
 */
function boxGeometry(west: number, south: number, east: number, north: number): Json {
  const ring = (w: number, e: number) => [[w, south], [e, south], [e, north], [w, north], [
    w,
    south,
  ]];
  return west <= east
    ? { type: "Polygon", coordinates: [ring(west, east)] }
    : { type: "MultiPolygon", coordinates: [[ring(west, 180)], [ring(-180, east)]] };
}

/** The Collection of a project, from its Items. */
export function stacCollection(project: string, items: { key: string; item: Json }[]): Json {
  const key = `${STAC_PREFIX}${project}/collection.json`;
  const boxes = items.map((i) => i.item.bbox).filter(Array.isArray) as number[][];
  // A box across the antimeridian (west > east) widens the union to every longitude.
  const crossing = boxes.some((b) => b[0]! > b[2]!);
  const bbox = boxes.length > 0
    ? [
      crossing ? -180 : Math.min(...boxes.map((b) => b[0]!)),
      Math.min(...boxes.map((b) => b[1]!)),
      crossing ? 180 : Math.max(...boxes.map((b) => b[2]!)),
      Math.max(...boxes.map((b) => b[3]!)),
    ]
    : [-180, -90, 180, 90];
  const times = items.map((i) => String((i.item.properties as Json).datetime)).sort();
  return {
    type: "Collection",
    stac_version: STAC_VERSION,
    stac_extensions: [],
    id: project,
    title: project,
    description:
      `Spatial outputs of project '${project}' (GeoParquet and Cloud Optimized GeoTIFF).`,
    license: "other",
    extent: {
      spatial: { bbox: [bbox] },
      temporal: { interval: [[times[0] ?? null, times.at(-1) ?? null]] },
    },
    links: [
      { rel: "root", href: "../catalog.json", type: "application/json" },
      { rel: "parent", href: "../catalog.json", type: "application/json" },
      ...items.map((i) => ({
        rel: "item",
        href: relative(key, i.key),
        type: "application/geo+json",
      })),
    ],
  };
}

/** The root Catalog, linking every project's Collection. */
export function stacCatalog(projects: string[]): Json {
  return {
    type: "Catalog",
    stac_version: STAC_VERSION,
    id: "data-lake",
    title: "Data lake",
    description: "Every GeoParquet and COG the spatial pipeline published, by project.",
    links: [
      { rel: "root", href: "./catalog.json", type: "application/json" },
      ...projects.map((p) => ({
        rel: "child",
        href: `./${p}/collection.json`,
        type: "application/json",
      })),
    ],
  };
}

/** Writes one STAC JSON with its ledger document (so it has lineage like every lake object). */
async function putJson(
  lake: ObjectStore,
  ledger: Ledger,
  bucket: string,
  key: string,
  json: Json,
  runId: string,
): Promise<void> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const head = await lake.head(bucket, key);
  if (head?.sha256 === sha256) return;
  const contentType = json.type === "Feature" ? "application/geo+json" : "application/json";
  const doc = await ledger.upsert({
    bucket,
    key,
    sha256,
    size: bytes.length,
    run_id: runId,
    asset_key: "spatial/batch_archive",
    format: "stac",
    content_type: contentType,
    metadata: { stac_type: String(json.type) },
  });
  await lake.put(bucket, key, bytes, { contentType, metadata: { mongodb_doc_id: doc.id } });
}

/**
 * Brings the catalogue up to date after batch `batchId` of `project` was
 * published: its Items, the project's Collection (from every Item of the
 * project in the lake) and the root Catalog (from every Collection). Returns
 * the keys of the batch's Items.
 */
export async function updateStac(options: {
  lake: ObjectStore;
  ledger: Ledger;
  lakeBucket: string;
  project: string;
  batchId: string;
  runId: string;
}): Promise<string[]> {
  const { lake, ledger, lakeBucket, project, batchId, runId } = options;
  // The latest document of each output key of the batch.
  const latest = new Map<string, LedgerDocument>();
  for (const doc of await ledger.findByBatch(batchId)) {
    if (doc.bucket !== lakeBucket || (doc.format !== "geoparquet" && doc.format !== "cog")) {
      continue;
    }
    const seen = latest.get(doc.key);
    if (!seen || seen.updated_at <= doc.updated_at) latest.set(doc.key, doc);
  }
  const written: string[] = [];
  for (const doc of latest.values()) {
    // Only outputs still in the lake with this very version are catalogued.
    const head = await lake.head(lakeBucket, doc.key);
    if (head?.metadata.mongodb_doc_id !== doc.id) continue;
    await putJson(lake, ledger, lakeBucket, itemKeyOf(doc), stacItem(doc), runId);
    written.push(itemKeyOf(doc));
  }
  const items: { key: string; item: Json }[] = [];
  for await (const o of lake.listAll(lakeBucket, { prefix: `${STAC_PREFIX}${project}/` })) {
    if (o.key.endsWith("/collection.json")) continue;
    items.push({
      key: o.key,
      item: JSON.parse(new TextDecoder().decode(await lake.getBytes(lakeBucket, o.key))),
    });
  }
  items.sort((a, b) => a.key.localeCompare(b.key));
  await putJson(
    lake,
    ledger,
    lakeBucket,
    `${STAC_PREFIX}${project}/collection.json`,
    stacCollection(project, items),
    runId,
  );
  const projects = new Set<string>();
  for await (const o of lake.listAll(lakeBucket, { prefix: STAC_PREFIX })) {
    const m = /^stac\/([^/]+)\/collection\.json$/.exec(o.key);
    if (m) projects.add(m[1]!);
  }
  await putJson(
    lake,
    ledger,
    lakeBucket,
    `${STAC_PREFIX}catalog.json`,
    stacCatalog([...projects].sort()),
    runId,
  );
  return written;
}
