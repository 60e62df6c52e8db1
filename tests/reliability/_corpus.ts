/**
 * The fuzz corpus of the reliability suite: malformed (and some valid)
 * spatial batches, manifests and activity CSV drops, generated from a seed,
 * each with the verdict the platform owes it.
 *
 * Cases come from families (a truncated Shapefile, a manifest whose path
 * climbs out of the batch, a CSV whose minutes add up to more than a day...);
 * {@linkcode generateCorpus} walks the families round-robin, each with its
 * own generator forked from the seed, so every family appears once before
 * any appears twice, and a count of a few dozen still covers them all.
 *
 * Verdicts:
 * - spatial `published`: outputs in the lake with their ledger documents and
 *   the landing files archived; `quarantined`: nothing published, the
 *   manifest in `quarantine/` beside `<batch>.error.json` whose problems have
 *   one of `codes` and name `names` (the user's file, or the manifest key);
 * - CSV `loaded` (`rows` loaded, `badRows` skipped within the tolerance) or
 *   `rejected` (moved to `quarantine/activity/` beside a report with one of
 *   `reasons`);
 * - `either`: random damage whose effect cannot be known in advance (a bit
 *   flipped in a number may leave a valid number): the input must end in one
 *   of the two states above, consistently, and an output, if any, must be
 *   valid. These are counted apart and never towards the minimum.
 *
 * @module
 */

import type { Random } from "../_helpers/reliability.ts";

/** Problem codes of a quarantine report (assets/spatial/manifest.ts). */
export type ProblemCode =
  | "manifest_too_large"
  | "malformed_json"
  | "invalid_schema"
  | "unknown_intent"
  | "batch_id_mismatch"
  | "path_outside_landing_zone"
  | "path_outside_batch"
  | "duplicate_path"
  | "missing_file"
  | "missing_sidecar"
  | "content_mismatch"
  | "unknown_crs"
  | "crs_mismatch"
  | "codec_missing"
  | "invalid_geometry"
  | "feature_count_mismatch"
  | "processing_failed";

/** What must become of a spatial batch. */
export type SpatialExpect =
  | { readonly verdict: "published"; readonly outputs: number }
  | {
    readonly verdict: "quarantined";
    /** The report must hold a problem with one of these codes. */
    readonly codes: readonly ProblemCode[];
    /** Text the report must contain: the user's file path, or the manifest key. */
    readonly names: string;
  }
  | { readonly verdict: "either" };

/** One spatial case: files uploaded to the landing zone and a committed manifest. */
export interface SpatialCase {
  readonly kind: "spatial";
  /** Case id, also the batch id where the manifest is well-formed. */
  readonly id: string;
  readonly family: string;
  /** What was done to the input, for failure messages. */
  readonly description: string;
  /** Landing-zone objects (key, bytes) uploaded before the manifest. */
  readonly uploads: readonly { readonly key: string; readonly bytes: Uint8Array }[];
  /** Key of the manifest, usually `manifests/<id>.json`. */
  readonly manifestKey: string;
  readonly manifest: Uint8Array;
  /** Project folder of the outputs in the lake (`<project>/<batch>/`). */
  readonly project: string;
  readonly expect: SpatialExpect;
}

/** Rejection reasons of an activity drop (assets/activity/errors.ts). */
export type RejectReason =
  | "empty_file"
  | "missing_columns"
  | "invalid_encoding"
  | "record_too_long"
  | "too_many_bad_rows"
  | "load_failed"
  | "duplicate_header"
  | "duplicate_columns"
  | "duplicate_rows";

/** What must become of an activity drop. */
export type CsvExpect =
  | { readonly verdict: "loaded"; readonly rows: number; readonly badRows: number }
  | {
    readonly verdict: "rejected";
    /** The report's `reason` must be one of these. */
    readonly reasons: readonly RejectReason[];
    /** Patterns the report's message must match, e.g. the row it names. */
    readonly mentions?: readonly RegExp[];
    /** Patterns the report's message must not match, e.g. raw SQL. */
    readonly forbids?: readonly RegExp[];
  }
  | { readonly verdict: "either" };

/** One activity drop case. */
export interface CsvCase {
  readonly kind: "csv";
  readonly id: string;
  readonly family: string;
  readonly description: string;
  /** File name directly under `landing-zone/activity/`. */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Which table it loads into. */
  readonly table: "daily_activity" | "sleep";
  readonly expect: CsvExpect;
}

/** A case of the corpus. */
export type FuzzCase = SpatialCase | CsvCase;

/** The shipped sample batch, the base of the binary cases. */
export interface SampleFiles {
  readonly shp: Uint8Array;
  readonly shx: Uint8Array;
  readonly dbf: Uint8Array;
  readonly prj: Uint8Array;
  readonly gpkg: Uint8Array;
  readonly tif: Uint8Array;
  readonly geojson: Uint8Array;
}

/** Reads the shipped sample batch (`sample_data/spatial/montana-sample/`). */
export async function readSampleFiles(): Promise<SampleFiles> {
  const dir = new URL("../../sample_data/spatial/montana-sample/", import.meta.url);
  const read = (name: string) => Deno.readFile(new URL(name, dir));
  return {
    shp: await read("counties.shp"),
    shx: await read("counties.shx"),
    dbf: await read("counties.dbf"),
    prj: await read("counties.prj"),
    gpkg: await read("trails.gpkg"),
    tif: await read("dem.tif"),
    geojson: await read("trailheads.geojson"),
  };
}

const encoder = new TextEncoder();
const utf8 = (text: string) => encoder.encode(text);

// ---------------------------------------------------------------- spatial

type FileSpec = {
  path: string;
  type: "vector" | "raster";
  format: string;
  crs: string;
  layer?: string;
  allow_empty_geometries?: boolean;
};

/** Builds a case whose manifest is well-formed JSON (possibly invalid by schema). */
interface SpatialDraft {
  family: string;
  description: string;
  uploads: [name: string, bytes: Uint8Array][];
  /** Manifest `files`, paths relative to the batch folder unless absolute-looking. */
  files: (FileSpec | Record<string, unknown>)[];
  expect: SpatialExpect | ((id: string) => SpatialExpect);
  /** Changes to the manifest object after it is built. */
  edit?: (manifest: Record<string, unknown>, id: string) => unknown;
  /** Replaces the manifest bytes (malformed JSON, bad encodings). */
  bytes?: (json: string) => Uint8Array;
  /** Another manifest key than `manifests/<id>.json`. */
  manifestKey?: (id: string) => string;
  intent?: string;
}

type SpatialFamily = (rng: Random, samples: SampleFiles) => SpatialDraft;

/** A random point inside Montana's bounding box, in degrees. */
function montanaPoint(rng: Random): [number, number] {
  return [round6(rng.float(-115.9, -104.1)), round6(rng.float(44.4, 48.9))];
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Random property values, with the characters real files carry. */
function properties(rng: Random, i: number): Record<string, unknown> {
  const names = [
    "Beartooth",
    "Hyalite",
    "Glacier Nat'l",
    "Rivière",
    "Sweet Grass, MT",
    "湖",
    '"Q"',
  ];
  return {
    id: i,
    name: `${rng.pick(names)} ${i}`,
    elevation_m: rng.int(600, 3900),
    open: rng.chance(0.5),
    note: rng.chance(0.2) ? null : "x".repeat(rng.int(0, 40)),
  };
}

function featureCollection(features: unknown[]): string {
  return JSON.stringify({ type: "FeatureCollection", features });
}

function pointFeatures(rng: Random, n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    type: "Feature",
    properties: properties(rng, i),
    geometry: { type: "Point", coordinates: montanaPoint(rng) },
  }));
}

/** A closed square ring around a random point. */
function squareRing(rng: Random): number[][] {
  const [x, y] = montanaPoint(rng);
  const d = round6(rng.float(0.001, 0.05));
  return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]];
}

function polygonFeatures(rng: Random, n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    type: "Feature",
    properties: properties(rng, i),
    geometry: { type: "Polygon", coordinates: [squareRing(rng)] },
  }));
}

