/**
 * Just enough WKB reading for GeoParquet: the geometry type name and the
 * bounding box of each geometry, and unwrapping GeoPackage geometry blobs (a
 * small header, then standard WKB).
 *
 * Hand-written on purpose (review item 9): `wkx`, the npm WKB codec, is
 * unmaintained and builds an object per vertex, where this reads the
 * coordinates it needs straight from the bytes.
 *
 * @module
 */

/** GeoParquet names of WKB base types 1-7. */
const TYPE_NAMES = [
  "Unknown",
  "Point",
  "LineString",
  "Polygon",
  "MultiPoint",
  "MultiLineString",
  "MultiPolygon",
  "GeometryCollection",
] as const;

const KNOWN_TYPES = TYPE_NAMES.slice(1);

/**
 * Every geometry type name the readers here give a known WKB type (base
 * types 1-7, with ` Z` when it has Z), as GeoParquet's `geometry_types` lists
 * them: the writer reserves room for the longest list.
 */
export const GEOMETRY_TYPE_NAMES: readonly string[] = KNOWN_TYPES.flatMap((t) => [t, `${t} Z`]);

/** Names of the WKB types GeoParquet cannot hold (ISO 13249-3 / OGC 06-103r4 codes 8-17). */
const OTHER_TYPE_NAMES: Record<number, string> = {
  8: "CircularString",
  9: "CompoundCurve",
  10: "CurvePolygon",
  11: "MultiCurve",
  12: "MultiSurface",
  13: "Curve",
  14: "Surface",
  15: "PolyhedralSurface",
  16: "TIN",
  17: "Triangle",
};

/**
 * A WKB geometry of a type other than the seven GeoParquet holds (a curve, a
 * surface, a TIN), or of a code that is no WKB type at all.
 */
export class WkbTypeError extends RangeError {
  /** The type's name, with ` Z` / ` M` / ` ZM` as the WKB says (`CircularString Z`). */
  readonly typeName: string;
  constructor(type: number, hasZ: boolean, hasM: boolean) {
    const name = `${OTHER_TYPE_NAMES[type] ?? `type ${type}`}${
      hasZ || hasM ? ` ${hasZ ? "Z" : ""}${hasM ? "M" : ""}` : ""
    }`;
    super(`Unsupported WKB geometry ${name}`);
    this.typeName = name;
  }
}

/** Mutable bounding box accumulator: [xmin, ymin, xmax, ymax]. */
export type Box = [number, number, number, number];

/** An empty box, which {@linkcode extendBox} grows. */
export function emptyBox(): Box {
  return [Infinity, Infinity, -Infinity, -Infinity];
}

/** Grows `box` to cover `other`. */
export function extendBox(box: Box, other: Box): void {
  if (other[0] < box[0]) box[0] = other[0];
  if (other[1] < box[1]) box[1] = other[1];
  if (other[2] > box[2]) box[2] = other[2];
  if (other[3] > box[3]) box[3] = other[3];
}

/**
 * The WKB inside a GeoPackage geometry blob, or the blob itself when it is
 * already plain WKB (starts with a byte-order byte, not "GP").
 */
export function gpkgToWkb(blob: Uint8Array): Uint8Array {
  if (blob.length < 8 || blob[0] !== 0x47 || blob[1] !== 0x50) return blob;
  const flags = blob[3]!;
  const envelope = (flags >> 1) & 0x07;
  return blob.subarray(8 + (ENVELOPE_BYTES[envelope] ?? 0));
}

/** Bytes of a GeoPackage envelope by its indicator (0: none, 1: xy, 2: xyz, 3: xym, 4: xyzm). */
const ENVELOPE_BYTES = [0, 32, 48, 48, 64];

// One scratch buffer to read doubles from unaligned bytes without a DataView per row.
const scratchBytes = new Uint8Array(8);
const scratchDouble = new Float64Array(scratchBytes.buffer);

function littleDouble(bytes: Uint8Array, offset: number): number {
  for (let i = 0; i < 8; i++) scratchBytes[i] = bytes[offset + i]!;
  return scratchDouble[0]!;
}

