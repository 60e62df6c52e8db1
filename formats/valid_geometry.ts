/**
 * A cheap, conservative proof that a geometry is valid by GEOS's rules
 * (OGC Simple Features validity, `IsValidOp`), read from a GeoPackage blob
 * or plain WKB: {@linkcode provenValid} returns `true` only when GEOS's
 * `isValid` is certainly true, and `false` when the geometry is invalid *or*
 * the proof is out of reach (empty, a collection, curves, repeated or
 * collinear consecutive vertices, rings that touch, a polygon inside another
 * polygon's hole, a floating-point orientation too close to call). A `false`
 * only means "ask GEOS".
 *
 * Why by hand: on the wasm engine, GEOS's validity scan through gdal3.js
 * (`ST_IsValid` over every row, `assets/spatial/_make_valid.ts`) cost 1.7 s
 * of CPU per 100k polygons, more than the conversion itself (1.3 s); this
 * proof takes ~0.1 s per 100k 8-24-vertex polygons in JavaScript, and
 * leaves GEOS only the rows it cannot prove (bench/spatial.ts, large
 * inputs). A full JavaScript validity library (jsts, a JTS port) allocates
 * objects per vertex and would give the same answers slower; this module
 * needs only orientation signs, for which it uses Shewchuk's error-bounded
 * floating-point filter (the first stage of robust-predicates' `orient2d`):
 * a sign the filter cannot certify counts as unproven, so no exact
 * arithmetic is needed.
 *
 * What is proven: every coordinate finite; a line has two distinct points;
 * a ring is closed, has at least 4 points, no two consecutive points equal
 * and no three consecutive points collinear (so adjacent edges meet only at
 * their shared vertex), and no two non-adjacent edges of any rings of the
 * geometry touch (so every ring is simple and all rings are disjoint); each
 * hole lies inside its shell and outside the other holes (with disjoint
 * rings, one vertex decides); no shell of a multipolygon lies inside
 * another's. Disjoint rings, holes inside and not nested: the interior is
 * connected and the polygon is valid.
 *
 * @module
 */

/** Shewchuk's `ccwerrboundA`: relative error bound of the floating-point orientation determinant. */
const ORIENT_BOUND = (3 + 16 * 2 ** -53) * 2 ** -53;
/** Below this the products may have lost bits to underflow: unproven. */
const TINY = 1e-280;

/**
 * Sign of the orientation of (c relative to a->b): 1 left (counter-clockwise),
 * -1 right, 0 when collinear or too close to tell in floating point.
 */
function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const left = (ax - cx) * (by - cy);
  const right = (ay - cy) * (bx - cx);
  const det = left - right;
  let sum: number;
  if (left > 0) {
    if (right <= 0) return det > TINY ? 1 : 0;
    sum = left + right;
  } else if (left < 0) {
    if (right >= 0) return det < -TINY ? -1 : 0;
    sum = -left - right;
  } else {
    return det > TINY ? 1 : det < -TINY ? -1 : 0;
  }
  const bound = ORIENT_BOUND * sum;
  if (det > bound && det > TINY) return 1;
  if (-det > bound && -det > TINY) return -1;
  return 0;
}

/** The vertices of one geometry, flattened: rings (or lines) as ranges of points. */
class Vertices {
  x = new Float64Array(256);
  y = new Float64Array(256);
  count = 0;
  /** Start point of each ring; `ringStart[ringCount]` is the end. */
  ringStart = new Int32Array(64);
  ringCount = 0;
  /** First ring of each polygon; `polygonStart[polygonCount]` is the end. */
  polygonStart = new Int32Array(32);
  polygonCount = 0;

  reset(): void {
    this.count = 0;
    this.ringCount = 0;
    this.polygonCount = 0;
  }

  push(x: number, y: number): void {
    if (this.count === this.x.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.x = grow(this.x);
      this.y = grow(this.y);
    }
    this.x[this.count] = x;
    this.y[this.count] = y;
    this.count++;
  }

  startRing(): void {
    if (this.ringCount + 1 >= this.ringStart.length) {
      const b = new Int32Array(this.ringStart.length * 2);
      b.set(this.ringStart);
      this.ringStart = b;
    }
    this.ringStart[this.ringCount++] = this.count;
    this.ringStart[this.ringCount] = this.count;
  }