function lineFeatures(rng: Random, n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => {
    const start = montanaPoint(rng);
    const coords = [start];
    for (let k = rng.int(1, 6); k > 0; k--) {
      const last = coords[coords.length - 1]!;
      coords.push([
        round6(last[0] + rng.float(-0.01, 0.01)),
        round6(last[1] + rng.float(-0.01, 0.01)),
      ]);
    }
    return {
      type: "Feature",
      properties: properties(rng, i),
      geometry: { type: "LineString", coordinates: coords },
    };
  });
}

const geojson = (path: string, extra: Partial<FileSpec> = {}): FileSpec => ({
  path,
  type: "vector",
  format: "geojson",
  crs: "EPSG:4326",
  ...extra,
});

const shapefile = (crs = "EPSG:32100"): FileSpec => ({
  path: "counties.shp",
  type: "vector",
  format: "shapefile",
  crs,
});

const shapefileUploads = (s: SampleFiles, shp = s.shp, prj: Uint8Array | null = s.prj) =>
  [
    ["counties.shp", shp],
    ["counties.shx", s.shx],
    ["counties.dbf", s.dbf],
    ...(prj ? [["counties.prj", prj] as [string, Uint8Array]] : []),
  ] as [string, Uint8Array][];

const raster = (path = "dem.tif", crs = "EPSG:32612"): FileSpec => ({
  path,
  type: "raster",
  format: "geotiff",
  crs,
});

const gpkg = (extra: Partial<FileSpec> = {}): FileSpec => ({
  path: "trails.gpkg",
  type: "vector",
  format: "geopackage",
  crs: "EPSG:4326",
  ...extra,
});

/** The bytes cut to `length`. */
function truncate(bytes: Uint8Array, length: number): Uint8Array {
  return bytes.slice(0, Math.max(0, Math.min(bytes.length, length)));
}

/** A copy of `bytes` with `count` random bits flipped in [from, to). */
function flipBits(rng: Random, bytes: Uint8Array, count: number, from = 0, to = bytes.length) {
  const out = bytes.slice();
  for (let i = 0; i < count; i++) {
    const at = rng.int(from, Math.max(from, to - 1));
    out[at] = (out[at] ?? 0) ^ (1 << rng.int(0, 7));
  }
  return out;
}

/**
 * Marks an upload to be made a symbolic link (in a local lake) to a GeoJSON
 * outside the lake, instead of an object: the store must refuse to read
 * through it, and nothing of the outside file may be published.
 */
export const SYMLINK_OUT = new Uint8Array([0x4c, 0x49, 0x4e, 0x4b]);

const quarantined = (codes: ProblemCode[], names: string): SpatialExpect => ({
  verdict: "quarantined",
  codes,
  names,
});

/** Any code a file GDAL cannot read (or reads as garbage) may be reported with. */
const UNREADABLE: ProblemCode[] = [
  "content_mismatch",
  "processing_failed",
  "feature_count_mismatch",
  "invalid_geometry",
];