const POINT_TYPE = "Point";

/**
 * Type name and bbox of a geometry blob (GeoPackage or plain WKB), reading
 * as little as possible: a GeoPackage envelope when there is one, the two
 * coordinates of a little-endian 2D point, and only otherwise every vertex.
 */
export function inspectBlob(blob: Uint8Array): { type: string; box: Box } {
  let wkb = blob;
  let envelope: Box | undefined;
  if (blob.length >= 8 && blob[0] === 0x47 && blob[1] === 0x50) {
    const flags = blob[3]!;
    const kind = (flags >> 1) & 0x07;
    const size = [0, 32, 48, 48, 64][kind] ?? 0;
    if (kind !== 0 && (flags & 1) === 1 && (flags & 0x10) === 0) {
      // Envelope order is minx, maxx, miny, maxy.
      envelope = [
        littleDouble(blob, 8),
        littleDouble(blob, 24),
        littleDouble(blob, 16),
        littleDouble(blob, 32),
      ];
    }
    wkb = blob.subarray(8 + size);
  }
  if (
    wkb.length === 21 && wkb[0] === 1 && wkb[1] === 1 && wkb[2] === 0 && wkb[3] === 0 &&
    wkb[4] === 0
  ) {
    const x = littleDouble(wkb, 5);
    const y = littleDouble(wkb, 13);
    if (!Number.isNaN(x) && !Number.isNaN(y)) return { type: POINT_TYPE, box: [x, y, x, y] };
  }
  if (envelope !== undefined && wkb[0] === 1) {
    const code = wkb[1]! | (wkb[2]! << 8) | (wkb[3]! << 16);
    const base = code % 1000;
    const thousands = Math.floor(code / 1000);
    const hasZ = thousands === 1 || thousands === 3;
    return { type: `${TYPE_NAMES[base] ?? "Unknown"}${hasZ ? " Z" : ""}`, box: envelope };
  }
  return inspectWkb(wkb);
}

/** Type name of a WKB geometry from its first five bytes (byte order and type code). */
export function inspectHeaderType(header: Uint8Array): string {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const { type, hasZ } = readHeader(view, { offset: 0 });
  return `${TYPE_NAMES[type] ?? "Unknown"}${hasZ ? " Z" : ""}`;
}

/** Type name (`Point`, `MultiPolygon Z`...) and bbox of one WKB geometry; bbox is empty for EMPTY. */
export function inspectWkb(wkb: Uint8Array): { type: string; box: Box } {
  const view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  const box = emptyBox();
  const reader = { offset: 0 };
  const { type, hasZ } = readGeometry(view, reader, box);
  return { type: `${TYPE_NAMES[type] ?? "Unknown"}${hasZ ? " Z" : ""}`, box };
}

function readHeader(view: DataView, reader: { offset: number }) {
  const little = view.getUint8(reader.offset) === 1;
  let code = view.getUint32(reader.offset + 1, little);
  reader.offset += 5;
  // EWKB flags (PostGIS): Z, M, SRID.
  let hasZ = (code & 0x80000000) !== 0;
  let hasM = (code & 0x40000000) !== 0;
  if (code & 0x20000000) reader.offset += 4;
  code &= 0x0fffffff;
  // ISO WKB: 1000s are Z, 2000s M, 3000s ZM.
  const thousands = Math.floor(code / 1000);
  if (thousands === 1 || thousands === 3) hasZ = true;
  if (thousands === 2 || thousands === 3) hasM = true;
  return { little, type: code % 1000, hasZ, hasM, dims: 2 + (hasZ ? 1 : 0) + (hasM ? 1 : 0) };
}

function readPoints(
  view: DataView,
  reader: { offset: number },
  little: boolean,
  dims: number,
  count: number,
  box: Box,
): void {
  for (let i = 0; i < count; i++) {
    const x = view.getFloat64(reader.offset, little);
    const y = view.getFloat64(reader.offset + 8, little);
    reader.offset += 8 * dims;
    // NaN coordinates encode POINT EMPTY.
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    if (x < box[0]) box[0] = x;
    if (y < box[1]) box[1] = y;
    if (x > box[2]) box[2] = x;
    if (y > box[3]) box[3] = y;
  }
}