  endRing(): void {
    this.ringStart[this.ringCount] = this.count;
  }

  startPolygon(): void {
    if (this.polygonCount + 1 >= this.polygonStart.length) {
      const b = new Int32Array(this.polygonStart.length * 2);
      b.set(this.polygonStart);
      this.polygonStart = b;
    }
    this.polygonStart[this.polygonCount++] = this.ringCount;
  }

  endPolygon(): void {
    this.polygonStart[this.polygonCount] = this.ringCount;
  }
}

const POINT = 1;
const LINESTRING = 2;
const POLYGON = 3;
const MULTIPOINT = 4;
const MULTILINESTRING = 5;
const MULTIPOLYGON = 6;

/** A WKB reader over one blob, or `undefined` fields when the blob is not what it should be. */
class Reader {
  view!: DataView;
  at = 0;
  little = true;
  /** Ordinates per point (2, 3 or 4). */
  dims = 2;

  /** Reads a geometry header; the flat type (1-7) or -1 when unreadable. */
  header(): number {
    if (this.at + 5 > this.view.byteLength) return -1;
    const order = this.view.getUint8(this.at);
    if (order > 1) return -1;
    this.little = order === 1;
    let type = this.view.getUint32(this.at + 1, this.little);
    this.at += 5;
    // EWKB flags (Z, M, SRID) or ISO thousands (1000 Z, 2000 M, 3000 ZM).
    let dims = 2;
    if (type & 0x20000000) return -1; // An EWKB SRID: not what GDAL writes.
    if (type & 0x80000000) dims++;
    if (type & 0x40000000) dims++;
    type &= 0x0fffffff;
    const iso = Math.floor(type / 1000);
    if (iso > 3) return -1;
    if (iso === 1 || iso === 2) dims++;
    if (iso === 3) dims += 2;
    this.dims = dims;
    return type % 1000;
  }

  count(): number {
    if (this.at + 4 > this.view.byteLength) return -1;
    const n = this.view.getUint32(this.at, this.little);
    this.at += 4;
    return n;
  }

  /** Reads `n` points into `v`; false when a coordinate is not finite or the blob ends. */
  points(n: number, v: Vertices): boolean {
    const step = this.dims * 8;
    if (this.at + n * step > this.view.byteLength) return false;
    const view = this.view;
    const little = this.little;
    for (let i = 0; i < n; i++) {
      const x = view.getFloat64(this.at, little);
      const y = view.getFloat64(this.at + 8, little);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
      v.push(x, y);
      this.at += step;
    }
    return true;
  }
}

const reader = new Reader();
const vertices = new Vertices();

/** The WKB inside a GeoPackage blob, or the blob itself; `undefined` for a GeoPackage empty. */
function wkbOf(blob: Uint8Array): Uint8Array | undefined {
  if (blob.length >= 8 && blob[0] === 0x47 && blob[1] === 0x50) {
    const flags = blob[3]!;
    if (flags & 0x10) return undefined; // Empty geometry flag.
    if (flags & 0x20) return undefined; // Extended GeoPackage geometry.
    const envelope = [0, 32, 48, 48, 64][(flags >> 1) & 0x07];
    if (envelope === undefined) return undefined;
    return blob.subarray(8 + envelope);
  }
  return blob;
}

/**
 * Whether GEOS certainly finds the geometry in `blob` (a GeoPackage blob or
 * WKB) valid, not empty and not a collection: `false` also when it cannot be
 * proven cheaply (see the module doc).
 */
export function provenValid(blob: Uint8Array): boolean {
  const wkb = wkbOf(blob);
  if (wkb === undefined) return false;
  reader.view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  reader.at = 0;
  vertices.reset();
  const type = reader.header();
  switch (type) {
    case POINT:
      return reader.points(1, vertices);
    case LINESTRING:
      return readLine(false);
    case POLYGON:
      return readPolygon() && polygonsValid();
    case MULTIPOINT:
    case MULTILINESTRING:
    case MULTIPOLYGON: {
      const members = reader.count();
      if (members <= 0) return false;
      for (let i = 0; i < members; i++) {
        if (reader.header() !== type - 3) return false;
        const ok = type === MULTIPOINT
          ? reader.points(1, vertices)
          : type === MULTILINESTRING
          ? readLine(true)
          : readPolygon();
        if (!ok) return false;
      }
      return type !== MULTIPOLYGON || polygonsValid();
    }
    default:
      return false;
  }
}

