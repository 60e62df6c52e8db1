/**
 * Which files a GDAL raster VRT (`gdalbuildvrt`'s mosaic of tiles, a
 * `gdal_translate -of VRT` subset) reads, and whether all of them are files
 * of its own batch: a VRT is published like any raster when every source it
 * names is a path relative to the VRT (`relativeToVRT="1"`, as
 * `gdalbuildvrt` writes beside its tiles) that stays inside the batch folder.
 *
 * Anything else is refused before GDAL opens it: an absolute path
 * (`/etc/passwd`), one that climbs out (`../other-batch/x.tif`), a GDAL
 * connection string or network path (`/vsicurl/`, `http:`, `vrt://`,
 * `NETCDF:"x.nc":var`: every `:` and `\`), a DTD (entities that could hide a
 * path from this reading), Python pixel functions, and OGR (vector) VRTs.
 * GDAL reads element and attribute names of a VRT without regard to case, and
 * so does this check. The staged VRT is checked again after GDAL opened it:
 * every file GDAL lists for it must lie in its folder (`_batch.ts`).
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";
import { toError } from "../../core/errors.ts";

/** The sources a VRT reads (relative to its folder), or why it is refused. */
export type VrtSources = { sources: string[] } | { why: string };

/** Elements whose text is a file GDAL opens (raster VRT, warped, pansharpened, processed). */
const PATH_ELEMENTS = new Set(["sourcefilename", "sourcedataset"]);

/** Characters of no file name a GIS export writes: GDAL prefixes, Windows paths, entities. */
const UNSAFE = /[:\\&<>"|?*]/;

/** Whether `segment` (of a relative path) holds a control character. */
const hasControl = (segment: string) => [...segment].some((c) => c.charCodeAt(0) < 0x20);

type XmlNode = Record<string, unknown>;

const REMEDY = "; upload the files it reads instead, or one GeoTIFF of it " +
  "(gdal_translate -of COG mosaic.vrt mosaic.tif)";

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
 * The sources of the raster VRT `xml` (its text), each relative to the VRT's
 * folder, or why it is refused (the remedy included).
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
  if (roots.length !== 1 || roots[0]!.toLowerCase() !== "vrtdataset") {
    return {
      why: roots.some((r) => r.toLowerCase() === "ogrvrtdatasource")
        ? "it is an OGR VRT (a vector VRT), which may point outside the batch; upload the " +
          "files it reads instead (or one file of it: ogr2ogr -f GPKG layers.gpkg layers.vrt)"
        : `it is not a raster VRT (its root element is ${roots.join(", ") || "missing"})${REMEDY}`,
    };
  }
  const sources = new Set<string>();
  const problems: string[] = [];
  const walk = (nodes: unknown) => {
    if (!Array.isArray(nodes)) return;
    for (const node of nodes as XmlNode[]) {
      for (const [name, children] of Object.entries(node)) {
        if (name === ":@" || name === "#text") continue;
        const lower = name.toLowerCase();
        const attributes = (node[":@"] ?? {}) as Record<string, string>;
        const attribute = (wanted: string) =>
          Object.entries(attributes).find(([k]) => k.toLowerCase() === wanted)?.[1];
        if (PATH_ELEMENTS.has(lower)) {
          const source = textOf(children).trim();
          if (attribute("relativetovrt")?.trim() !== "1" || !insideFolder(source)) {
            problems.push(`'${source.slice(0, 200)}'`);
          } else {
            sources.add(source);
          }
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
  if (problems.length > 0) {
    return {
      why:
        `it is a VRT file that reads ${
          problems.slice(0, 3).join(", ")
        }, not a file beside it in the batch (a VRT may read only files of its own batch, ` +
        `named relative to it: relativeToVRT="1", as gdalbuildvrt writes)${REMEDY}`,
    };
  }
  return { sources: [...sources] };
}