function readGeometry(
  view: DataView,
  reader: { offset: number },
  box: Box,
): { type: number; hasZ: boolean } {
  const { little, type, hasZ, hasM, dims } = readHeader(view, reader);
  const count = () => {
    const n = view.getUint32(reader.offset, little);
    reader.offset += 4;
    return n;
  };
  switch (type) {
    case 1:
      readPoints(view, reader, little, dims, 1, box);
      break;
    case 2:
      readPoints(view, reader, little, dims, count(), box);
      break;
    case 3: {
      const rings = count();
      for (let r = 0; r < rings; r++) readPoints(view, reader, little, dims, count(), box);
      break;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      const parts = count();
      for (let p = 0; p < parts; p++) readGeometry(view, reader, box);
      break;
    }
    default:
      throw new WkbTypeError(type, hasZ, hasM);
  }
  return { type, hasZ };
}

/** The coordinates of a geometry by dimension: x,y pairs interleaved (Z and M dropped). */
export interface WkbParts {
  /** Each polygon as its rings (the first is the shell). */
  polygons: Float64Array[][];
  /** Each line string. */
  lines: Float64Array[];
  /** Number of points. */
  points: number;
}

/** Splits a WKB geometry (any type, nested collections included) into polygons, lines and points. */
export function wkbParts(wkb: Uint8Array): WkbParts {
  const view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  const parts: WkbParts = { polygons: [], lines: [], points: 0 };
  const reader = { offset: 0 };
  const coords = (little: boolean, dims: number, count: number) => {
    const out = new Float64Array(count * 2);
    for (let i = 0; i < count; i++) {
      out[2 * i] = view.getFloat64(reader.offset, little);
      out[2 * i + 1] = view.getFloat64(reader.offset + 8, little);
      reader.offset += 8 * dims;
    }
    return out;
  };
  const walk = () => {
    const { little, type, hasZ, hasM, dims } = readHeader(view, reader);
    const count = () => {
      const n = view.getUint32(reader.offset, little);
      reader.offset += 4;
      return n;
    };
    if (type === 1) {
      const [x = NaN] = coords(little, dims, 1);
      if (!Number.isNaN(x)) parts.points++;
    } else if (type === 2) {
      parts.lines.push(coords(little, dims, count()));
    } else if (type === 3) {
      const rings: Float64Array[] = [];
      for (let r = count(); r > 0; r--) rings.push(coords(little, dims, count()));
      parts.polygons.push(rings);
    } else if (type >= 4 && type <= 7) {
      for (let p = count(); p > 0; p--) walk();
    } else {
      throw new WkbTypeError(type, hasZ, hasM);
    }
  };
  walk();
  return parts;
}

/** What {@linkcode scanBlob} finds in one geometry. */
export interface WkbScan {
  /** GeoParquet type name, e.g. `MultiPolygon Z`. */
  type: string;
  /** Exact bounding box of the finite coordinates (empty box when there are none). */
  box: Box;
  /** Whether the geometry has no coordinates at all (EMPTY). */
  empty: boolean;
  /** Whether a coordinate is NaN or infinite (other than the NaN,NaN of POINT EMPTY). */
  nonFinite: boolean;
  /** Whether it carries M values (which GeoParquet's WKB has no place for: see {@linkcode withoutM}). */
  hasM: boolean;
}

/**
 * Reads every coordinate of a geometry blob (GeoPackage or plain WKB) for
 * validation: exact bbox, emptiness and non-finite coordinates. Slower than
 * {@linkcode inspectBlob}, which trusts a GeoPackage envelope.
 */
export function scanBlob(blob: Uint8Array): WkbScan {
  return scanWkb(gpkgToWkb(blob));
}

/**
 * {@linkcode scanBlob} of plain WKB. The writer runs it on every geometry of
 * a layer, so it keeps its state in module variables rather than closures
 * made per call (bench/spatial.ts: a third of the writer's geometry time).
 */