/** The spatial families: valid batches first, then bad files, then bad manifests. */
const SPATIAL_FAMILIES: Record<string, SpatialFamily> = {
  // ---- valid: must publish
  valid_points: (rng) => {
    const n = rng.int(1, 40);
    return {
      family: "valid_points",
      description: `${n} points with mixed properties`,
      uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, n)))]],
      files: [geojson("points.geojson")],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_polygons: (rng) => {
    const n = rng.int(1, 20);
    return {
      family: "valid_polygons",
      description: `${n} closed squares, measured`,
      uploads: [["parcels.geojson", utf8(featureCollection(polygonFeatures(rng, n)))]],
      files: [geojson("parcels.geojson")],
      intent: "measure",
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_lines_and_raster: (rng, s) => {
    const n = rng.int(1, 15);
    return {
      family: "valid_lines_and_raster",
      description: `${n} lines and the sample DEM`,
      uploads: [["paths.geojson", utf8(featureCollection(lineFeatures(rng, n)))], [
        "dem.tif",
        s.tif,
      ]],
      files: [geojson("paths.geojson"), raster()],
      expect: { verdict: "published", outputs: 2 },
    };
  },
  valid_null_geometries: (rng) => {
    const features = pointFeatures(rng, rng.int(2, 10)) as { geometry: unknown }[];
    features[0]!.geometry = null; // a feature without geometry is real data: kept as NULL
    return {
      family: "valid_null_geometries",
      description: "points, the first without geometry (null)",
      uploads: [["sparse.geojson", utf8(featureCollection(features))]],
      files: [geojson("sparse.geojson")],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_empty_allowed: (rng) => {
    // `[]` is EMPTY whatever the type (GDAL reads `Point []` and `Polygon []` as NULL, the
    // census tells them from unreadable coordinates): published with allow_empty_geometries.
    const features = lineFeatures(rng, rng.int(2, 6)) as { geometry: unknown }[];
    features[1]!.geometry = { type: "LineString", coordinates: [] };
    return {
      family: "valid_empty_allowed",
      description: "an EMPTY line, with allow_empty_geometries",
      uploads: [["empties.geojson", utf8(featureCollection(features))]],
      files: [geojson("empties.geojson", { allow_empty_geometries: true })],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_shapefile: (_rng, s) => ({
    family: "valid_shapefile",
    description: "the sample Shapefile (EPSG:32100 .prj)",
    uploads: shapefileUploads(s),
    files: [shapefile()],
    expect: { verdict: "published", outputs: 1 },
  }),
  valid_shapefile_without_prj: (_rng, s) => ({
    family: "valid_shapefile_without_prj",
    description: "the sample Shapefile without .prj, CRS declared",
    uploads: shapefileUploads(s, s.shp, null),
    files: [shapefile()],
    expect: { verdict: "published", outputs: 1 },
  }),
  valid_geopackage_and_raster: (_rng, s) => ({
    family: "valid_geopackage_and_raster",
    description: "the sample GeoPackage (layer named) and DEM",
    uploads: [["trails.gpkg", s.gpkg], ["dem.tif", s.tif]],
    files: [gpkg({ layer: "trails" }), raster()],
    expect: { verdict: "published", outputs: 2 },
  }),
  valid_file_named_manifest: (rng) => ({
    family: "valid_file_named_manifest",
    description: "a GeoJSON uploaded as manifest.json inside the batch folder",
    uploads: [["manifest.json", utf8(featureCollection(pointFeatures(rng, rng.int(1, 5))))]],
    files: [geojson("manifest.json")],
    expect: { verdict: "published", outputs: 1 },
  }),
  valid_gpx_waypoints: (rng) => {
    const points = Array.from({ length: rng.int(1, 15) }, (_, i) => {
      const [x, y] = montanaPoint(rng);
      return `<wpt lat="${y}" lon="${x}"><ele>${
        rng.int(600, 3900)
      }</ele><name>wp ${i} &amp; co</name></wpt>`;
    });
    return {
      family: "valid_gpx_waypoints",
      description: `${points.length} GPX waypoints (the other GPX layers are empty)`,
      uploads: [[
        "track.gpx",
        utf8(
          `<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="fuzz" ` +
            `xmlns="http://www.topografix.com/GPX/1/1">${points.join("")}</gpx>\n`,
        ),
      ]],
      files: [{ path: "track.gpx", type: "vector", format: "gpx", crs: "EPSG:4326" }],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_kml_placemarks: (rng) => {
    const marks = Array.from({ length: rng.int(1, 10) }, (_, i) => {
      const [x, y] = montanaPoint(rng);
      return `<Placemark><name>P${i} &lt;x&gt;</name><Point><coordinates>${x},${y},0</coordinates></Point></Placemark>`;
    });
    return {
      family: "valid_kml_placemarks",
      description: `${marks.length} KML placemarks`,
      uploads: [[
        "places.kml",
        utf8(
          `<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">` +
            `<Document><name>fuzz</name>${marks.join("")}</Document></kml>\n`,
        ),
      ]],
      files: [{ path: "places.kml", type: "vector", format: "kml", crs: "EPSG:4326" }],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_mixed_geometries: (rng) => {
    const features = rng.shuffle([
      ...pointFeatures(rng, rng.int(1, 5)),
      ...lineFeatures(rng, rng.int(1, 5)),
      ...polygonFeatures(rng, rng.int(1, 5)),
    ]) as { properties: Record<string, unknown> }[];
    features.forEach((f, i) => (f.properties.id = i));
    return {
      family: "valid_mixed_geometries",
      description: "points, lines and polygons in one layer",
      uploads: [["mixed.geojson", utf8(featureCollection(features))]],
      files: [geojson("mixed.geojson")],
      intent: "measure",
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_repeated_id_property: (rng) => {
    const features = pointFeatures(rng, rng.int(2, 12)) as {
      properties: Record<string, unknown>;
    }[];
    for (const f of features) f.properties.id = rng.int(1, 3); // a class code, not a key
    features[1]!.properties.id = features[0]!.properties.id;
    return {
      family: "valid_repeated_id_property",
      description: "points whose integer 'id' property repeats (it is data, not a key)",
      uploads: [["classes.geojson", utf8(featureCollection(features))]],
      files: [geojson("classes.geojson")],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_3d_points: (rng) => {
    const features = pointFeatures(rng, rng.int(1, 10)) as {
      geometry: { coordinates: number[] };
    }[];
    for (const f of features) f.geometry.coordinates.push(rng.int(600, 3900));
    return {
      family: "valid_3d_points",
      description: "points with elevation (x, y, z)",
      uploads: [["peaks.geojson", utf8(featureCollection(features))]],
      files: [geojson("peaks.geojson")],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_self_intersecting: (rng) => {
    const [x, y] = montanaPoint(rng);
    const d = 0.01;
    const bowtie = [[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]];
    return {
      family: "valid_self_intersecting",
      description: "a bow-tie polygon (made valid, not refused)",
      uploads: [[
        "bowtie.geojson",
        utf8(featureCollection([{
          type: "Feature",
          properties: { id: 1 },
          geometry: { type: "Polygon", coordinates: [bowtie] },
        }])),
      ]],
      files: [geojson("bowtie.geojson")],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_huge_property: (rng) => {
    const features = pointFeatures(rng, rng.int(1, 3)) as { properties: Record<string, unknown> }[];
    features[0]!.properties.notes = "é".repeat(rng.int(600_000, 1_200_000));
    return {
      family: "valid_huge_property",
      description: "a property value of more than 1 MB",
      uploads: [["notes.geojson", utf8(featureCollection(features))]],
      files: [geojson("notes.geojson")],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_same_names_in_subfolders: (rng) => ({
    family: "valid_same_names_in_subfolders",
    description: "two files called points.geojson in two subfolders",
    uploads: [
      ["north/points.geojson", utf8(featureCollection(pointFeatures(rng, rng.int(1, 5))))],
      ["south/points.geojson", utf8(featureCollection(pointFeatures(rng, rng.int(1, 5))))],
    ],
    files: [geojson("north/points.geojson"), geojson("south/points.geojson")],
    expect: { verdict: "published", outputs: 2 },
  }),
  valid_legacy_crs_member: (rng) => {
    // Web Mercator metres, said by GeoJSON 2008's `crs` member, declared the same.
    const features = pointFeatures(rng, rng.int(1, 6)) as { geometry: { coordinates: number[] } }[];
    for (const f of features) {
      const [lon, lat] = f.geometry.coordinates as [number, number];
      f.geometry.coordinates = [
        Math.round(lon * 20037508.34 / 180),
        Math.round(Math.log(Math.tan((90 + lat) * Math.PI / 360)) * 6378137),
      ];
    }
    const text = JSON.stringify({
      type: "FeatureCollection",
      crs: { type: "name", properties: { name: "urn:ogc:def:crs:EPSG::3857" } },
      features,
    });
    return {
      family: "valid_legacy_crs_member",
      description: "GeoJSON in EPSG:3857 (legacy crs member), declared EPSG:3857",
      uploads: [["mercator.geojson", utf8(text)]],
      files: [geojson("mercator.geojson", { crs: "EPSG:3857" })],
      expect: { verdict: "published", outputs: 1 },
    };
  },
  valid_wkt_csv: (rng) => {
    const rows = Array.from({ length: rng.int(1, 20) }, (_, i) => {
      const [x, y] = montanaPoint(rng);
      return `${i},"POINT (${x} ${y})","site ${i}"`;
    });
    return {
      family: "valid_wkt_csv",
      description: "a CSV with a WKT column",
      uploads: [["sites.csv", utf8(`id,WKT,name\n${rows.join("\n")}\n`)]],
      files: [{ path: "sites.csv", type: "vector", format: "csv", crs: "EPSG:4326" }],
      expect: { verdict: "published", outputs: 1 },
    };
  },

  // ---- bad spatial files: the batch is quarantined, naming the file
  truncated_shapefile: (rng, s) => {
    const length = rng.int(108, s.shp.length - 8); // header intact, records cut
    return {
      family: "truncated_shapefile",
      description: `.shp cut to ${length} of ${s.shp.length} bytes, .dbf intact`,
      uploads: shapefileUploads(s, truncate(s.shp, length)),
      files: [shapefile()],
      expect: (id) => quarantined(UNREADABLE, `${id}/counties.shp`),
    };
  },
  truncated_geotiff: (rng, s) => {
    const length = rng.int(8, s.tif.length - 64);
    return {
      family: "truncated_geotiff",
      description: `GeoTIFF cut to ${length} of ${s.tif.length} bytes`,
      uploads: [["dem.tif", truncate(s.tif, length)]],
      files: [raster()],
      expect: (id) => quarantined(UNREADABLE, `${id}/dem.tif`),
    };
  },
  truncated_geopackage: (rng, s) => {
    const length = rng.int(0, Math.floor(s.gpkg.length / 2));
    return {
      family: "truncated_geopackage",
      description: `GeoPackage cut to ${length} of ${s.gpkg.length} bytes`,
      uploads: [["trails.gpkg", truncate(s.gpkg, length)]],
      files: [gpkg()],
      expect: (id) => quarantined(UNREADABLE, `${id}/trails.gpkg`),
    };
  },
  truncated_geojson: (rng) => {
    const text = featureCollection(pointFeatures(rng, rng.int(2, 20)));
    const length = rng.int(1, text.length - 2);
    return {
      family: "truncated_geojson",
      description: `GeoJSON cut to ${length} of ${text.length} characters`,
      uploads: [["cut.geojson", utf8(text.slice(0, length))]],
      files: [geojson("cut.geojson")],
      expect: (id) => quarantined(UNREADABLE, `${id}/cut.geojson`),
    };
  },
  magic_flipped: (rng, s) => {
    const which = rng.pick(["shp", "tif", "gpkg"] as const);
    const bytes = flipBits(rng, s[which], rng.int(1, 3), 0, 4);
    const name = which === "shp" ? "counties.shp" : which === "tif" ? "dem.tif" : "trails.gpkg";
    const uploads: [string, Uint8Array][] = which === "shp"
      ? shapefileUploads(s, bytes)
      : [[name, bytes]];
    return {
      family: "magic_flipped",
      description: `bits flipped in the magic number of ${name}`,
      uploads,
      files: [which === "shp" ? shapefile() : which === "tif" ? raster() : gpkg()],
      expect: (id) => quarantined(UNREADABLE, `${id}/${name}`),
    };
  },
  empty_file: (rng) => {
    const [name, spec] = rng.pick(
      [
        ["nothing.geojson", geojson("nothing.geojson")],
        ["nothing.tif", raster("nothing.tif")],
      ] as const,
    );
    return {
      family: "empty_file",
      description: `0-byte ${name}`,
      uploads: [[name, new Uint8Array()]],
      files: [spec],
      expect: (id) => quarantined(UNREADABLE, `${id}/${name}`),
    };
  },
  random_bytes: (rng) => {
    const bytes = new Uint8Array(rng.int(1, 4096)).map(() => rng.int(0, 255));
    return {
      family: "random_bytes",
      description: `${bytes.length} random bytes declared GeoJSON`,
      uploads: [["noise.geojson", bytes]],
      files: [geojson("noise.geojson")],
      expect: (id) => quarantined(UNREADABLE, `${id}/noise.geojson`),
    };
  },
  nan_coordinates: (rng) => {
    const features = pointFeatures(rng, rng.int(1, 8));
    const bad = rng.pick(["[NaN, 1]", "[1, NaN]", "[NaN, NaN]"]);
    const text = featureCollection(features).replace(/\[-?[\d.]+,-?[\d.]+\]/, bad);
    return {
      family: "nan_coordinates",
      description: `a point at ${bad}`,
      uploads: [["nan.geojson", utf8(text)]],
      files: [geojson("nan.geojson")],
      expect: (id) => quarantined([...UNREADABLE], `${id}/nan.geojson`),
    };
  },
  infinite_coordinates: (rng) => {
    const features = pointFeatures(rng, rng.int(1, 8));
    const bad = rng.pick(["[1e999, 45]", "[-110, -1e999]", "[Infinity, 45]"]);
    const text = featureCollection(features).replace(/\[-?[\d.]+,-?[\d.]+\]/, bad);
    return {
      family: "infinite_coordinates",
      description: `a point at ${bad}`,
      uploads: [["inf.geojson", utf8(text)]],
      files: [geojson("inf.geojson")],
      expect: (id) => quarantined([...UNREADABLE], `${id}/inf.geojson`),
    };
  },
  out_of_range_lonlat: (rng) => {
    const features = pointFeatures(rng, rng.int(1, 8)) as { geometry: { coordinates: unknown } }[];
    const bad = rng.pick([[500, 100], [-181, 45], [-110, 91], [190, -95]]);
    features[rng.int(0, features.length - 1)]!.geometry.coordinates = bad;
    return {
      family: "out_of_range_lonlat",
      description: `an EPSG:4326 point at [${bad}]`,
      uploads: [["far.geojson", utf8(featureCollection(features))]],
      files: [geojson("far.geojson")],
      expect: (id) => quarantined(["invalid_geometry"], `${id}/far.geojson`),
    };
  },
  empty_collection: () => ({
    family: "empty_collection",
    description: "a FeatureCollection without features",
    uploads: [["none.geojson", utf8(featureCollection([]))]],
    files: [geojson("none.geojson")],
    expect: (id) => quarantined(UNREADABLE, `${id}/none.geojson`),
  }),
  unclosed_ring: (rng) => {
    const features = polygonFeatures(rng, rng.int(1, 6)) as {
      geometry: { coordinates: number[][][] };
    }[];
    const ring = features[0]!.geometry.coordinates[0]!;
    ring.pop(); // the last point no longer repeats the first
    return {
      family: "unclosed_ring",
      description: "a polygon whose ring is not closed",
      uploads: [["open.geojson", utf8(featureCollection(features))]],
      files: [geojson("open.geojson")],
      expect: (id) => quarantined(["invalid_geometry", ...UNREADABLE], `${id}/open.geojson`),
    };
  },
  empty_geometry_not_allowed: (rng) => {
    const features = pointFeatures(rng, rng.int(2, 6)) as { geometry: unknown }[];
    features[0]!.geometry = rng.pick([
      { type: "Point", coordinates: [] },
      { type: "Polygon", coordinates: [] },
      { type: "MultiPoint", coordinates: [] },
    ]);
    return {
      family: "empty_geometry_not_allowed",
      description: "an EMPTY geometry without allow_empty_geometries",
      uploads: [["hollow.geojson", utf8(featureCollection(features))]],
      files: [geojson("hollow.geojson")],
      expect: (id) => quarantined(["invalid_geometry"], `${id}/hollow.geojson`),
    };
  },
  missing_layer: (rng, s) => {
    const layer = rng.pick(["roads", "Trails", "trails ", "nope"]);
    return {
      family: "missing_layer",
      description: `GeoPackage layer '${layer}' that does not exist`,
      uploads: [["trails.gpkg", s.gpkg]],
      files: [gpkg({ layer })],
      expect: (id) => quarantined(UNREADABLE, `${id}/trails.gpkg`),
    };
  },
  wrong_format: (rng, s) => {
    const [name, bytes, spec] = rng.pick([
      ["points.geojson", utf8(featureCollection(pointFeatures(rng, 3))), {
        ...geojson("points.geojson"),
        format: "flatgeobuf",
      }],
      ["points.geojson", utf8(featureCollection(pointFeatures(rng, 3))), {
        ...geojson("points.geojson"),
        format: "gpx",
      }],
      ["trails.gpkg", s.gpkg, gpkg({ format: "geojson" })],
      ["dem.tif", s.tif, { ...raster(), format: "png" }],
      ["dem.tif", s.tif, { ...raster(), format: "gdal:JPEG" }],
    ] as [string, Uint8Array, FileSpec][]);
    return {
      family: "wrong_format",
      description: `${name} declared as ${spec.format}`,
      uploads: [[name, bytes]],
      files: [spec],
      expect: (id) => quarantined(["content_mismatch"], `${id}/${name}`),
    };
  },
  raster_declared_vector: (_rng, s) => ({
    family: "raster_declared_vector",
    description: "a GeoTIFF declared as a GeoJSON vector",
    uploads: [["dem.tif", s.tif]],
    files: [geojson("dem.tif")],
    expect: (id) => quarantined(["content_mismatch"], `${id}/dem.tif`),
  }),
  unknown_crs: (rng) => ({
    family: "unknown_crs",
    description: "a CRS code no registry knows",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 3)))]],
    files: [geojson("points.geojson", { crs: rng.pick(["EPSG:999999", "EPSG:1", "ESRI:4"]) })],
    expect: (id) => quarantined(["unknown_crs"], `${id}/points.geojson`),
  }),
  shapefile_crs_mismatch: (rng, s) => ({
    family: "shapefile_crs_mismatch",
    description: "a Shapefile whose .prj says EPSG:32100 declared otherwise",
    uploads: shapefileUploads(s),
    files: [shapefile(rng.pick(["EPSG:4326", "EPSG:32612", "EPSG:3857"]))],
    expect: (id) => quarantined(["crs_mismatch"], `${id}/counties.shp`),
  }),
  lonlat_declared_projected: (rng) => ({
    family: "lonlat_declared_projected",
    description: "lon/lat GeoJSON declared in a projected CRS",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 4)))]],
    files: [
      geojson("points.geojson", { crs: rng.pick(["EPSG:32612", "EPSG:3857", "EPSG:32100"]) }),
    ],
    expect: (id) => quarantined(["crs_mismatch"], `${id}/points.geojson`),
  }),
  raster_crs_mismatch: (rng, s) => ({
    family: "raster_crs_mismatch",
    description: "the EPSG:32612 DEM declared in another CRS",
    uploads: [["dem.tif", s.tif]],
    files: [raster("dem.tif", rng.pick(["EPSG:4326", "EPSG:32611"]))],
    expect: (id) => quarantined(["crs_mismatch"], `${id}/dem.tif`),
  }),
  legacy_crs_member_mismatch: (rng) => {
    const text = JSON.stringify({
      type: "FeatureCollection",
      crs: { type: "name", properties: { name: "urn:ogc:def:crs:EPSG::3857" } },
      features: pointFeatures(rng, rng.int(1, 6)).map((f) => ({
        ...(f as object),
        geometry: {
          type: "Point",
          coordinates: [rng.int(-12_000_000, -11_000_000), rng.int(5_500_000, 6_200_000)],
        },
      })),
    });
    return {
      family: "legacy_crs_member_mismatch",
      description: "GeoJSON whose crs member says EPSG:3857, declared EPSG:4326",
      uploads: [["mercator.geojson", utf8(text)]],
      files: [geojson("mercator.geojson")],
      expect: (id) => quarantined(["crs_mismatch"], `${id}/mercator.geojson`),
    };
  },
  csv_bad_wkt: (rng) => {
    const rows = Array.from({ length: rng.int(2, 10) }, (_, i) => {
      const [x, y] = montanaPoint(rng);
      return `${i},"POINT (${x} ${y})"`;
    });
    rows[rng.int(0, rows.length - 1)] = `99,"${
      rng.pick(["POINT (abc def)", "POLYGON ((1 2, 3", "LINESTRING EMPTY EMPTY", "POINT"])
    }"`;
    return {
      family: "csv_bad_wkt",
      description: "a CSV whose WKT column has an unreadable geometry",
      uploads: [["sites.csv", utf8(`id,WKT\n${rows.join("\n")}\n`)]],
      files: [{ path: "sites.csv", type: "vector", format: "csv", crs: "EPSG:4326" }],
      expect: (id) => quarantined(["invalid_geometry", ...UNREADABLE], `${id}/sites.csv`),
    };
  },
  csv_lonlat_out_of_range: (rng) => {
    const rows = Array.from({ length: rng.int(2, 10) }, (_, i) => {
      const [x, y] = montanaPoint(rng);
      return `${i},${x},${y}`;
    });
    rows[rng.int(0, rows.length - 1)] = `99,${rng.pick(["500,45", "-110,95", "-200,-100"])}`;
    return {
      family: "csv_lonlat_out_of_range",
      description: "a CSV with lon/lat columns, one row outside the globe",
      uploads: [["sites.csv", utf8(`id,lon,lat\n${rows.join("\n")}\n`)]],
      files: [{ path: "sites.csv", type: "vector", format: "csv", crs: "EPSG:4326" }],
      expect: (id) => quarantined(["invalid_geometry"], `${id}/sites.csv`),
    };
  },
  truncated_dbf: (rng, s) => {
    const length = rng.int(40, s.dbf.length - 20);
    return {
      family: "truncated_dbf",
      description: `.dbf cut to ${length} of ${s.dbf.length} bytes, .shp intact`,
      uploads: shapefileUploads(s).map((
        [n, b],
      ) => [n, n === "counties.dbf" ? truncate(b, length) : b]),
      files: [shapefile()],
      expect: (id) => quarantined(UNREADABLE, `${id}/counties.shp`),
    };
  },
  symlink_out_of_the_lake: () => ({
    family: "symlink_out_of_the_lake",
    description: "a landing file that is a symbolic link to a file outside the lake",
    uploads: [["points.geojson", SYMLINK_OUT]],
    files: [geojson("points.geojson")],
    expect: (id) =>
      quarantined(
        ["path_outside_landing_zone", ...UNREADABLE, "missing_file"],
        `${id}/points.geojson`,
      ),
  }),
  bad_encoding_geojson: (rng) => {
    const text = featureCollection(pointFeatures(rng, 3));
    const utf16 = new Uint8Array(2 + text.length * 2);
    utf16.set([0xff, 0xfe]);
    for (let i = 0; i < text.length; i++) utf16[2 + 2 * i] = text.charCodeAt(i) & 0xff;
    return {
      family: "bad_encoding_geojson",
      description: "GeoJSON saved as UTF-16",
      uploads: [["wide.geojson", utf16]],
      files: [geojson("wide.geojson")],
      expect: (id) => quarantined(UNREADABLE, `${id}/wide.geojson`),
    };
  },
  valid_and_invalid_file: (rng, s) => {
    const length = rng.int(8, s.tif.length - 64);
    return {
      family: "valid_and_invalid_file",
      description: `valid points + a GeoTIFF cut to ${length} bytes: nothing may stay published`,
      uploads: [
        ["points.geojson", utf8(featureCollection(pointFeatures(rng, rng.int(1, 10))))],
        ["dem.tif", truncate(s.tif, length)],
      ],
      files: [geojson("points.geojson"), raster()],
      expect: (id) => quarantined(UNREADABLE, `${id}/dem.tif`),
    };
  },

  // ---- bad manifests: quarantined by the sensor, before any run
  manifest_truncated: (rng) => ({
    family: "manifest_truncated",
    description: "the manifest cut short",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson")],
    bytes: (json) => utf8(json.slice(0, rng.int(0, json.length - 2))),
    expect: (id) => quarantined(["malformed_json"], `manifests/${id}.json`),
  }),
  manifest_invalid_utf8: (rng) => ({
    family: "manifest_invalid_utf8",
    description: "a byte that is not UTF-8 inside the manifest",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson")],
    bytes: (json) => {
      const bytes = utf8(json);
      const out = new Uint8Array(bytes.length + 1);
      const at = rng.int(1, bytes.length - 1);
      out.set(bytes.subarray(0, at));
      out[at] = rng.pick([0xff, 0xc0, 0x80, 0xfe]);
      out.set(bytes.subarray(at), at + 1);
      return out;
    },
    expect: (id) => quarantined(["malformed_json"], `manifests/${id}.json`),
  }),
  manifest_utf16: (rng) => ({
    family: "manifest_utf16",
    description: "the manifest saved as UTF-16 with a BOM",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson")],
    bytes: (json) => {
      const out = new Uint8Array(2 + json.length * 2);
      out.set([0xff, 0xfe]);
      for (let i = 0; i < json.length; i++) out[2 + 2 * i] = json.charCodeAt(i) & 0xff;
      return out;
    },
    expect: (id) => quarantined(["malformed_json"], `manifests/${id}.json`),
  }),
  manifest_huge: (rng) => ({
    family: "manifest_huge",
    description: "a manifest over 1 MiB (a huge description)",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson")],
    edit: (m) => ({
      ...m,
      metadata: { project: "fuzz", description: "d".repeat(1024 * 1024 + rng.int(1, 5000)) },
    }),
    expect: (id) => quarantined(["manifest_too_large"], `manifests/${id}.json`),
  }),
  manifest_not_an_object: (rng) => ({
    family: "manifest_not_an_object",
    description: "JSON that is not an object",
    uploads: [],
    files: [],
    bytes: () => utf8(rng.pick(["[]", "null", "42", '"manifest"', "[{}]", "true"])),
    expect: (id) => quarantined(["invalid_schema"], `manifests/${id}.json`),
  }),
  manifest_schema: (rng) => {
    const [what, edit] = rng.pick<[string, (m: Record<string, unknown>) => unknown]>([
      ["no uploader", ({ uploader: _u, ...m }) => m],
      ["empty files", (m) => ({ ...m, files: [] })],
      ["an unknown top-level field", (m) => ({ ...m, priority: "high" })],
      ["a numeric uploader", (m) => ({ ...m, uploader: 7 })],
      ["project 'stac'", (m) => ({ ...m, metadata: { project: "stac", description: "d" } })],
      ["no metadata", ({ metadata: _m, ...m }) => m],
      ["a CRS without authority", (m) => ({
        ...m,
        files: (m.files as FileSpec[]).map((f) => ({ ...f, crs: "4326" })),
      })],
      ["an unknown format", (m) => ({
        ...m,
        files: (m.files as FileSpec[]).map((f) => ({ ...f, format: "shapefil" })),
      })],
      ["a VRT driver", (m) => ({
        ...m,
        files: (m.files as FileSpec[]).map((f) => ({ ...f, format: "gdal:VRT" })),
      })],
      ["a file of type 'table'", (m) => ({
        ...m,
        files: (m.files as FileSpec[]).map((f) => ({ ...f, type: "table" })),
      })],
      ["1001 files", (m) => ({
        ...m,
        files: Array.from(
          { length: 1001 },
          (_, i) => ({ ...(m.files as FileSpec[])[0], path: `x/${i}` }),
        ),
      })],
    ]);
    return {
      family: "manifest_schema",
      description: `a manifest with ${what}`,
      uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
      files: [geojson("points.geojson")],
      edit,
      expect: (id) => quarantined(["invalid_schema"], `manifests/${id}.json`),
    };
  },
  manifest_unknown_intent: (rng) => ({
    family: "manifest_unknown_intent",
    description: "an intent no asset knows",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson")],
    intent: rng.pick(["Publish", "delete", "", "measure;drop"]),
    expect: (id) => quarantined(["unknown_intent"], `manifests/${id}.json`),
  }),
  manifest_batch_mismatch: (rng) => ({
    family: "manifest_batch_mismatch",
    description: "batch_id differs from the manifest's file name",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson")],
    edit: (m) => ({ ...m, batch_id: `other-${rng.int(0, 9999)}` }),
    expect: (id) =>
      quarantined(["batch_id_mismatch", "path_outside_batch"], `manifests/${id}.json`),
  }),
  path_traversal: (rng) => {
    const path = rng.pick([
      "../../etc/passwd",
      "/etc/passwd",
      "file:///etc/passwd",
      "http://169.254.169.254/latest",
      "C:\\Windows\\win.ini",
      "{id}/../../secrets.geojson",
      "{id}/./points.geojson",
      "{id}//points.geojson",
      "{id}/poi\u0000nts.geojson",
      "{id}/..",
    ]);
    return {
      family: "path_traversal",
      description: `files[0].path = ${JSON.stringify(path)}`,
      uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
      files: [{ ...geojson(path), _absolute: true }],
      expect: (id) => quarantined(["path_outside_landing_zone"], `manifests/${id}.json`),
    };
  },
  path_other_batch: (rng) => ({
    family: "path_other_batch",
    description: "a file of another batch folder",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [{ ...geojson(`someone-else/${rng.int(0, 99)}.geojson`), _absolute: true }],
    expect: (id) => quarantined(["path_outside_batch"], `manifests/${id}.json`),
  }),
  duplicate_path: (rng) => ({
    family: "duplicate_path",
    description: "the same file listed twice",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson"), geojson("points.geojson")],
    expect: (id) => quarantined(["duplicate_path"], `${id}/points.geojson`),
  }),
  missing_file: (rng) => ({
    family: "missing_file",
    description: "a listed file never uploaded",
    uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
    files: [geojson("points.geojson"), geojson("forgotten.geojson")],
    expect: (id) => quarantined(["missing_file"], `${id}/forgotten.geojson`),
  }),
  missing_sidecar: (rng, s) => {
    const drop = rng.pick(["counties.dbf", "counties.shx"]);
    return {
      family: "missing_sidecar",
      description: `a Shapefile without ${drop}`,
      uploads: shapefileUploads(s).filter(([name]) => name !== drop),
      files: [shapefile()],
      expect: (id) => quarantined(["missing_sidecar"], `${id}/counties.shp`),
    };
  },
  bad_manifest_name: (rng) => {
    // Unique per case (the id is in each), so two cases never share a key.
    const shape = rng.pick([
      "Bad Batch {id}",
      "-{id}",
      "{id}-" + "x".repeat(70),
      "{id}-ümlaut",
      "{ID}",
    ]);
    return {
      family: "bad_manifest_name",
      description: `a manifest named '${shape}.json'`,
      uploads: [["points.geojson", utf8(featureCollection(pointFeatures(rng, 2)))]],
      files: [geojson("points.geojson")],
      manifestKey: (id) => `manifests/${stemOf(shape, id)}.json`,
      expect: (id) =>
        quarantined(["batch_id_mismatch", "invalid_schema"], `manifests/${stemOf(shape, id)}.json`),
    };
  },
};

function stemOf(shape: string, id: string): string {
  return shape.replace("{id}", id).replace("{ID}", id.toUpperCase());
}

/** Random damage: the verdict is not known in advance, the end state must still be one of two. */
const SPATIAL_ROBUST: Record<string, SpatialFamily> = {
  bitflip_binary: (rng, s) => {
    const which = rng.pick(["shp", "dbf", "tif", "gpkg"] as const);
    const count = rng.int(1, 8);
    const flipped = flipBits(rng, s[which], count);
    const base = which === "tif"
      ? "dem.tif"
      : which === "gpkg"
      ? "trails.gpkg"
      : `counties.${which}`;
    const uploads: [string, Uint8Array][] = which === "shp" || which === "dbf"
      ? shapefileUploads(s).map(([n, b]) => [n, n === base ? flipped : b])
      : [[base, flipped]];
    return {
      family: "bitflip_binary",
      description: `${count} random bit(s) flipped in ${base}`,
      uploads,
      files: [which === "tif" ? raster() : which === "gpkg" ? gpkg() : shapefile()],
      expect: { verdict: "either" },
    };
  },
  bitflip_geojson: (rng) => {
    const text = utf8(featureCollection(polygonFeatures(rng, rng.int(1, 6))));
    const count = rng.int(1, 4);
    return {
      family: "bitflip_geojson",
      description: `${count} random bit(s) flipped in a GeoJSON`,
      uploads: [["flip.geojson", flipBits(rng, text, count)]],
      files: [geojson("flip.geojson")],
      expect: { verdict: "either" },
    };
  },
};

function buildSpatial(id: string, draft: SpatialDraft): SpatialCase {
  const project = "fuzz";
  const files = draft.files.map((file) => {
    const { _absolute, ...rest } = file as FileSpec & { _absolute?: boolean };
    const path = String(rest.path).replaceAll("{id}", id);
    return { ...rest, path: _absolute ? path : `${id}/${path}` };
  });
  const manifest: Record<string, unknown> = {
    batch_id: id,
    uploader: "fuzz@example.org",
    intent: draft.intent ?? "publish",
    files,
    metadata: { project, description: `fuzz case ${draft.family}` },
  };
  const edited = draft.edit ? draft.edit(manifest, id) : manifest;
  const json = JSON.stringify(edited);
  return {
    kind: "spatial",
    id,
    family: draft.family,
    description: draft.description,
    uploads: draft.uploads.map(([name, bytes]) => ({ key: `${id}/${name}`, bytes })),
    manifestKey: draft.manifestKey?.(id) ?? `manifests/${id}.json`,
    manifest: draft.bytes ? draft.bytes(json) : utf8(json),
    project,
    expect: typeof draft.expect === "function" ? draft.expect(id) : draft.expect,
  };
}

// ---------------------------------------------------------------- CSV

const DAILY_HEADER = [
  "Id",
  "ActivityDate",
  "TotalSteps",
  "TotalDistance",
  "VeryActiveMinutes",
  "FairlyActiveMinutes",
  "LightlyActiveMinutes",
  "SedentaryMinutes",
  "Calories",
];
const SLEEP_HEADER = [
  "Id",
  "SleepDay",
  "TotalSleepRecords",
  "TotalMinutesAsleep",
  "TotalTimeInBed",
];

/**
 * Users and a first day for `n` rows: at most 300 days per user, all in the
 * past (2025), so large drops stay plausible (no date in the future).
 */
function userDays(rng: Random, n: number): { users: string[]; start: number } {
  const users = Array.from(
    { length: Math.max(rng.int(1, 6), Math.ceil(n / 300)) },
    (_, i) => String(rng.int(1_000_000_000, 9_999_999_999) + i),
  );
  return { users: [...new Set(users)], start: Date.UTC(2025, rng.int(0, 1), rng.int(1, 28)) };
}

/** `n` valid daily activity rows for distinct (user, day) pairs. */
function dailyRows(rng: Random, n: number): string[][] {
  const { users, start } = userDays(rng, n);
  return Array.from({ length: n }, (_, i) => {
    const day = new Date(start + Math.floor(i / users.length) * 86_400_000);
    const very = rng.int(0, 120), fairly = rng.int(0, 120), lightly = rng.int(0, 400);
    const sedentary = rng.int(0, 1440 - very - fairly - lightly);
    return [
      users[i % users.length]!,
      `${day.getUTCMonth() + 1}/${day.getUTCDate()}/${day.getUTCFullYear()}`,
      String(rng.int(0, 30_000)),
      rng.float(0, 25).toFixed(2),
      String(very),
      String(fairly),
      String(lightly),
      String(sedentary),
      String(rng.int(1200, 4000)),
    ];
  });
}

/** `n` valid sleep rows for distinct (user, day) pairs. */
function sleepRows(rng: Random, n: number): string[][] {
  const { users, start } = userDays(rng, n);
  return Array.from({ length: n }, (_, i) => {
    const day = new Date(start + Math.floor(i / users.length) * 86_400_000);
    const bed = rng.int(200, 700);
    return [
      users[i % users.length]!,
      `${day.getUTCMonth() + 1}/${day.getUTCDate()}/${day.getUTCFullYear()} 12:00:00 AM`,
      String(rng.int(1, 2)),
      String(rng.int(100, bed)),
      String(bed),
    ];
  });
}

function csvText(header: string[], rows: string[][], eol = "\n"): string {
  return [header, ...rows].map((r) => r.join(",")).join(eol) + eol;
}

/**
 * A valid activity drop of `rows` rows for distinct (user, day) pairs, as a
 * Fitbit export writes it: what the kill sweep and the two-daemon test load.
 */
export function activityDrop(
  rng: Random,
  kind: "daily_activity" | "sleep",
  rows: number,
): Uint8Array {
  return kind === "daily_activity"
    ? utf8(csvText(DAILY_HEADER, dailyRows(rng, rows)))
    : utf8(csvText(SLEEP_HEADER, sleepRows(rng, rows)));
}

/** A valid GeoJSON FeatureCollection of `count` points (or closed squares) in Montana. */
export function validGeojson(rng: Random, count: number, shape: "points" | "polygons"): Uint8Array {
  return utf8(
    featureCollection(shape === "points" ? pointFeatures(rng, count) : polygonFeatures(rng, count)),
  );
}

interface CsvDraft {
  family: string;
  description: string;
  table: "daily_activity" | "sleep";
  bytes: Uint8Array;
  expect: CsvExpect;
}

type CsvFamily = (rng: Random) => CsvDraft;

const loaded = (rows: number, badRows = 0): CsvExpect => ({ verdict: "loaded", rows, badRows });
const rejected = (
  reasons: RejectReason[],
  mentions?: RegExp[],
  forbids?: RegExp[],
): CsvExpect => ({
  verdict: "rejected",
  reasons,
  ...(mentions ? { mentions } : {}),
  ...(forbids ? { forbids } : {}),
});

/** The table of a random kind, its header and rows. */
function randomKind(rng: Random, n: number) {
  return rng.chance(0.5)
    ? { table: "daily_activity" as const, header: DAILY_HEADER, rows: dailyRows(rng, n) }
    : { table: "sleep" as const, header: SLEEP_HEADER, rows: sleepRows(rng, n) };
}

const CSV_FAMILIES: Record<string, CsvFamily> = {
  // ---- valid: must load
  csv_valid: (rng) => {
    const n = rng.int(1, 80);
    const k = randomKind(rng, n);
    return {
      family: "csv_valid",
      description: `${n} valid rows`,
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows)),
      expect: loaded(n),
    };
  },
  csv_crlf_bom_quoted: (rng) => {
    const n = rng.int(1, 40);
    const k = randomKind(rng, n);
    const quoted = k.rows.map((r) => r.map((v) => `"${v}"`));
    const text = csvText(k.header.map((h) => ` ${h.toLowerCase()} `), quoted, "\r\n");
    return {
      family: "csv_crlf_bom_quoted",
      description: `${n} quoted rows, CRLF, BOM, lowercase padded header`,
      table: k.table,
      bytes: utf8(`\ufeff${text}`),
      expect: loaded(n),
    };
  },
  csv_cr_only: (rng) => {
    const n = rng.int(2, 40);
    const k = randomKind(rng, n);
    return {
      family: "csv_cr_only",
      description: `${n} rows with classic Mac line ends (CR only)`,
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows, "\r")),
      expect: loaded(n),
    };
  },
  csv_reordered_extra: (rng) => {
    const n = rng.int(1, 40);
    const k = randomKind(rng, n);
    const order = rng.shuffle(k.header.map((_, i) => i));
    const header = [...order.map((i) => k.header[i]!), "DeviceModel"];
    const rows = k.rows.map((r) => [
      ...order.map((i) => r[i]!),
      rng.pick(["Charge 6", "", '"Versa, 4"']),
    ]);
    return {
      family: "csv_reordered_extra",
      description: `${n} rows, columns shuffled and an extra column`,
      table: k.table,
      bytes: utf8(csvText(header, rows)),
      expect: loaded(n),
    };
  },
  csv_header_only: (rng) => {
    const k = randomKind(rng, 0);
    return {
      family: "csv_header_only",
      description: "a header and no rows",
      table: k.table,
      bytes: utf8(csvText(k.header, [])),
      expect: loaded(0),
    };
  },
  csv_one_bad_row_tolerated: (rng) => {
    const n = rng.int(60, 150); // 1 bad row of >= 60 is under the default 2% tolerance
    const k = randomKind(rng, n);
    const bad = rng.int(0, n - 1);
    k.rows[bad]![rng.int(2, k.header.length - 1)] = rng.pick(["abc", "-5", "1.5.2", "1e9999"]);
    return {
      family: "csv_one_bad_row_tolerated",
      description: `${n} rows, row ${bad + 1} has a bad value`,
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows)),
      expect: loaded(n - 1, 1),
    };
  },

  // ---- invalid: rejected whole, with a report
  csv_empty: (rng) => ({
    family: "csv_empty",
    description: "an empty file (or only blank lines)",
    table: rng.chance(0.5) ? "daily_activity" : "sleep",
    bytes: utf8(rng.pick(["", "\n", "\n\n\r\n"])),
    expect: rejected(["empty_file"]),
  }),
  csv_missing_column: (rng) => {
    const n = rng.int(1, 20);
    const k = randomKind(rng, n);
    const drop = rng.int(0, k.header.length - 1);
    const header = k.header.filter((_, i) => i !== drop);
    const rows = k.rows.map((r) => r.filter((_, i) => i !== drop));
    return {
      family: "csv_missing_column",
      description: `column ${k.header[drop]} missing`,
      table: k.table,
      bytes: utf8(csvText(header, rows)),
      expect: rejected(["missing_columns"], [new RegExp(k.header[drop]!, "i")]),
    };
  },
  csv_wrong_kind: (rng) => {
    const n = rng.int(1, 20);
    return {
      family: "csv_wrong_kind",
      description: "a sleep export named daily_activity*.csv",
      table: "daily_activity",
      bytes: utf8(csvText(SLEEP_HEADER, sleepRows(rng, n))),
      expect: rejected(["missing_columns"]),
    };
  },
  csv_latin1: (rng) => {
    const n = rng.int(2, 20);
    const k = randomKind(rng, n);
    const bytes = utf8(csvText(k.header, k.rows));
    const out = new Uint8Array(bytes.length + 1);
    const at = rng.int(k.header.join(",").length + 1, bytes.length - 2);
    out.set(bytes.subarray(0, at));
    out[at] = rng.pick([0xe9, 0xfc, 0xa0, 0xff]); // é, ü, nbsp in Latin-1; 0xff never UTF-8
    out.set(bytes.subarray(at), at + 1);
    return {
      family: "csv_latin1",
      description: `a Latin-1 byte at offset ${at}`,
      table: k.table,
      bytes: out,
      expect: rejected(["invalid_encoding"]),
    };
  },
  csv_utf16: (rng) => {
    const k = randomKind(rng, rng.int(1, 10));
    const text = csvText(k.header, k.rows);
    const out = new Uint8Array(2 + text.length * 2);
    out.set([0xff, 0xfe]);
    for (let i = 0; i < text.length; i++) out[2 + 2 * i] = text.charCodeAt(i);
    return {
      family: "csv_utf16",
      description: "saved as UTF-16 (Excel's 'Unicode text')",
      table: k.table,
      bytes: out,
      expect: rejected(["invalid_encoding"]),
    };
  },
  csv_huge_field: (rng) => {
    const k = randomKind(rng, rng.int(2, 10));
    k.rows[0]![0] = "9".repeat(1024 * 1024 + rng.int(1, 10_000));
    return {
      family: "csv_huge_field",
      description: "a field over 1 MiB",
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows)),
      expect: rejected(["record_too_long", "too_many_bad_rows"]),
    };
  },
  csv_unclosed_quote: (rng) => {
    const k = randomKind(rng, rng.int(2, 10));
    k.rows[k.rows.length - 1]![0] = `"${k.rows[k.rows.length - 1]![0]}`;
    return {
      family: "csv_unclosed_quote",
      description: "a quote opened in the last row and never closed",
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows)),
      expect: rejected(["record_too_long", "too_many_bad_rows"]),
    };
  },
  csv_all_bad_values: (rng) => {
    const n = rng.int(1, 30);
    const k = randomKind(rng, n);
    for (const row of k.rows) {
      row[rng.int(2, k.header.length - 1)] = rng.pick(["n/a", "-1", "12abc", "∞"]);
    }
    return {
      family: "csv_all_bad_values",
      description: `${n} rows, each with a bad number`,
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows)),
      expect: rejected(["too_many_bad_rows"]),
    };
  },
  csv_truncated_row: (rng) => {
    const n = rng.int(2, 20); // one bad row of <= 20 is over the 2% tolerance
    const k = randomKind(rng, n);
    const text = csvText(k.header, k.rows);
    const lastStart = text.lastIndexOf("\n", text.length - 2) + 1;
    const lastComma = text.lastIndexOf(",");
    const cut = rng.int(lastStart + 1, lastComma); // before the last field: a short row
    return {
      family: "csv_truncated_row",
      description: `cut inside the last of ${n} rows`,
      table: k.table,
      bytes: utf8(text.slice(0, cut)),
      expect: rejected(["too_many_bad_rows"]),
    };
  },
  csv_duplicate_user_day: (rng) => {
    const n = rng.int(2, 30);
    const rows = dailyRows(rng, n);
    const from = rng.int(0, n - 1);
    rows.push([...rows[from]!]);
    return {
      family: "csv_duplicate_user_day",
      description: `row ${n + 1} repeats the user and day of row ${from + 1}`,
      table: "daily_activity",
      bytes: utf8(csvText(DAILY_HEADER, rng.shuffle(rows))),
      // Issue 15 item 8: the rows are named, not the COPY statement.
      expect: rejected(["duplicate_rows", "load_failed"], [/rows? \d+/i], [/COPY/]),
    };
  },
  csv_duplicate_header: (rng) => {
    const k = randomKind(rng, rng.int(1, 20));
    const dup = rng.int(0, k.header.length - 1);
    const header = [...k.header, k.header[dup]!];
    const rows = k.rows.map((r) => [...r, r[dup]!]);
    return {
      family: "csv_duplicate_header",
      description: `column ${k.header[dup]} twice in the header`,
      table: k.table,
      bytes: utf8(csvText(header, rows)),
      expect: rejected(["duplicate_header", "duplicate_columns", "missing_columns"], [
        new RegExp(k.header[dup]!, "i"),
      ]),
    };
  },
  csv_minutes_over_a_day: (rng) => {
    const n = rng.int(1, 20);
    const rows = dailyRows(rng, n).map((r) => {
      r[4] = "600", r[5] = "300", r[6] = "400", r[7] = String(rng.int(200, 800));
      return r;
    });
    return {
      family: "csv_minutes_over_a_day",
      description: `${n} rows whose activity minutes add up to more than 1,440`,
      table: "daily_activity",
      bytes: utf8(csvText(DAILY_HEADER, rows)),
      expect: rejected(["too_many_bad_rows"]),
    };
  },
  csv_far_future_dates: (rng) => {
    const n = rng.int(1, 20);
    const k = randomKind(rng, n);
    for (const row of k.rows) row[1] = row[1]!.replace(/\d{4}/, rng.pick(["2999", "9999", "2200"]));
    return {
      family: "csv_far_future_dates",
      description: `${n} rows dated centuries ahead`,
      table: k.table,
      bytes: utf8(csvText(k.header, k.rows)),
      expect: rejected(["too_many_bad_rows"]),
    };
  },
  csv_asleep_longer_than_in_bed: (rng) => {
    const n = rng.int(1, 20);
    const rows = sleepRows(rng, n).map((r) => {
      r[3] = String(Number(r[4]) + rng.int(1, 200));
      return r;
    });
    return {
      family: "csv_asleep_longer_than_in_bed",
      description: `${n} rows asleep longer than in bed`,
      table: "sleep",
      bytes: utf8(csvText(SLEEP_HEADER, rows)),
      expect: rejected(["too_many_bad_rows"]),
    };
  },
  csv_binary: (rng) => ({
    family: "csv_binary",
    description: "random bytes named like a drop",
    table: rng.chance(0.5) ? "daily_activity" : "sleep",
    bytes: new Uint8Array(rng.int(1, 2048)).map(() => rng.int(0, 255)),
    expect: rejected(["invalid_encoding", "missing_columns", "record_too_long", "empty_file"]),
  }),
};

