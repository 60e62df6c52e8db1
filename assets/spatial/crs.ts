/**
 * The one CRS rule of spatial batches, shared by vector and raster files so
 * that the lake object, its ledger document and the checks agree:
 *
 * 1. the declared CRS (`files[].crs`) must be one GDAL's PROJ database knows,
 *    else the batch is quarantined (`unknown_crs`);
 * 2. a file with its own CRS must agree with the declared one (same
 *    `AUTHORITY:CODE`, the declared one as GDAL resolves it, or another
 *    code of the same definition, as EPSG:900913 is EPSG:3857; when the
 *    file's CRS has no code, as MapInfo's and many `.prj`s have not, the
 *    same name or the same definition: datum, ellipsoid, prime meridian,
 *    projection and its parameters, axes and units), else the batch is
 *    quarantined naming both (`crs_mismatch`);
 * 3. a file without a CRS gets the declared one assigned, as
 *    `gdal_translate -a_srs` / `ogr2ogr -s_srs` do, and its ledger document
 *    records `crs_source: "declared"`; so does a file whose manifest entry
 *    says `assign_crs: true` (the user's -a_srs), whatever its own CRS.
 *
 * A file in a local engineering CRS (a site survey's or a CAD drawing's
 * `LOCAL_CS`, on no datum) agrees with no declared CRS: nothing places it on
 * Earth. Its report says so and names the two ways out (assign the declared
 * CRS when its coordinates are in fact in it, or georeference it first),
 * instead of asking for another `files[].crs`, which could never agree.
 *
 * @module
 */

import type { CrsInfo, GdalScratch } from "../../resources/spatial/gdal.ts";
import { GdalError } from "../../resources/spatial/gdal.ts";
import type { ManifestFile, ManifestProblem } from "./manifest.ts";

/** The CRS a file is processed in, and where it came from. */
export interface CrsDecision {
  /** `AUTHORITY:CODE` when known, else the declared code. */
  crs: string;
  /** Whether the file carried it or the manifest's declaration was assigned. */
  source: "file" | "declared";
  /** The resolved declared CRS (WKT and PROJJSON). */
  declared: CrsInfo;
}

/** Codes naming the same CRS in practice (GeoJSON's CRS84 is EPSG:4326 in lon/lat order). */
const SAME = new Map([["OGC:CRS84", "EPSG:4326"]]);

const canonical = (code: string) => SAME.get(code.toUpperCase()) ?? code.toUpperCase();

/** `AUTHORITY:CODE` of the outermost CRS of a WKT2 (its last `ID[...]`), if it has one. */
export function wktCode(wkt: string): string | undefined {
  const match = /ID\["([^"]+)",\s*"?([\w.]+)"?\]\]\s*$/.exec(wkt.trim());
  return match ? `${match[1]}:${match[2]}` : undefined;
}

/** The name of the outermost CRS of a WKT (`PROJCRS["NAD83 / Montana", ...`). */
export function wktName(wkt: string): string | undefined {
  return /^\s*\w+\["([^"]*)"/.exec(wkt)?.[1];
}

/**
 * Whether `wkt` is a geographic 3D CRS (longitude, latitude, ellipsoidal
 * height), e.g. EPSG:4979, which GDAL gives a GeoJSON with heights: its
 * horizontal part is the 2D CRS of the same name.
 */