export function scanWkb(wkb: Uint8Array): WkbScan {
  scanView = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  scanOffset = 0;
  scanCoordinates = 0;
  scanNonFinite = false;
  scanHasM = false;
  const box = emptyBox();
  scanBox = box;
  try {
    const code = scanGeometry();
    return {
      type: `${TYPE_NAMES[code % 10] ?? "Unknown"}${code >= 10 ? " Z" : ""}`,
      box,
      empty: scanCoordinates === 0,
      nonFinite: scanNonFinite,
      hasM: scanHasM,
    };
  } finally {
    scanView = EMPTY_VIEW;
  }
}

const EMPTY_VIEW: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let scanView = EMPTY_VIEW;
let scanOffset = 0;
let scanCoordinates = 0;
let scanNonFinite = false;
let scanHasM = false;
let scanBox: Box = emptyBox();

function scanPoints(little: boolean, dims: number, count: number, isPoint: boolean): void {
  const view = scanView;
  const box = scanBox;
  const stride = 8 * dims;
  let offset = scanOffset;
  for (let i = 0; i < count; i++) {
    const x = view.getFloat64(offset, little);
    const y = view.getFloat64(offset + 8, little);
    offset += stride;
    if (isPoint && Number.isNaN(x) && Number.isNaN(y)) continue;
    scanCoordinates++;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      scanNonFinite = true;
      continue;
    }
    if (x < box[0]) box[0] = x;
    if (y < box[1]) box[1] = y;
    if (x > box[2]) box[2] = x;
    if (y > box[3]) box[3] = y;
  }
  scanOffset = offset;
}

function scanCount(little: boolean): number {
  const n = scanView.getUint32(scanOffset, little);
  scanOffset += 4;
  return n;
}

/** Scans one geometry; returns its base type plus 10 when it has Z. */
function scanGeometry(): number {
  const reader = { offset: scanOffset };
  const { little, type, hasZ, hasM, dims } = readHeader(scanView, reader);
  scanOffset = reader.offset;
  if (hasM) scanHasM = true;
  if (type === 1) scanPoints(little, dims, 1, true);
  else if (type === 2) scanPoints(little, dims, scanCount(little), false);
  else if (type === 3) {
    for (let r = scanCount(little); r > 0; r--) scanPoints(little, dims, scanCount(little), false);
  } else if (type >= 4 && type <= 7) {
    for (let p = scanCount(little); p > 0; p--) scanGeometry();
  } else throw new WkbTypeError(type, hasZ, hasM);
  return type + (hasZ ? 10 : 0);
}

/**
 * The geometry of `wkb` (ISO or EWKB, of the seven GeoParquet types) without
 * its M values, as ISO WKB in the same byte order: GeoParquet's geometry
 * types are XY and XYZ only, and a reader takes a third ordinate for Z.
 */
export function withoutM(wkb: Uint8Array): Uint8Array {
  const view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  const out = new Uint8Array(wkb.length);
  const outView = new DataView(out.buffer);
  const reader = { offset: 0 };
  let at = 0;
  const copy = (length: number) => {
    out.set(wkb.subarray(reader.offset, reader.offset + length), at);
    reader.offset += length;
    at += length;
  };
  const walk = () => {
    const start = reader.offset;
    const { little, type, hasZ, hasM } = readHeader(view, reader);
    if (type < 1 || type > 7) throw new WkbTypeError(type, hasZ, hasM);
    out[at] = wkb[start]!;
    outView.setUint32(at + 1, type + (hasZ ? 1000 : 0), little);
    at += 5;
    const points = (count: number) => {
      for (let i = 0; i < count; i++) {
        copy(hasZ ? 24 : 16);
        if (hasM) reader.offset += 8;
      }
    };
    const count = () => {
      const n = view.getUint32(reader.offset, little);
      copy(4);
      return n;
    };
    if (type === 1) points(1);
    else if (type === 2) points(count());
    else if (type === 3) { for (let r = count(); r > 0; r--) points(count()); }
    else for (let p = count(); p > 0; p--) walk();
  };
  walk();
  return out.subarray(0, at);
}