const CSV_ROBUST: Record<string, CsvFamily> = {
  csv_bitflips: (rng) => {
    const n = rng.int(5, 60);
    const k = randomKind(rng, n);
    const count = rng.int(1, 4);
    const bytes = utf8(csvText(k.header, k.rows));
    return {
      family: "csv_bitflips",
      description: `${count} random bit(s) flipped in ${n} rows`,
      table: k.table,
      bytes: flipBits(rng, bytes, count),
      expect: { verdict: "either" },
    };
  },
};

function buildCsv(id: string, draft: CsvDraft): CsvCase {
  const prefix = draft.table === "daily_activity" ? "daily_activity" : "sleep";
  return {
    kind: "csv",
    id,
    family: draft.family,
    description: draft.description,
    name: `${prefix}_${id}.csv`,
    bytes: draft.bytes,
    table: draft.table,
    expect: draft.expect,
  };
}

/** The corpus: `count` cases with a known verdict, plus the random-damage cases. */
export interface Corpus {
  /** Cases whose verdict is known (valid and invalid inputs); `count` of them. */
  readonly certain: readonly FuzzCase[];
  /** Random damage (bit flips): any consistent end state. */
  readonly robust: readonly FuzzCase[];
}

/**
 * Generates `count` cases with a known verdict, walking every family in
 * turn (each with a generator forked from `rng`), plus `robustCount` random
 * damage cases. Case ids are `f<seq>-<family slug>`.
 */