/** A line with at least two distinct points (GEOS's only rule for lines besides finite coordinates). */
function readLine(reuse: boolean): boolean {
  const n = reader.count();
  if (n < 2) return false;
  if (reuse) vertices.reset();
  const start = vertices.count;
  if (!reader.points(n, vertices)) return false;
  const { x, y } = vertices;
  for (let i = start + 1; i < start + n; i++) {
    if (x[i] !== x[start] || y[i] !== y[start]) return true;
  }
  return false;
}

/** Reads one polygon's rings, checking each ring alone (closed, 4+ points, turning at every vertex). */
function readPolygon(): boolean {
  const rings = reader.count();
  if (rings <= 0) return false;
  vertices.startPolygon();
  for (let r = 0; r < rings; r++) {
    const n = reader.count();
    if (n < 4) return false;
    vertices.startRing();
    const start = vertices.count;
    if (!reader.points(n, vertices)) return false;
    vertices.endRing();
    const { x, y } = vertices;
    const last = start + n - 1;
    if (x[start] !== x[last] || y[start] !== y[last]) return false;
    // Each vertex (the closing one is the first) turns strictly: no repeated
    // point, no spike, no straight run (conservative: straight runs are valid).
    for (let i = 0; i < n - 1; i++) {
      const p = i === 0 ? last - 1 : start + i - 1;
      const c = start + i;
      const q = start + i + 1;
      if (orient(x[p]!, y[p]!, x[c]!, y[c]!, x[q]!, y[q]!) === 0) return false;
    }
  }
  vertices.endPolygon();
  return true;
}

// Per-segment scratch for the intersection pass.
let segMinX = new Float64Array(256);
let segMaxX = new Float64Array(256);
let segMinY = new Float64Array(256);
let segMaxY = new Float64Array(256);
/** First point of the segment (its end is the next point). */
let segFrom = new Int32Array(256);
let segRing = new Int32Array(256);
let order: number[] = [];
/** Bounding box of each ring (min x, min y, max x, max y). */
let ringBox = new Float64Array(64 * 4);

/** Below this many segments all pairs are compared; above, a sweep along x (sorted by min x). */
const SWEEP_FROM = 64;

/**
 * Whether the polygons read (one, or a multipolygon's) are valid: no two
 * non-adjacent edges touch, holes inside their shell and outside each
 * other, no shell inside another.
 */