function isGeographic3d(wkt: string): boolean {
  return /^\s*GEOGCRS\[/.test(wkt) && /AXIS\["ellipsoidal height/i.test(wkt);
}

/**
 * The horizontal component of a compound CRS WKT2 (`COMPOUNDCRS["UTM 12N +
 * NAVD88 height", PROJCRS[...], VERTCRS[...]]`, as LiDAR DEMs carry), or
 * `undefined` for any other WKT: a file in it agrees with a declared CRS
 * equal to that component, its heights keeping their vertical datum.
 */
export function horizontalOf(wkt: string): string | undefined {
  const start = /^\s*COMPOUNDCRS\["(?:[^"]|"")*",\s*/.exec(wkt);
  if (!start) return undefined;
  let depth = 0;
  let quoted = false;
  for (let i = start[0].length; i < wkt.length; i++) {
    const c = wkt[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === "[") depth++;
    else if (!quoted && c === "]" && --depth === 0) return wkt.slice(start[0].length, i + 1);
  }
  return undefined;
}

const normalName = (name: string) =>
  name.toLowerCase().replace(/^(gcs|d)_/, "").replace(/[^a-z0-9]+/g, "");

/**
 * The CRS names a GeoPackage gives a layer without CRS: its mandatory
 * `srs_id` 0 and -1 entries, which GDAL reads as CRSs of these names (a
 * layer written by a tool that knew no CRS). They say the CRS is unknown, as
 * a Shapefile without `.prj` does: the declared one is assigned.
 */
const UNDEFINED_SRS = /^Undefined (geographic|Cartesian) SRS$/i;

/** A local engineering CRS, in WKT1 (`.prj`, GeoTIFF) or WKT2. */
const LOCAL = /^\s*(LOCAL_CS|ENGCRS|ENGINEERINGCRS)\[/i;

/**
 * Applies the rule to `file`, whose own CRS (as WKT) is `fileWkt`
 * (`undefined` when it has none). Returns the decision or the problem.
 */
export async function decideCrs(
  scratch: GdalScratch,
  file: ManifestFile,
  fileWkt: string | undefined,
): Promise<CrsDecision | ManifestProblem> {
  let declared: CrsInfo;
  try {
    declared = await scratch.gdal.crsInfo(file.crs);
  } catch (error) {
    if (!(error instanceof GdalError)) throw error;
    return {
      code: "unknown_crs",
      message: `File '${file.path}' is declared in ${file.crs}, which is not a CRS GDAL knows ` +
        `(${error.gdalMessage}); declare an EPSG code, e.g. EPSG:4326.`,
      file: file.path,
    };
  }
  if (
    file.assign_crs === true || fileWkt === undefined || fileWkt.trim() === "" ||
    UNDEFINED_SRS.test(wktName(fileWkt) ?? "")
  ) {
    return { crs: file.crs, source: "declared", declared };
  }
  // A compound CRS is judged by its horizontal part (the declared CRS is AUTHORITY:CODE).
  fileWkt = horizontalOf(fileWkt) ?? fileWkt;
  const code = wktCode(fileWkt);
  const name = wktName(fileWkt) ?? "an unnamed CRS";
  const declaredName = wktName(declared.wkt) ?? file.crs;
  const sameName = normalName(name) === normalName(declaredName);
  // A 3D geographic file (lon/lat/height, as GPS exports) agrees with the 2D
  // CRS of the same datum: heights are kept, the horizontal CRS is the same.
  const horizontal = isGeographic3d(fileWkt) && /^\s*GEOGCRS\[/.test(declared.wkt) && sameName;
  // The declared code as GDAL resolved it: a deprecated code GDAL replaces
  // (EPSG:3785, the old Web Mercator, is EPSG:3857 to GDAL, which also reads
  // the GeoTIFF key 3785 as EPSG:3857) names the file's CRS.
  const resolved = wktCode(declared.wkt);
  const agrees = horizontal ||
    (code !== undefined
      ? canonical(code) === canonical(file.crs) ||
        (resolved !== undefined && canonical(code) === canonical(resolved)) ||
        await sameDefinition(scratch, fileWkt, declared)
      : sameName || await sameDefinition(scratch, fileWkt, declared));
  if (!agrees && LOCAL.test(fileWkt)) {
    const fix = file.type === "vector"
      ? `ogr2ogr -a_srs ${file.crs} out.gpkg in.shp`
      : `gdal_edit.py -a_srs ${file.crs} in.tif`;
    return {
      code: "crs_mismatch",
      message: `File '${file.path}' is in a local engineering CRS (${name}): coordinates on ` +
        "no datum, which nothing places on Earth, so no declared CRS can agree with it. If " +
        `its coordinates are in fact in ${file.crs} (${declaredName}), set "assign_crs": true ` +
        `on this file in the manifest (GDAL's -a_srs), or give the file that CRS (${fix}); ` +
        "otherwise georeference it to a real CRS first.",
      file: file.path,
    };
  }
  if (!agrees) {
    return {
      code: "crs_mismatch",
      message: `File '${file.path}' is in ${code ?? "a CRS without code"} (${name}) but the ` +
        `manifest declares ${file.crs} (${declaredName}); fix files[].crs, or the file's own ` +
        "CRS (e.g. its .prj)." + (
          file.type === "vector" && file.format === "geojson" && /4326|CRS84/.test(code ?? "")
            ? " A GeoJSON is longitude/latitude on WGS84 (RFC 7946) unless it names another " +
              `CRS in a legacy "crs" member: if its coordinates are in ${file.crs}, add ` +
              `"crs": {"type": "name", "properties": {"name": "${file.crs}"}} to it, or ` +
              "convert it to longitude/latitude."
            : ""
        ),
      file: file.path,
    };
  }
  return {
    crs: code !== undefined && !horizontal ? canonical(code) : file.crs,
    source: "file",
    declared,
  };
}

/** PROJJSON keys that name or describe a CRS without changing where its coordinates are. */
const DESCRIPTIVE = new Set([
  "$schema",
  "id",
  "ids",
  "bbox",
  "area",
  "scope",
  "usages",
  "remarks",
  "abbreviation",
  "accuracy",
  "members",
]);

/**
 * A CRS's PROJJSON reduced to what places coordinates: names of the CRS, its
 * base CRS, ellipsoid and axes dropped; a datum ensemble taken as its datum
 * (EPSG:4326's "World Geodetic System 1984 ensemble" is MapInfo's "World
 * Geodetic System 1984"); method and parameter names kept, they say what the
 * numbers mean.
 */
function definition(value: unknown, parent = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => definition(v, parent));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (DESCRIPTIVE.has(key)) continue;
    if (key === "unit") {
      out.unit = unitOf(v);
      continue;
    }
    // A projected CRS's base is used in its own normalised axis order: whether it lists
    // latitude first (EPSG:4326 under EPSG:3857) or longitude (under ESRI:102100) moves nothing.
    if (key === "coordinate_system" && parent === "base_crs") continue;
    if (key === "name") {
      if (parent === "method" || parent === "parameters") out.name = v;
      else if (parent === "datum") out.name = normalName(String(v).replace(/ ensemble$/i, ""));
      continue;
    }
    const name = key === "datum_ensemble" ? "datum" : key;
    out[name] = definition(key === "parameters" ? parallelsInOrder(v) : v, name);
  }
  // A datum ensemble's type is left out of some PROJJSON writers' output.
  if (parent === "datum") delete out.type;
  return out;
}

/**
 * A conic projection's parameters with its two standard parallels in
 * ascending order: Lambert's and Albers' cones are the same whichever is
 * named first, and ESRI's State Plane definitions name them in the other
 * order than EPSG's (ESRI:102718 and EPSG:2263, New York Long Island).
 */
function parallelsInOrder(parameters: unknown): unknown {
  if (!Array.isArray(parameters)) return parameters;
  const at = (n: string) =>
    parameters.findIndex((p) => (p as { name?: unknown } | null)?.name === n);
  const first = at("Latitude of 1st standard parallel");
  const second = at("Latitude of 2nd standard parallel");
  if (first < 0 || second < 0) return parameters;
  const [a, b] = [parameters[first], parameters[second]] as { value?: unknown }[];
  if (!(Number(a!.value) > Number(b!.value))) return parameters;
  const out = [...parameters];
  out[first] = { ...a, value: b!.value };
  out[second] = { ...b, value: a!.value };
  return out;
}

/** The units PROJJSON writes by name alone (`"unit": "degree"`), with their type and factor. */
const UNIT_SHORTHAND: Record<string, [string, number]> = {
  metre: ["LinearUnit", 1],
  degree: ["AngularUnit", Math.PI / 180],
  unity: ["ScaleUnit", 1],
};

/**
 * A unit as its type and conversion factor (12 significant digits): PROJ
 * writes EPSG's degree as `"degree"` in one CRS and as `{"name": "Degree",
 * "conversion_factor": 0.0174532925199433}` in another (ESRI:102100 beside
 * EPSG:3857), the same unit.
 */
function unitOf(unit: unknown): unknown {
  const [type, factor] = typeof unit === "string"
    ? UNIT_SHORTHAND[unit] ?? [unit, NaN]
    : unit !== null && typeof unit === "object" && "conversion_factor" in unit
    ? [String((unit as { type?: unknown }).type), Number(unit.conversion_factor)]
    : [JSON.stringify(unit), NaN];
  return { type, factor: Number.isNaN(factor) ? null : Number(factor.toPrecision(12)) };
}

/** The WGS 84 ellipsoid's defining numbers (EPSG:7030). */
const WGS84_ELLIPSOID = { semi_major_axis: 6378137, inverse_flattening: 298.257223563 };

/**
 * A CRS bound to WGS 84 by a transformation that moves nothing (a `.prj`
 * or GeoTIFF written from a PROJ string like `+ellps=WGS84
 * +towgs84=0,0,0`, as older tools and R's raster wrote them) on the WGS 84
 * ellipsoid, as the CRS on the WGS 84 datum it is: GDAL names its datum
 * "Unknown based on WGS84 ellipsoid using towgs84=0,0,0" and binds it, so
 * a UTM grid written so did not compare equal to EPSG:326xx, and its batch
 * was refused though every coordinate is where EPSG:326xx puts it. Any
 * other PROJJSON is returned as it is.
 */
function unbound(projjson: Record<string, unknown>): Record<string, unknown> {
  if (projjson.type !== "BoundCRS") return projjson;
  const target = projjson.target_crs as { id?: { authority?: string; code?: unknown } };
  const transformation = projjson.transformation as {
    parameters?: { value?: unknown }[];
  };
  const source = projjson.source_crs as Record<string, unknown> | undefined;
  const nullShift = (transformation?.parameters ?? []).every((p) => p.value === 0);
  const toWgs84 = target?.id?.authority === "EPSG" && Number(target.id.code) === 4326;
  if (source === undefined || !nullShift || !toWgs84) return projjson;
  const onWgs84 = (crs: Record<string, unknown>): Record<string, unknown> | undefined => {
    const datum = crs.datum as { ellipsoid?: Record<string, unknown> } | undefined;
    if (datum !== undefined) {
      const e = datum.ellipsoid ?? {};
      const same = e.semi_major_axis === WGS84_ELLIPSOID.semi_major_axis &&
        e.inverse_flattening === WGS84_ELLIPSOID.inverse_flattening;
      return same ? { ...crs, datum: { ...datum, name: "World Geodetic System 1984" } } : undefined;
    }
    const base = crs.base_crs as Record<string, unknown> | undefined;
    const onBase = base === undefined ? undefined : onWgs84(base);
    return onBase === undefined ? undefined : { ...crs, base_crs: onBase };
  };
  return onWgs84(source) ?? projjson;
}

/** Whether the file's CRS (WKT, without code) is the declared one under another name. */
async function sameDefinition(
  scratch: GdalScratch,
  fileWkt: string,
  declared: CrsInfo,
): Promise<boolean> {
  let resolved: CrsInfo;
  try {
    resolved = await scratch.gdal.crsInfo(fileWkt);
  } catch (error) {
    if (error instanceof GdalError) return false;
    throw error;
  }
  return JSON.stringify(definition(unbound(resolved.projjson))) ===
    JSON.stringify(definition(declared.projjson));
}

/**
 * The area of use `[west, south, east, north]` of a geographic CRS, from its
 * PROJJSON (`bbox`), or `undefined` for a projected CRS or one PROJ gives no
 * area for. A geographic CRS whose area crosses the antimeridian gets the
 * whole longitude range.
 */
export function geographicAreaOfUse(
  projjson: Record<string, unknown>,
): [number, number, number, number] | undefined {
  if (projjson.type !== "GeographicCRS") return undefined;
  const bbox = projjson.bbox as Record<string, number> | undefined;
  if (bbox === undefined) return [-180, -90, 180, 90];
  const { west_longitude: w, south_latitude: s, east_longitude: e, north_latitude: n } = bbox;
  if ([w, s, e, n].some((v) => typeof v !== "number")) return [-180, -90, 180, 90];
  return w! <= e! ? [w!, s!, e!, n!] : [-180, s!, 180, n!];
}
