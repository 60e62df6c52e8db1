/**
 * The map preview: the geometries of a batch's GeoParquet layers and the
 * footprints of its COGs, drawn as SVG with a d3-geo planar projection fitted
 * to them — no tile server, no script. GeoParquet is read with parquet-wasm and
 * apache-arrow (the libraries that write it), WKB decoded by wkx.
 *
 * @module
 */

// @ts-types="@types/d3-geo"
import {
  type ExtendedFeature,
  type ExtendedFeatureCollection,
  type GeoGeometryObjects,
  geoIdentity,
  geoPath,
} from "d3-geo";
import * as parquet from "parquet-wasm";
import { tableFromIPC } from "apache-arrow";
import wkxModule from "wkx";
import { Buffer } from "node:buffer";
import { toError } from "../../core/errors.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { UiContext } from "../context.ts";
import { empty, escapeText, h, type Html, trusted } from "../html.ts";
import { objectHref } from "./lake.ts";

const wkx = wkxModule as unknown as {
  Geometry: { parse(bytes: Buffer): { toGeoJSON(): GeoGeometryObjects } };
};

/** Features drawn per layer at most. */
export const MAX_FEATURES = 5000;
/** GeoParquet files larger than this are not previewed. */
export const MAX_PREVIEW_BYTES = 64 * 1024 * 1024;

/** A layer ready to draw. */
export interface MapLayer {
  /** Object key. */
  readonly key: string;
  /** `geoparquet` or `cog`. */
  readonly format: string;
  /** Features (COG: its footprint). */
  readonly features: ExtendedFeature[];
  /** Features in the file, when more than drawn. */
  readonly total: number;
}

/** Reads the geometries of a GeoParquet file (its `geo` metadata's primary column). */
export function readGeoParquet(
  bytes: Uint8Array,
  max = MAX_FEATURES,
): { features: ExtendedFeature[]; total: number } {
  const table = tableFromIPC(parquet.readParquet(bytes).intoIPCStream());
  const geo = table.schema.metadata.get("geo");
  const column = geo ? String(JSON.parse(geo).primary_column ?? "geometry") : "geometry";
  const geometry = table.getChild(column);
  if (!geometry) throw new Error(`no geometry column '${column}'`);
  const names = table.schema.fields.map((f) => f.name).filter((n) => n !== column && n !== "bbox");
  const features: ExtendedFeature[] = [];
  const n = Math.min(table.numRows, max);
  for (let i = 0; i < n; i++) {
    const wkb = geometry.get(i) as Uint8Array | null;
    if (!wkb) continue;
    const properties: Record<string, unknown> = {};
    for (const name of names.slice(0, 6)) {
      const v = table.getChild(name)?.get(i);
      properties[name] = typeof v === "bigint" ? Number(v) : v;
    }
    features.push({
      type: "Feature",
      geometry: wkx.Geometry.parse(Buffer.from(wkb)).toGeoJSON(),
      properties,
    });
  }
  return { features, total: table.numRows };
}

/** Batches with spatial outputs, newest first, from the ledger. */
export async function spatialDocuments(ctx: UiContext): Promise<LedgerDocument[]> {
  const open = ctx.ledger();
  if (!open) return [];
  const ledger = await open;
  const docs: LedgerDocument[] = [];
  let after: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await ledger.scan({ limit: 1000, ...(after ? { after } : {}) });
    docs.push(...page.filter((d) => d.format === "geoparquet" || d.format === "cog"));
    if (page.length < 1000) break;
    after = page.at(-1)?.id;
  }
  return docs.reverse();
}

/** The layers of `batch` (GeoParquet geometries and COG footprints). */
export async function batchLayers(
  ctx: UiContext,
  docs: readonly LedgerDocument[],
): Promise<MapLayer[]> {
  const lake = await ctx.lake();
  const layers: MapLayer[] = [];
  const latest = new Map<string, LedgerDocument>();
  for (const d of docs) if (!latest.has(d.key)) latest.set(d.key, d);
  for (const doc of latest.values()) {
    if (doc.format === "cog") {
      const raster = doc.metadata.raster as { footprint?: GeoGeometryObjects } | undefined;
      const footprint = raster?.footprint;
      layers.push({
        key: doc.key,
        format: "cog",
        features: footprint ? [{ type: "Feature", geometry: footprint, properties: {} }] : [],
        total: 1,
      });
      continue;
    }
    if (!lake || doc.size > MAX_PREVIEW_BYTES) {
      layers.push({ key: doc.key, format: doc.format, features: [], total: 0 });
      continue;
    }
    const { features, total } = readGeoParquet(await lake.getBytes(doc.bucket, doc.key));
    layers.push({ key: doc.key, format: doc.format, features, total });
  }
  return layers;
}