function polygonsValid(): boolean {
  const v = vertices;
  const { x, y } = v;
  const segments = v.count - v.ringCount;
  if (segMinX.length < segments) {
    const size = Math.max(segments, segMinX.length * 2);
    segMinX = new Float64Array(size);
    segMaxX = new Float64Array(size);
    segMinY = new Float64Array(size);
    segMaxY = new Float64Array(size);
    segFrom = new Int32Array(size);
    segRing = new Int32Array(size);
  }
  if (ringBox.length < v.ringCount * 4) ringBox = new Float64Array(v.ringCount * 8);
  let s = 0;
  for (let r = 0; r < v.ringCount; r++) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = v.ringStart[r]!; i < v.ringStart[r + 1]!; i++) {
      const px = x[i]!, py = y[i]!;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
    ringBox[r * 4] = minX;
    ringBox[r * 4 + 1] = minY;
    ringBox[r * 4 + 2] = maxX;
    ringBox[r * 4 + 3] = maxY;
    for (let i = v.ringStart[r]!; i < v.ringStart[r + 1]! - 1; i++) {
      const ax = x[i]!, ay = y[i]!, bx = x[i + 1]!, by = y[i + 1]!;
      segMinX[s] = ax < bx ? ax : bx;
      segMaxX[s] = ax < bx ? bx : ax;
      segMinY[s] = ay < by ? ay : by;
      segMaxY[s] = ay < by ? by : ay;
      segFrom[s] = i;
      segRing[s] = r;
      s++;
    }
  }
  if (segments < SWEEP_FROM) {
    for (let i = 0; i < segments; i++) {
      for (let j = i + 1; j < segments; j++) {
        if (!apart(i, j)) return false;
      }
    }
  } else {
    order = Array.from({ length: segments }, (_, i) => i);
    order.sort((a, b) => segMinX[a]! - segMinX[b]!);
    for (let k = 0; k < segments; k++) {
      const i = order[k]!;
      const maxX = segMaxX[i]!;
      for (let l = k + 1; l < segments; l++) {
        const j = order[l]!;
        if (segMinX[j]! > maxX) break;
        if (!apart(i, j)) return false;
      }
    }
  }
  // Rings are now disjoint: one vertex tells where a ring lies.
  for (let p = 0; p < v.polygonCount; p++) {
    const shell = v.polygonStart[p]!;
    const end = v.polygonStart[p + 1]!;
    for (let h = shell + 1; h < end; h++) {
      const hx = x[v.ringStart[h]!]!, hy = y[v.ringStart[h]!]!;
      if (inRing(hx, hy, shell) !== 1) return false;
      for (let o = shell + 1; o < end; o++) {
        if (o !== h && inRing(hx, hy, o) !== -1) return false;
      }
    }
    for (let q = 0; q < v.polygonCount; q++) {
      if (q === p) continue;
      const other = v.polygonStart[q]!;
      const px = x[v.ringStart[shell]!]!, py = y[v.ringStart[shell]!]!;
      // Inside another shell it may be in one of its holes (valid), but that is not proven here.
      if (inRing(px, py, other) !== -1) return false;
    }
  }
  return true;
}

/**
 * Whether segments `i` and `j` certainly meet at most where they must: at
 * their shared vertex when adjacent in one ring (each vertex already turns
 * strictly), nowhere otherwise.
 */
function apart(i: number, j: number): boolean {
  if (
    segMinX[j]! > segMaxX[i]! || segMinX[i]! > segMaxX[j]! ||
    segMinY[j]! > segMaxY[i]! || segMinY[i]! > segMaxY[j]!
  ) return true;
  const a = segFrom[i]!, b = segFrom[j]!;
  if (segRing[i] === segRing[j]) {
    if (a + 1 === b || b + 1 === a) return true;
    const r = segRing[i]!;
    const first = vertices.ringStart[r]!, lastSegment = vertices.ringStart[r + 1]! - 2;
    if ((a === first && b === lastSegment) || (b === first && a === lastSegment)) return true;
  }
  const { x, y } = vertices;
  const ax = x[a]!, ay = y[a]!, bx = x[a + 1]!, by = y[a + 1]!;
  const cx = x[b]!, cy = y[b]!, dx = x[b + 1]!, dy = y[b + 1]!;
  const c = orient(ax, ay, bx, by, cx, cy);
  if (c !== 0 && c === orient(ax, ay, bx, by, dx, dy)) return true;
  const d = orient(cx, cy, dx, dy, ax, ay);
  return d !== 0 && d === orient(cx, cy, dx, dy, bx, by);
}

/** Where (px, py) is against ring `r`: 1 inside, -1 outside, 0 on it or too close to tell. */
function inRing(px: number, py: number, r: number): number {
  if (
    px < ringBox[r * 4]! || py < ringBox[r * 4 + 1]! || px > ringBox[r * 4 + 2]! ||
    py > ringBox[r * 4 + 3]!
  ) return -1;
  const { x, y } = vertices;
  let inside = false;
  for (let i = vertices.ringStart[r]!; i < vertices.ringStart[r + 1]! - 1; i++) {
    const ax = x[i]!, ay = y[i]!, bx = x[i + 1]!, by = y[i + 1]!;
    if ((ay > py) !== (by > py)) {
      const o = orient(ax, ay, bx, by, px, py);
      if (o === 0) return 0;
      // Upward edge with the point on its left, or downward with it on its
      // right: the edge crosses the ray from the point towards +x.
      if ((by > ay) === (o > 0)) inside = !inside;
    } else if (ay === py && ax === px) {
      return 0;
    }
  }
  return inside ? 1 : -1;
}
