/**
 * Which files a GDAL VRT reads, and whether all of them are files of its own
 * batch. A raster VRT (`gdalbuildvrt`'s mosaic of tiles, a `gdal_translate
 * -of VRT` subset) or an OGR (vector) VRT (layers of a Shapefile or a CSV's
 * X/Y columns, as QGIS and GIS tutorials write them) is published like any
 * file of its kind when every source it names is a path relative to the VRT
 * (`relativeToVRT="1"`) that stays inside the batch folder.
 *
 * Anything else is refused before GDAL opens it: an absolute path
 * (`/etc/passwd`), one that climbs out (`../other-batch/x.tif`), a GDAL
 * connection string or network path (`/vsicurl/`, `http:`, `vrt://`,
 * `NETCDF:"x.nc":var`, `PG:`: every `:` and `\`), a DTD (entities that could
 * hide a path from this reading), Python pixel functions; in an OGR VRT also
 * SQL (`<SrcSQL>`: OGR SQL joins any datasource by path, SQLite SQL may
 * ATTACH one), a CRS that is not a definition (GDAL reads a CRS from a file
 * named there) and open options other than the column and text options of
 * the CSV, GeoJSON and Shapefile drivers. GDAL reads element and attribute
 * names of a VRT without regard to case, and so does this check. A staged
 * raster VRT is checked again after GDAL opened it: every file GDAL lists for
 * it must lie in its folder (`_batch.ts`).
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";
import { toError } from "../../core/errors.ts";

/**
 * The sources a VRT reads (relative to its folder) and whether it is a raster
 * VRT or an OGR (vector) one, or why it is refused.
 */
export type VrtSources = { sources: string[]; kind: "raster" | "vector" } | { why: string };

/** Elements whose text is a file GDAL opens (raster VRT, warped, pansharpened, processed). */
const PATH_ELEMENTS = new Set(["sourcefilename", "sourcedataset"]);

/** Elements of an OGR VRT whose text is a file GDAL opens. */
const OGR_PATH_ELEMENTS = new Set(["srcdatasource"]);

/** Elements of an OGR VRT whose text is a CRS, which GDAL may read from a file of that name. */
const OGR_SRS_ELEMENTS = new Set(["layersrs", "srcsrs", "targetsrs", "srs"]);

/**
 * A CRS given as a definition, not as a file: `EPSG:4326`,
 * `urn:ogc:def:crs:EPSG::4326`, WKT, PROJJSON, a PROJ string, or one of
 * GDAL's well-known names.
 */
