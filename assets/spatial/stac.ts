/**
 * A STAC catalogue of the lake (STAC 1.0.0), kept up to date by the archive
 * step of each batch: one Item per published GeoParquet or COG, one
 * Collection per project, one root Catalog, all relative links, under
 * `stac/` in the lake bucket:
 *
 *     stac/catalog.json                              (root Catalog)
 *     stac/<project>/collection.json                 (Collection: extent, 1 link per shard)
 *     stac/<project>/batches.<hh>.json               (Catalog of the batches hashed to <hh>)
 *     stac/<project>/<batch>/batch.catalog.json      (Catalog of the batch's Items)
 *     stac/<project>/<batch>/<output>.json           (Items)
 *
 * An update reads and writes O(1) objects besides the batch's own Items (and
 * lists one folder level of its project: 1 request per 1,000 batches): the batch's
 * Catalog (rebuilt from the Items under its folder), its shard (one of 256,
 * by the SHA-256 of the batch id: a link added when missing), the
 * Collection (its extent widened by the batch's, a shard link added when
 * missing) and the root Catalog only when the project is new. Before, each
 * update listed and read every Item of the project and rewrote a Collection
 * linking each of them: 1,000 Items cost 1,000 reads a batch. Names never
 * clash: output names have no `.` (they are slugs), so no Item is called
 * `batch.catalog.json`, and no batch folder ends in `.json`. The extent
 * only grows: a batch re-run into a smaller area leaves the Collection's
 * box as wide as before (still a box holding every Item, as STAC asks).
 *
 * Batches of one project may be archived at once (several workers), and the
 * object store has no conditional write, so the shard, Collection and root
 * Catalog are written with what a listing of their folder says they must
 * link (batch folders holding a Catalog, shard objects, projects with a
 * Collection; one folder level, never the Items) and read back after each
 * write until they hold it: the last writer lists after every other
 * batch's Catalog exists, so no batch is left unlinked (stac_test.ts runs
 * 80 updates at once). The extent cannot be listed: a widening can still
 * be lost to a writer that read the Collection before it and wrote after
 * its read-back (the box may then miss that batch's area); closing that
 * needs a conditional write (If-Match) in the object store interface.
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
  classification: "https://stac-extensions.github.io/classification/v1.1.0/schema.json",
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

/** Whether a recorded statistic is a number STAC takes (not GDAL's "Infinity" text). */
function finiteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
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

/**
 * The `classification:classes` of a raster attribute table the ledger
 * recorded (`raster.attribute_table`, see raster.ts `attributeTableOf`), or
 * `undefined` when it names no classes: each row a class, its value the
 * table's `min_max` column, else its integer column named `Value`, else the
 * row's index (an ERDAS table indexed by pixel value); its description the
 * `name` column, else its first text column; its colour from the
 * `red`/`green`/`blue` columns (0-255, or 0-1 as ERDAS stores them).
 */
