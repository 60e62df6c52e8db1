/**
 * Zod schemas written from the STAC 1.0 specification (item-spec,
 * collection-spec, catalog-spec) and the projection v1.1, file v2.1,
 * raster v1.1 and table v1.2 extensions: the rules the catalogue is tested
 * against (no registry package ships the official JSON schemas offline).
 */

import assert from "node:assert/strict";
import path from "node:path";
import { z } from "zod";

const Link = z.looseObject({
  href: z.string().min(1),
  rel: z.string().min(1),
  type: z.string().optional(),
  title: z.string().optional(),
});

const Bbox = z.array(z.number()).refine((b) => b.length === 4 || b.length === 6, {
  error: "a bbox has 4 or 6 numbers",
}).refine((b) => b.length !== 4 || (b[1]! <= b[3]! && b[0]! >= -180 && b[2]! <= 180), {
  error: "a WGS84 bbox is [west, south, east, north] in degrees",
});

const Position = z.array(z.number()).min(2).max(3);
const Geometry = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("Point"), coordinates: Position }),
  z.strictObject({ type: z.literal("Polygon"), coordinates: z.array(z.array(Position).min(4)) }),
  z.strictObject({
    type: z.literal("MultiPolygon"),
    coordinates: z.array(z.array(z.array(Position).min(4))),
  }),
]);

const DateTime = z.iso.datetime({ offset: true });

const DATA_TYPES = [
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "float16",
  "float32",
  "float64",
  "cint16",
  "cint32",
  "cfloat32",
  "cfloat64",
  "other",
] as const;

const Asset = z.looseObject({
  href: z.string().min(1),
  type: z.string().optional(),
  title: z.string().optional(),
  roles: z.array(z.string()).optional(),
  // file v2.1: a multihash in hex (0x12 = sha2-256, 0x20 = 32 bytes).
  "file:checksum": z.string().regex(/^1220[0-9a-f]{64}$/).optional(),
  "file:size": z.int().min(0).optional(),
  // raster v1.1
  "raster:bands": z.array(z.looseObject({
    data_type: z.enum(DATA_TYPES).optional(),
    nodata: z.union([z.number(), z.enum(["nan", "inf", "-inf"])]).optional(),
    statistics: z.looseObject({
      minimum: z.number().optional(),
      maximum: z.number().optional(),
      mean: z.number().optional(),
      stddev: z.number().optional(),
    }).optional(),
  })).optional(),
});

/** A STAC 1.0 Item with the extensions the lake uses. */
export const StacItem = z.looseObject({
  type: z.literal("Feature"),
  stac_version: z.string().regex(/^1\.\d+\.\d+$/),
  stac_extensions: z.array(z.url()).optional(),
  id: z.string().min(1),
  geometry: Geometry.nullable(),
  bbox: Bbox.optional(),
  properties: z.looseObject({
    datetime: DateTime.nullable(),
    start_datetime: DateTime.optional(),
    end_datetime: DateTime.optional(),
    created: DateTime.optional(),
    updated: DateTime.optional(),
    "proj:epsg": z.int().nullable().optional(),
    "proj:shape": z.array(z.int()).length(2).optional(),
    "proj:transform": z.array(z.number()).min(6).max(9).optional(),
    "table:row_count": z.int().min(0).optional(),
    "table:columns": z.array(
      z.looseObject({ name: z.string().min(1), type: z.string().optional() }),
    )
      .optional(),
  }).refine((p) => p.datetime !== null || (p.start_datetime && p.end_datetime), {
    error: "datetime null needs start_datetime and end_datetime",
  }),
  links: z.array(Link),
  assets: z.record(z.string(), Asset),
  collection: z.string().optional(),
}).refine((item) => item.geometry === null || item.bbox !== undefined, {
  error: "an Item with a geometry must have a bbox",
}).refine(
  (item) => !item.links.some((l) => l.rel === "collection") || item.collection !== undefined,
  { error: "an Item linking a collection must name it in 'collection'" },
);

/** A STAC 1.0 Collection. */
export const StacCollection = z.looseObject({
  type: z.literal("Collection"),
  stac_version: z.string().regex(/^1\.\d+\.\d+$/),
  stac_extensions: z.array(z.url()).optional(),
  id: z.string().min(1),
  description: z.string().min(1),
  license: z.string().min(1),
  extent: z.looseObject({
    spatial: z.looseObject({ bbox: z.array(Bbox).min(1) }),
    temporal: z.looseObject({
      interval: z.array(z.tuple([DateTime.nullable(), DateTime.nullable()])).min(1),
    }),
  }),
  links: z.array(Link),
});

/** A STAC 1.0 Catalog. */
export const StacCatalog = z.looseObject({
  type: z.literal("Catalog"),
  stac_version: z.string().regex(/^1\.\d+\.\d+$/),
  id: z.string().min(1),
  description: z.string().min(1),
  links: z.array(Link),
});

/** Where a link of the STAC JSON at `key` points (a key of the same bucket). */
export function resolveHref(key: string, href: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(key), href));
}

/**
 * Every Item reachable from the Collection at `collectionKey`, as a STAC
 * client crawls it: `item` links, and `child` links to Catalogs (each parsed
 * as one, its `parent` link leading back, its `root` to `stac/catalog.json`),
 * each Item parsed and its `parent` leading to the Catalog linking it.
 * Returns the Item keys, sorted.
 */
export async function crawlItems(
  read: (key: string) => Promise<unknown>,
  collectionKey: string,
): Promise<string[]> {
  const found: string[] = [];
  const visit = async (key: string, links: { rel: string; href: string }[]) => {
    for (const link of links) {
      const target = resolveHref(key, link.href);
      if (link.rel === "item") {
        const item = StacItem.parse(await read(target));
        const parent = item.links.find((l) => l.rel === "parent");
        assert.ok(parent, `${target} has a parent link`);
        assert.equal(resolveHref(target, parent.href), key, `${target}'s parent`);
        found.push(target);
      } else if (link.rel === "child") {
        const child = StacCatalog.parse(await read(target));
        const parent = child.links.find((l) => l.rel === "parent");
        assert.equal(parent && resolveHref(target, parent.href), key, `${target}'s parent`);
        const root = child.links.find((l) => l.rel === "root");
        assert.equal(root && resolveHref(target, root.href), "stac/catalog.json");
        await visit(target, child.links);
      }
    }
  };
  await visit(collectionKey, StacCollection.parse(await read(collectionKey)).links);
  return found.sort();
}