const SRS_DEFINITION =
  /^(?:[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_.:]+|[A-Za-z_0-9]+\s*\[[\s\S]*|\{[\s\S]*|\+[^/\\]*|WGS84|WGS72|NAD27|NAD83|CRS84|CRS83|CRS27)$/i;

/** Whether the CRS text of an OGR VRT is a definition (a PROJ string's `+init=` reads a file). */
const srsDefinition = (srs: string) => SRS_DEFINITION.test(srs) && !/\binit\s*=/i.test(srs);

/** OGR VRT open options (`<OOI key=...>`) that read columns or text, never a file. */
const SAFE_OPEN_OPTIONS = new Set([
  "X_POSSIBLE_NAMES",
  "Y_POSSIBLE_NAMES",
  "Z_POSSIBLE_NAMES",
  "GEOM_POSSIBLE_NAMES",
  "KEEP_GEOM_COLUMNS",
  "AUTODETECT_TYPE",
  "AUTODETECT_WIDTH",
  "AUTODETECT_SIZE_LIMIT",
  "QUOTED_FIELDS_AS_STRING",
  "EMPTY_STRING_AS_NULL",
  "HEADERS",
  "SEPARATOR",
  "MERGE_SEPARATOR",
  "MAX_LINE_SIZE",
  "ENCODING",
  "FLATTEN_NESTED_ATTRIBUTES",
  "NESTED_ATTRIBUTE_SEPARATOR",
  "ARRAY_AS_STRING",
  "DATE_AS_STRING",
  "NATIVE_DATA",
  "ADJUST_TYPE",
  "ADJUST_GEOM_TYPE",
  "DBF_DATE_LAST_UPDATE",
  "AUTO_REPACK",
  "DBF_EOF_CHAR",
]);

/** Characters of no file name a GIS export writes: GDAL prefixes, Windows paths, entities. */
const UNSAFE = /[:\\&<>"|?*]/;

/** Whether `segment` (of a relative path) holds a control character. */
const hasControl = (segment: string) => [...segment].some((c) => c.charCodeAt(0) < 0x20);

type XmlNode = Record<string, unknown>;

const REMEDY = "; upload the files it reads instead, or one GeoTIFF of it " +
  "(gdal_translate -of COG mosaic.vrt mosaic.tif)";

const OGR_REMEDY = "; upload the files it reads instead, or one file of it " +
  "(ogr2ogr -f GPKG layers.gpkg layers.vrt)";

/** Whether `source` (as the VRT names it) is a plain relative path inside the VRT's folder. */
function insideFolder(source: string): boolean {
  if (source === "" || source.startsWith("/")) return false;
  return source.split("/").every((s) =>
    s !== "" && s !== "." && s !== ".." && !UNSAFE.test(s) && !hasControl(s)
  );
}

/** The text content of a node of fast-xml-parser's ordered tree. */
function textOf(children: unknown): string {
  if (!Array.isArray(children)) return "";
  return children.map((c) => {
    const node = c as XmlNode;
    return "#text" in node ? String(node["#text"]) : "";
  }).join("");
}

/**
 * The sources of the raster or OGR VRT `xml` (its text), each relative to the
 * VRT's folder, or why it is refused (the remedy included).
 */
export function vrtSources(xml: string): VrtSources {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    return { why: `it is a VRT file with a DTD, which no GDAL tool writes${REMEDY}` };
  }
  let tree: XmlNode[];
  try {
    tree = new XMLParser({
      preserveOrder: true,
      ignoreAttributes: false,
      attributeNamePrefix: "",
      parseTagValue: false,
      parseAttributeValue: false,
      trimValues: true,
      processEntities: true,
    }).parse(xml, true) as XmlNode[];
  } catch (error) {
    return {
      why: `it is a VRT file that is not well-formed XML (${toError(error).message})${REMEDY}`,
    };
  }
  const roots = tree.flatMap((n) => Object.keys(n).filter((k) => !k.startsWith("?") && k !== ":@"));
  const root = roots.length === 1 ? roots[0]!.toLowerCase() : "";
  if (root !== "vrtdataset" && root !== "ogrvrtdatasource") {
    return {
      why: `it is not a GDAL VRT (its root element is ${roots.join(", ") || "missing"})${REMEDY}`,
    };
  }
  const ogr = root === "ogrvrtdatasource";
  const paths = ogr ? OGR_PATH_ELEMENTS : PATH_ELEMENTS;
  const sources = new Set<string>();
  const problems: string[] = [];
  // What an OGR VRT does besides naming files, each a way to read one elsewhere.
  const risky: string[] = [];
  const walk = (nodes: unknown) => {
    if (!Array.isArray(nodes)) return;
    for (const node of nodes as XmlNode[]) {
      for (const [name, children] of Object.entries(node)) {
        if (name === ":@" || name === "#text") continue;
        const lower = name.toLowerCase();
        const attributes = (node[":@"] ?? {}) as Record<string, string>;
        const attribute = (wanted: string) =>
          Object.entries(attributes).find(([k]) => k.toLowerCase() === wanted)?.[1];
        if (paths.has(lower)) {
          const named = textOf(children).trim();
          // `./roads.shp` (as hand-written VRTs name their neighbours) is `roads.shp`.
          const source = named.replace(/^(\.\/)+/, "");
          if (attribute("relativetovrt")?.trim() !== "1" || !insideFolder(source)) {
            problems.push(`'${named.slice(0, 200)}'`);
          } else {
            sources.add(source);
          }
          continue;
        }
        if (ogr && lower === "srcsql") {
          risky.push("runs SQL (<SrcSQL>)");
          continue;
        }
        if (ogr && OGR_SRS_ELEMENTS.has(lower)) {
          const srs = textOf(children).trim();
          if (!srsDefinition(srs)) risky.push(`reads its CRS from '${srs.slice(0, 200)}'`);
          continue;
        }
        if (ogr && lower === "ooi") {
          const key = (attribute("key") ?? "").trim().toUpperCase();
          if (!SAFE_OPEN_OPTIONS.has(key)) risky.push(`sets the open option '${key.slice(0, 64)}'`);
          continue;
        }
        if (
          lower === "pixelfunctioncode" ||
          (lower === "pixelfunctionlanguage" && textOf(children).trim().toLowerCase() !== "")
        ) {
          problems.push("a Python pixel function");
          continue;
        }
        walk(children);
      }
    }
  };
  walk(tree);
  if (risky.length > 0 && problems.length === 0) {
    return {
      why:
        `it is an OGR VRT that ${
          risky.slice(0, 3).join(", ")
        }, which may read files outside the batch (an OGR VRT may only name files of its own ` +
        `batch, relative to it: relativeToVRT="1", and CRS definitions such as EPSG:4326)` +
        OGR_REMEDY,
    };
  }
  if (problems.length > 0) {
    return {
      why:
        `it is a VRT file that reads ${
          problems.slice(0, 3).join(", ")
        }, not a file beside it in the batch (a VRT may read only files of its own batch, ` +
        `named relative to it: relativeToVRT="1"${ogr ? "" : ", as gdalbuildvrt writes"})${
          ogr ? OGR_REMEDY : REMEDY
        }`,
    };
  }
  return { sources: [...sources], kind: ogr ? "vector" : "raster" };
}
