/**
 * `ogr2ogr -makevalid` for a layer streamed into a FlatGeobuf on the wasm
 * engine (see formats/flatgeobuf_pages.ts): gdal3.js converts the layer
 * without it, the rows JavaScript cannot prove valid (formats/valid_geometry.ts)
 * are picked out of the FlatGeobuf while GDAL writes it, made valid by GDAL
 * on their own in one call, and written in their place by the GeoParquet
 * writer. MakeValid returns a valid geometry unchanged (see _make_valid.ts),
 * so the output is the whole-layer `-makevalid` one.
 *
 * Why: the GeoPackage route (_make_valid.ts, _chunks.ts) spent most of its
 * time in SQLite inside the WebAssembly. Measured on 350k polygons
 * (bench/spatial.ts's generator, gdal3.js, CPU of the process): two parts
 * converted to GeoPackages 6.3 s, made valid in place 2.6 s, appended 0.5 s,
 * written 4.1 s (13.5 s); one call to a streamed FlatGeobuf 2.8 s, written
 * 2.5 s (5.3 s).
 *
 * The rows made valid go to GDAL as GeoJSON, their coordinates printed as
 * JavaScript prints a number (the shortest text that reads back as the same
 * double), so GDAL reads exactly the geometry the FlatGeobuf holds.
 *
 * @module
 */

import type { GdalScratch, OpenOptions } from "../../resources/spatial/gdal.ts";
import { visitFlatGeobuf } from "../../formats/flatgeobuf_pages.ts";
import { provenValid } from "../../formats/valid_geometry.ts";

/** A number as GeoJSON text that reads back as the same double (`-0` kept). */
function num(v: number): string {
  return Object.is(v, -0) ? "-0.0" : String(v);
}

/** ISO WKB (little-endian, as formats/flatgeobuf_pages.ts writes it) as a GeoJSON geometry. */
class WkbToJson {
  #view: DataView;
  #at = 0;

  constructor(wkb: Uint8Array) {
    this.#view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  }

  /** The geometry's GeoJSON text, or `undefined` when GeoJSON cannot hold it exactly. */
  geometry(): string | undefined {
    const text = this.#geometry();
    return this.#at === this.#view.byteLength ? text : undefined;
  }

  #header(): { type: number; dims: number } | undefined {
    if (this.#view.getUint8(this.#at) !== 1) return undefined;
    const code = this.#view.getUint32(this.#at + 1, true);
    this.#at += 5;
    const base = code % 1000;
    const dims = code >= 1000 && code < 2000 ? 3 : code < 1000 ? 2 : 0;
    return dims === 0 ? undefined : { type: base, dims };
  }

  #count(): number {
    const n = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return n;
  }