export function classificationClasses(table: unknown): Json[] | undefined {
  const t = table as {
    columns?: { name: string; type: string; usage: string }[];
    rows?: (number | string | null)[][] | null;
  } | undefined;
  if (!t || !Array.isArray(t.columns) || !Array.isArray(t.rows)) return undefined;
  const columns = t.columns;
  const at = (test: (c: { name: string; type: string; usage: string }) => boolean) =>
    columns.findIndex(test);
  const value = [
    at((c) => c.usage === "min_max"),
    at((c) => c.type === "integer" && /^value$/i.test(c.name)),
  ].find((i) => i >= 0);
  const label = [at((c) => c.usage === "name"), at((c) => c.type === "string")]
    .find((i) => i >= 0);
  if (label === undefined) return undefined;
  const rgb = ["red", "green", "blue"].map((usage) => at((c) => c.usage === usage));
  const classes: Json[] = [];
  t.rows.forEach((row, index) => {
    const text = row[label];
    const v = value === undefined ? index : row[value];
    if (typeof text !== "string" || text.trim() === "" || !Number.isInteger(v)) return;
    const channels = rgb.map((i) => (i < 0 ? undefined : row[i]));
    const color = channels.every((c) => typeof c === "number")
      ? (channels as number[]).map((c) => {
        const byte = Math.round(channels.every((x) => (x as number) <= 1) ? c * 255 : c);
        return Math.min(255, Math.max(0, byte)).toString(16).padStart(2, "0");
      }).join("").toUpperCase()
      : undefined;
    classes.push({
      value: v,
      // The extension's machine name: letters, digits, - and _ only.
      name: text.trim().replace(/[^0-9A-Za-z_-]+/g, "_"),
      description: text,
      ...(color === undefined ? {} : { color_hint: color }),
    });
  });
  return classes.length > 0 ? classes : undefined;
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
  const classes = isRaster ? classificationClasses(raster?.attribute_table) : undefined;
  const asset: Json = {
    href: relative(key, doc.key),
    type: doc.content_type ?? "application/octet-stream",
    title: iso?.title ?? doc.key,
    roles: ["data"],
    "file:checksum": `1220${doc.sha256}`,
    "file:size": doc.size,
    ...(isRaster
      ? {
        "raster:bands": ((raster?.bands as Json[] | undefined) ?? []).map((b, i) => ({
          data_type: stacDataType(String(b.type ?? "")),
          // A land-cover legend (a raster attribute table), which the COG cannot carry.
          ...(i === 0 && classes !== undefined ? { "classification:classes": classes } : {}),
          ...(b.nodata === null || b.nodata === undefined ? {} : { nodata: stacNodata(b.nodata) }),
          // Only numbers (a record of an infinite band may hold GDAL's "Infinity" as text).
          statistics: {
            ...(finiteNumber(b.min) ? { minimum: b.min } : {}),
            ...(finiteNumber(b.max) ? { maximum: b.max } : {}),
            ...(finiteNumber(b.mean) ? { mean: b.mean } : {}),
            ...(finiteNumber(b.std_dev) ? { stddev: b.std_dev } : {}),
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
      ...(classes === undefined ? [] : [STAC_EXTENSIONS.classification]),
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
      { rel: "parent", href: "./batch.catalog.json", type: "application/json" },
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

/** The box of a Collection none of whose Items has a lon/lat box. */
const WORLD = [-180, -90, 180, 90];

/** A Collection's extent: a lon/lat box (or none yet) and the first and last datetimes. */
export interface Extent {
  bbox: number[] | null;
  start: string | null;
  end: string | null;
}

/**
 * The union of `extent` and the Items' boxes and datetimes. A box across the
 * antimeridian (west > east) widens the union to every longitude.
 */
function widened(extent: Extent, items: readonly Json[]): Extent {
  const boxes = items.map((i) => i.bbox).filter(Array.isArray) as number[][];
  if (extent.bbox !== null) boxes.push(extent.bbox);
  const crossing = boxes.some((b) => b[0]! > b[2]!);
  const bbox = boxes.length > 0
    ? [
      crossing ? -180 : Math.min(...boxes.map((b) => b[0]!)),
      Math.min(...boxes.map((b) => b[1]!)),
      crossing ? 180 : Math.max(...boxes.map((b) => b[2]!)),
      Math.max(...boxes.map((b) => b[3]!)),
    ]
    : null;
  const times = items.map((i) => String((i.properties as Json).datetime));
  if (extent.start !== null) times.push(extent.start);
  if (extent.end !== null) times.push(extent.end);
  times.sort();
  return { bbox, start: times[0] ?? null, end: times.at(-1) ?? null };
}

/** The extent a Collection written by {@linkcode stacCollection} holds. */
function extentOf(collection: Json | undefined): Extent {
  const extent = collection?.extent as
    | { spatial?: { bbox?: number[][] }; temporal?: { interval?: (string | null)[][] } }
    | undefined;
  const interval = extent?.temporal?.interval?.[0];
  const bbox = extent?.spatial?.bbox?.[0] ?? null;
  return {
    // The whole world is also what a Collection of Items without a lon/lat box says.
    bbox: bbox === null || bbox.join() === WORLD.join() ? null : bbox,
    start: interval?.[0] ?? null,
    end: interval?.[1] ?? null,
  };
}

/**
 * The Collection of a project: its extent, and a `child` link to each shard
 * Catalog (see the module doc) by key, and the `item` links a Collection
 * written before the shards had (kept, so that no earlier Item is lost).
 */
export function stacCollection(
  project: string,
  extent: Extent,
  shards: readonly string[],
  legacyItems: readonly string[] = [],
): Json {
  const key = `${STAC_PREFIX}${project}/collection.json`;
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
      spatial: { bbox: [extent.bbox ?? WORLD] },
      temporal: { interval: [[extent.start, extent.end]] },
    },
    links: [
      { rel: "root", href: "../catalog.json", type: "application/json" },
      { rel: "parent", href: "../catalog.json", type: "application/json" },
      ...[...shards].sort().map((shard) => ({
        rel: "child",
        href: relative(key, shard),
        type: "application/json",
      })),
      ...legacyItems.map((item) => ({
        rel: "item",
        href: relative(key, item),
        type: "application/geo+json",
      })),
    ],
  };
}

/** A Catalog under a project's Collection: a shard of its batches, or one batch's Items. */
function subCatalog(
  key: string,
  id: string,
  description: string,
  parent: string,
  links: readonly { rel: "child" | "item"; key: string }[],
): Json {
  return {
    type: "Catalog",
    stac_version: STAC_VERSION,
    id,
    description,
    links: [
      { rel: "root", href: relative(key, `${STAC_PREFIX}catalog.json`), type: "application/json" },
      { rel: "parent", href: relative(key, parent), type: "application/json" },
      ...[...links].sort((a, b) => a.key.localeCompare(b.key)).map((l) => ({
        rel: l.rel,
        href: relative(key, l.key),
        type: l.rel === "item" ? "application/geo+json" : "application/json",
      })),
    ],
  };
}

/** The key of the Catalog of a batch's Items. */
export function batchCatalogKeyOf(project: string, batchId: string): string {
  return `${STAC_PREFIX}${project}/${batchId}/batch.catalog.json`;
}

/** The key of the shard Catalog linking a batch's Catalog (256 shards by the batch id's SHA-256). */
export function shardKeyOf(project: string, batchId: string): string {
  const hash = createHash("sha256").update(batchId).digest("hex").slice(0, 2);
  return `${STAC_PREFIX}${project}/batches.${hash}.json`;
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

/**
 * The projects that have a Collection: one folder level of `stac/` listed
 * (not every Item of every project), then each folder's `collection.json`.
 */
async function projectsWithCollection(lake: ObjectStore, bucket: string): Promise<string[]> {
  const folders: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await lake.list(bucket, {
      prefix: STAC_PREFIX,
      delimiter: "/",
      ...(continuationToken === undefined ? {} : { continuationToken }),
    });
    folders.push(...page.prefixes);
    continuationToken = page.nextContinuationToken;
  } while (continuationToken !== undefined);
  const found = await Promise.all(
    folders.map(async (folder) =>
      (await lake.head(bucket, `${folder}collection.json`)) === undefined
        ? []
        : [folder.slice(STAC_PREFIX.length, -1)]
    ),
  );
  return found.flat().sort();
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

/** A STAC JSON of the lake, or `undefined` when there is none yet. */
async function readJson(lake: ObjectStore, bucket: string, key: string): Promise<Json | undefined> {
  if ((await lake.head(bucket, key)) === undefined) return undefined;
  return JSON.parse(new TextDecoder().decode(await lake.getBytes(bucket, key))) as Json;
}

/** The keys a STAC JSON links with `rel` (its hrefs resolved against its own key). */
function linkedKeys(key: string, json: Json | undefined, rel: string): string[] {
  const links = (json?.links as { rel?: string; href?: string }[] | undefined) ?? [];
  return links.filter((l) => l.rel === rel && typeof l.href === "string")
    .map((l) => path.posix.normalize(path.posix.join(path.posix.dirname(key), l.href!)));
}

/** Two extents holding the same box and interval. */
function sameExtent(a: Extent, b: Extent): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Rounds of write and read back an update makes at most while other
 * batches' writers replace the shard or Collection it wrote; each round
 * needs another writer to land in between, so a few suffice, and a later
 * update of the project repairs what is still missing.
 */
const CONVERGE_ROUNDS = 8;

/**
 * What a project's catalogue folder holds, one folder level listed (not its
 * Items): the ids of its batch folders and the keys of its shard Catalogs.
 */
async function projectFolder(
  lake: ObjectStore,
  bucket: string,
  project: string,
): Promise<{ batches: string[]; shards: string[] }> {
  const prefix = `${STAC_PREFIX}${project}/`;
  const batches: string[] = [];
  const shards: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await lake.list(bucket, {
      prefix,
      delimiter: "/",
      ...(continuationToken === undefined ? {} : { continuationToken }),
    });
    batches.push(...page.prefixes.map((folder) => folder.slice(prefix.length, -1)));
    shards.push(
      ...page.objects.map((o) => o.key).filter((key) =>
        /^batches\.[0-9a-f]{2}\.json$/.test(key.slice(prefix.length))
      ),
    );
    continuationToken = page.nextContinuationToken;
  } while (continuationToken !== undefined);
  return { batches, shards };
}

/** The projects the root Catalog at `key` links. */
function linkedProjects(key: string, root: Json | undefined): string[] {
  return linkedKeys(key, root, "child")
    .map((child) => child.slice(STAC_PREFIX.length, -"/collection.json".length));
}

/**
 * Brings the catalogue up to date after batch `batchId` of `project` was
 * published: its Items and its Catalog, the shard linking that Catalog, the
 * project's Collection (extent widened, shard linked) and, for a new
 * project, the root Catalog; O(1) objects besides the batch's own (see the
 * module doc). Returns the keys of the batch's Items.
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
  const items: Json[] = [];
  for (const doc of latest.values()) {
    // Only outputs still in the lake with this very version are catalogued.
    const head = await lake.head(lakeBucket, doc.key);
    if (head?.metadata.mongodb_doc_id !== doc.id) continue;
    const item = stacItem(doc);
    await putJson(lake, ledger, lakeBucket, itemKeyOf(doc), item, runId);
    written.push(itemKeyOf(doc));
    items.push(item);
  }
  // The batch's Catalog links every Item under its folder: those of an
  // earlier run of the batch too (the folder holds nothing else).
  const batchKey = batchCatalogKeyOf(project, batchId);
  const batchItems: string[] = [];
  for await (
    const o of lake.listAll(lakeBucket, { prefix: `${STAC_PREFIX}${project}/${batchId}/` })
  ) {
    if (o.key !== batchKey && o.key.endsWith(".json")) batchItems.push(o.key);
  }
  const shardKey = shardKeyOf(project, batchId);
  const collectionKey = `${STAC_PREFIX}${project}/collection.json`;
  await putJson(
    lake,
    ledger,
    lakeBucket,
    batchKey,
    subCatalog(
      batchKey,
      `${project}-${batchId}`,
      `Outputs of batch '${batchId}' of project '${project}'.`,
      shardKey,
      batchItems.map((key) => ({ rel: "item", key })),
    ),
    runId,
  );
  // The shard and the Collection are read, changed and written again, and
  // the store has no conditional write: two batches of one project archived
  // at once could each write a shard or Collection without the other's
  // link. So what they must link is taken from a listing of the project's
  // folder (batch folders and shard objects, never its Items), and each
  // writer reads back after writing until what it wrote holds everything
  // listed: the last writer lists after every other batch's Catalog exists,
  // so the last version written links every batch.
  const hash = path.posix.basename(shardKey).split(".")[1];
  let collection: Json | undefined;
  let newProject = false;
  for (let round = 0; round < CONVERGE_ROUNDS; round++) {
    const listed = await projectFolder(lake, lakeBucket, project);
    // Folders of this shard holding a batch Catalog (a folder of the layout
    // before shards, or of an update that died before its Catalog, has none).
    const inShard = (await Promise.all(
      listed.batches.filter((id) => shardKeyOf(project, id) === shardKey && id !== batchId)
        .map(async (id) => {
          const key = batchCatalogKeyOf(project, id);
          return (await lake.head(lakeBucket, key)) === undefined ? [] : [key];
        }),
    )).flat();
    const shard = await readJson(lake, lakeBucket, shardKey);
    const batches = new Set(linkedKeys(shardKey, shard, "child"));
    const shardComplete = [batchKey, ...inShard].every((key) => batches.has(key));
    if (!shardComplete) {
      for (const key of [batchKey, ...inShard]) batches.add(key);
      await putJson(
        lake,
        ledger,
        lakeBucket,
        shardKey,
        subCatalog(
          shardKey,
          `${project}-batches-${hash}`,
          `Batches of project '${project}' whose id's SHA-256 starts with ${hash}.`,
          collectionKey,
          [...batches].map((key) => ({ rel: "child", key })),
        ),
        runId,
      );
    }
    collection = round === 0 ? await readJson(lake, lakeBucket, collectionKey) : collection;
    const linked = new Set(linkedKeys(collectionKey, collection, "child"));
    const extent = extentOf(collection);
    const wide = widened(extent, items);
    const collectionComplete = [shardKey, ...listed.shards].every((key) => linked.has(key)) &&
      collection !== undefined && sameExtent(extent, wide);
    if (!collectionComplete) {
      for (const key of [shardKey, ...listed.shards]) linked.add(key);
      await putJson(
        lake,
        ledger,
        lakeBucket,
        collectionKey,
        stacCollection(
          project,
          wide,
          [...linked],
          linkedKeys(collectionKey, collection, "item")
            .filter((key) => !key.startsWith(`${STAC_PREFIX}${project}/${batchId}/`)),
        ),
        runId,
      );
    }
    if (round === 0) newProject = collection === undefined;
    if (shardComplete && collectionComplete) break;
    // Read back: another batch's writer may have replaced what was just written.
    collection = await readJson(lake, lakeBucket, collectionKey);
  }
  // The root Catalog changes only with a new project, and converges the same way.
  const rootKey = `${STAC_PREFIX}catalog.json`;
  for (let round = 0; newProject && round < CONVERGE_ROUNDS; round++) {
    const projects = await projectsWithCollection(lake, lakeBucket);
    const linked = new Set(linkedProjects(rootKey, await readJson(lake, lakeBucket, rootKey)));
    if (round > 0 && projects.every((p) => linked.has(p))) break;
    for (const p of projects) linked.add(p);
    await putJson(lake, ledger, lakeBucket, rootKey, stacCatalog([...linked].sort()), runId);
  }
  return written;
}