export function generateCorpus(
  rng: Random,
  samples: SampleFiles,
  count: number,
  options: { robustCount?: number; families?: ReadonlySet<string> } = {},
): Corpus {
  const robustCount = options.robustCount ?? Math.ceil(count / 10);
  const only = options.families;
  const families: [string, (r: Random, seq: string) => FuzzCase][] = [
    ...Object.entries(SPATIAL_FAMILIES).map((
      [name, f],
    ): [string, (r: Random, seq: string) => FuzzCase] => [
      name,
      (r, seq) => buildSpatial(seq, f(r, samples)),
    ]),
    ...Object.entries(CSV_FAMILIES).map((
      [name, f],
    ): [string, (r: Random, seq: string) => FuzzCase] => [
      name,
      (r, seq) => buildCsv(seq, f(r)),
    ]),
  ];
  const robust: [string, (r: Random, seq: string) => FuzzCase][] = [
    ...Object.entries(SPATIAL_ROBUST).map((
      [name, f],
    ): [string, (r: Random, seq: string) => FuzzCase] => [
      name,
      (r, seq) => buildSpatial(seq, f(r, samples)),
    ]),
    ...Object.entries(CSV_ROBUST).map((
      [name, f],
    ): [string, (r: Random, seq: string) => FuzzCase] => [
      name,
      (r, seq) => buildCsv(seq, f(r)),
    ]),
  ];
  const walk = (all: typeof families, n: number, tag: string) => {
    const list = only ? all.filter(([name]) => only.has(name)) : all;
    if (list.length === 0) return [];
    const forks = new Map(list.map(([name]) => [name, rng.fork(`${tag}:${name}`)]));
    // A shuffled order per round, so a short run does not always favour the first families.
    const order = rng.fork(`${tag}:order`).shuffle(list);
    return Array.from({ length: n }, (_, i) => {
      const [name, make] = order[i % order.length]!;
      const seq = `${tag}${String(i).padStart(4, "0")}-${name.replaceAll("_", "-").slice(0, 40)}`;
      return make(forks.get(name)!, seq);
    });
  };
  return { certain: walk(families, count, "f"), robust: walk(robust, robustCount, "r") };
}

/** Number of families with a known verdict: a count below it leaves some out. */
export const FAMILY_COUNT = Object.keys(SPATIAL_FAMILIES).length +
  Object.keys(CSV_FAMILIES).length;