  #point(dims: number): string | undefined {
    const values: string[] = [];
    for (let d = 0; d < dims; d++) {
      const v = this.#view.getFloat64(this.#at, true);
      this.#at += 8;
      if (!Number.isFinite(v)) return undefined; // An empty point (NaN) or worse.
      values.push(num(v));
    }
    return `[${values.join(",")}]`;
  }

  /** A count, then as many items read by `item`, as a JSON array. */
  #list(item: () => string | undefined): string | undefined {
    const n = this.#count();
    const items: string[] = [];
    for (let i = 0; i < n; i++) {
      const text = item();
      if (text === undefined) return undefined;
      items.push(text);
    }
    return `[${items.join(",")}]`;
  }

  #line(dims: number): string | undefined {
    return this.#list(() => this.#point(dims));
  }

  #polygon(dims: number): string | undefined {
    return this.#list(() => this.#line(dims));
  }

  #members(type: number, dims: number, read: (dims: number) => string | undefined) {
    return this.#list(() => {
      const header = this.#header();
      return header?.type === type && header.dims === dims ? read(dims) : undefined;
    });
  }

  #geometry(): string | undefined {
    const header = this.#header();
    if (header === undefined) return undefined;
    const { type, dims } = header;
    const coordinates = (name: string, c: string | undefined) =>
      c === undefined ? undefined : `{"type":"${name}","coordinates":${c}}`;
    switch (type) {
      case 1:
        return coordinates("Point", this.#point(dims));
      case 2:
        return coordinates("LineString", this.#line(dims));
      case 3:
        return coordinates("Polygon", this.#polygon(dims));
      case 4:
        return coordinates("MultiPoint", this.#members(1, dims, (d) => this.#point(d)));
      case 5:
        return coordinates("MultiLineString", this.#members(2, dims, (d) => this.#line(d)));
      case 6:
        return coordinates("MultiPolygon", this.#members(3, dims, (d) => this.#polygon(d)));
      default:
        // Collections (their members' dimensions may differ) and curves: not here.
        return undefined;
    }
  }
}

/** `wkb` as a GeoJSON geometry's text, or `undefined` when GeoJSON cannot carry it exactly. */
export function wkbToGeoJson(wkb: Uint8Array): string | undefined {
  try {
    return new WkbToJson(wkb).geometry();
  } catch (error) {
    if (error instanceof RangeError) return undefined; // Cut short.
    throw error;
  }
}

/**
 * The geometries of `rows` made valid by GDAL (`ogr2ogr -makevalid`, one
 * call), by the same row ids, as WKB read the way the streamed layer is
 * read; `undefined` when that cannot give exactly what a whole-layer
 * `-makevalid` gives: a geometry GeoJSON cannot carry exactly (an empty
 * point, a collection), or one MakeValid turned into nothing (GDAL's
 * FlatGeobuf writer leaves it out). GDAL's failure is thrown, naming
 * `open.label` (the user's file).
 */
export async function madeValidRows(
  scratch: GdalScratch,
  rows: ReadonlyMap<number, Uint8Array>,
  outputName: string,
  options: { hasZ: boolean; open: OpenOptions },
): Promise<Map<number, Uint8Array> | undefined> {
  const ids = [...rows.keys()];
  const features: string[] = [];
  for (const id of ids) {
    const geometry = wkbToGeoJson(rows.get(id)!);
    if (geometry === undefined) return undefined;
    features.push(`{"type":"Feature","properties":{},"geometry":${geometry}}`);
  }
  const input = scratch.hostPath(`${outputName}.geojson`);
  await Deno.writeTextFile(
    input,
    `{"type":"FeatureCollection","features":[\n${features.join(",\n")}\n]}\n`,
  );
  let fixed: string | undefined;
  try {
    fixed = scratch.toHost(
      await scratch.gdal.ogr2ogr(
        scratch.gdalPath(`${outputName}.geojson`),
        [
          ...["-f", "FlatGeobuf", "-lco", "SPATIAL_INDEX=NO", "-nln", "fixed"],
          ...["-nlt", options.hasZ ? "GEOMETRY25D" : "GEOMETRY", "-makevalid"],
        ],
        `${outputName}_fixed`,
        options.open,
      ),
    );
    const made = new Map<number, Uint8Array>();
    let next = 0;
    const read = await visitFlatGeobuf(fixed, (page) => {
      for (const wkb of page.wkbs) {
        const id = ids[next++];
        if (id !== undefined && wkb !== null) made.set(id, wkb.slice());
      }
    }, options.open.label === undefined ? {} : { label: options.open.label });
    return read === ids.length && made.size === ids.length ? made : undefined;
  } finally {
    await Deno.remove(input);
    if (fixed !== undefined) await Deno.remove(fixed).catch(() => {});
  }
}

/** Thrown by {@linkcode repairsWhileStreaming} when a row cannot be made valid apart exactly. */
export class NotRepairable extends Error {
  /** A stable code, for callers that fall back to another route. */
  readonly code = "spatial.not_repairable";
}

/** Rows of the layer scanned between two calls that make valid apart. */
export const REPAIR_WINDOW = 131_072;

/**
 * The rows of the FlatGeobuf at `fgbPath` (read while `follow`, GDAL's
 * conversion into it, is pending) made valid apart, while GDAL writes it:
 * each window of {@linkcode REPAIR_WINDOW} rows scanned, its doubtful rows
 * (those {@linkcode provenValid} cannot prove valid; null
 * geometries are left out, MakeValid has nothing to do on them) are made valid in one call
 * ({@linkcode madeValidRows}), on the engine's next free instance. The
 * GeoParquet writer can then follow GDAL one window behind, asking
 * `upTo(rowid)` before each page (formats/flatgeobuf_pages.ts `replace`).
 * `upTo` rejects with {@linkcode NotRepairable} when a row cannot be made
 * valid apart exactly, or with GDAL's failure (naming `options.open.label`).
 */
export function repairsWhileStreaming(
  scratch: GdalScratch,
  fgbPath: string,
  follow: PromiseLike<unknown>,
  outputName: string,
  options: { hasZ: boolean; open: OpenOptions; window?: number },
): { upTo(rowid: number): Promise<ReadonlyMap<number, Uint8Array>>; done: Promise<number> } {
  const window = options.window ?? REPAIR_WINDOW;
  const made = new Map<number, Uint8Array>();
  let covered = 0;
  let failure: { error: unknown } | undefined;
  const waiting: { rowid: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const wake = () => {
    for (let i = waiting.length - 1; i >= 0; i--) {
      const w = waiting[i]!;
      if (failure !== undefined) w.reject(failure.error);
      else if (covered >= w.rowid) w.resolve();
      else continue;
      waiting.splice(i, 1);
    }
  };
  let calls = 0;
  let chain: Promise<void> = Promise.resolve();
  let pending = new Map<number, Uint8Array>();
  const flush = (through: number) => {
    const rows = pending;
    pending = new Map();
    chain = chain.then(async () => {
      if (rows.size > 0) {
        const fixed = await madeValidRows(scratch, rows, `${outputName}${calls++}`, options);
        if (fixed === undefined) throw new NotRepairable("a row cannot be made valid apart");
        for (const [id, wkb] of fixed) made.set(id, wkb);
      }
      covered = through;
      wake();
    });
    // A failed call fails the waiting writer at once (`done` rejects with it too).
    chain.catch((error: unknown) => {
      failure ??= { error };
      wake();
    });
  };
  let flushedAt = 0;
  const done = visitFlatGeobuf(fgbPath, (page) => {
    page.wkbs.forEach((wkb, i) => {
      if (wkb !== null && !provenValid(wkb)) pending.set(page.rowids[i]!, wkb.slice());
    });
    const last = page.rowids[page.length - 1] ?? flushedAt;
    if (last - flushedAt >= window) {
      flush(last);
      flushedAt = last;
    }
  }, {
    attributes: false,
    follow,
    ...(options.open.label === undefined ? {} : { label: options.open.label }),
  }).then(async (rows) => {
    flush(Number.POSITIVE_INFINITY);
    await chain;
    return rows;
  }).catch((error: unknown) => {
    failure ??= { error };
    wake();
    throw error;
  });
  return {
    upTo(rowid) {
      if (failure !== undefined) return Promise.reject(failure.error);
      if (covered >= rowid) return Promise.resolve(made);
      return new Promise((resolve, reject) => {
        waiting.push({ rowid, resolve: () => resolve(made), reject });
      });
    },
    done,
  };
}