const COLORS = ["#2563eb", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2"];

/** The SVG map of `layers`, projected to fit. */
export function mapSvg(layers: readonly MapLayer[], width = 860, height = 560): Html {
  const all: ExtendedFeatureCollection = {
    type: "FeatureCollection",
    features: layers.flatMap((l) => l.features),
  };
  if (all.features.length === 0) return empty("No geometry to draw.");
  // Planar (lon/lat as x/y, north up): a preview needs no sphere, and planar
  // paths do not depend on ring winding, which GeoJSON and d3's spherical
  // model define oppositely.
  const projection = geoIdentity().reflectY(true).fitExtent(
    [[12, 12], [width - 12, height - 12]],
    all,
  );
  const path = geoPath(projection).pointRadius(4);
  const parts: string[] = [];
  layers.forEach((layer, i) => {
    const color = layer.format === "cog" ? "#dc2626" : COLORS[i % COLORS.length] as string;
    parts.push(`<g class="layer ${layer.format}" data-layer="${escapeText(layer.key)}">`);
    for (const f of layer.features) {
      const d = path(f);
      if (!d) continue;
      const label = Object.entries(f.properties ?? {}).map(([k, v]) => `${k}: ${v}`).join(", ");
      parts.push(
        `<path class="feature" d="${d}" stroke="${color}" fill="${
          layer.format === "cog" || (f.geometry?.type ?? "").includes("Line") ? "none" : color
        }"${layer.format === "cog" ? ' stroke-dasharray="6 4"' : ""}><title>${
          escapeText(`${layer.key}${label ? ` — ${label}` : ""}`)
        }</title></path>`,
      );
    }
    parts.push("</g>");
  });
  const legend = layers.map((l, i) =>
    `<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${
      l.format === "cog" ? "#dc2626" : COLORS[i % COLORS.length]
    }"/></svg> ${escapeText(l.key)} (${
      l.format === "cog"
        ? "COG footprint"
        : `${l.features.length}${l.total > l.features.length ? ` of ${l.total}` : ""} features`
    })</span>`
  ).join("");
  return trusted(
    `<svg class="map" role="img" aria-label="map preview" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><rect class="sea" width="${width}" height="${height}"/>${
      parts.join("")
    }</svg><div class="legend">${legend}</div>`,
  );
}

/** The map page: pick a batch, see its layers. */
export async function mapPage(
  ctx: UiContext,
  query: { batch?: string | undefined },
): Promise<Html> {
  if (!ctx.ledger()) {
    return h`<h1>Map</h1><p class="warn">This UI was started without a ledger.</p>`;
  }
  let docs: LedgerDocument[];
  try {
    docs = await spatialDocuments(ctx);
  } catch (error) {
    return h`<h1>Map</h1><p class="warn">Cannot read the ledger: ${toError(error).message}</p>`;
  }
  const batches = [...new Set(docs.map((d) => d.batch_id ?? d.partition ?? "(none)"))];
  if (batches.length === 0) {
    return h`<h1>Map</h1>${
      empty("No GeoParquet or COG in the lake yet: materialize group:spatial.")
    }`;
  }
  const batch = query.batch && batches.includes(query.batch) ? query.batch : batches[0] as string;
  const mine = docs.filter((d) => (d.batch_id ?? d.partition ?? "(none)") === batch);
  let map: Html;
  try {
    map = mapSvg(await batchLayers(ctx, mine));
  } catch (error) {
    map = h`<p class="warn">Cannot draw batch ${batch}: ${toError(error).message}</p>`;
  }
  return h`<h1>Map</h1>
<form method="get" action="/map" class="inline-form"><label>batch <select name="batch">${
    batches.map((b) => h`<option ${b === batch ? "selected" : ""}>${b}</option>`)
  }</select></label><button type="submit">Show</button></form>
<div class="map-box">${map}</div>
<h3>Layers of ${batch}</h3><ul>${
    [...new Map(mine.map((d) => [d.key, d])).values()].map((d) =>
      h`<li><a href="${objectHref(d.bucket, d.key)}">${d.key}</a> (${d.format}, ${
        d.size.toLocaleString("en")
      } bytes)</li>`
    )
  }</ul>`;
}
