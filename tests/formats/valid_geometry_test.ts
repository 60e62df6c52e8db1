/**
 * provenValid must never call valid what GEOS finds invalid (an invalid
 * geometry proven valid would skip MakeValid and be published broken), and
 * must prove the common simple polygons (else the wasm engine's speed-up is
 * gone). Judged against GEOS itself: gdal3.js's SpatiaLite `ST_IsValid` on
 * the same geometries, written to a GeoPackage by GDAL.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { provenValid } from "../../formats/valid_geometry.ts";
import { wasmGdal } from "../../resources/spatial/gdal_wasm.ts";

type Ring = [number, number][];

/** Deterministic pseudo-random numbers. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A star-shaped ring around (cx, cy): simple, counter-clockwise. */
function star(r: () => number, cx: number, cy: number, n: number, size: number): Ring {
  const ring: Ring = [];
  for (let k = 0; k < n; k++) {
    const a = (k / n) * 2 * Math.PI;
    const radius = size * (0.5 + r() * 0.5);
    ring.push([cx + radius * Math.cos(a), cy + radius * Math.sin(a)]);
  }
  ring.push(ring[0]!);
  return ring;
}

const square = (x: number, y: number, s: number): Ring => [
  [x, y],
  [x + s, y],
  [x + s, y + s],
  [x, y + s],
  [x, y],
];

/**
 * Geometries as GeoJSON, each with whether it must be proven valid (the
 * simple shapes this proof is for), or undefined when only soundness counts.
 */
function cases(): [Record<string, unknown>, boolean | undefined][] {
  const r = rng(3);
  const out: [Record<string, unknown>, boolean | undefined][] = [];
  const polygon = (...rings: Ring[]) => ({ type: "Polygon", coordinates: rings });
  for (let i = 0; i < 200; i++) {
    // Simple stars, as most parcels are: proven.
    out.push([polygon(star(r, r() * 100, r() * 100, 3 + Math.floor(r() * 40), 1)), true]);
  }
  // A large ring (the sweep), a star with a hole inside, two holes, a multipolygon of stars apart.
  out.push([polygon(star(r, 0, 0, 500, 10)), true]);
  out.push([polygon(star(r, 0, 0, 30, 10), square(-1, -1, 2)), true]);
  out.push([polygon(square(0, 0, 10), square(1, 1, 2), square(5, 5, 2)), true]);
  out.push([
    {
      type: "MultiPolygon",
      coordinates: [[star(r, 0, 0, 12, 1)], [star(r, 5, 0, 12, 1)], [square(10, 10, 1)]],
    },
    true,
  ]);
  out.push([{ type: "LineString", coordinates: [[0, 0], [1, 1], [0, 0]] }, true]);
  out.push([{ type: "MultiPoint", coordinates: [[0, 0], [0, 0]] }, true]);
  // Invalid or unprovable on purpose.
  const fixed: Record<string, unknown>[] = [
    polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]), // bowtie
    polygon([[0, 0], [2, 0], [2, 2], [1, 2], [1, 3], [1, 2], [0, 2], [0, 0]]), // spike
    polygon([[0, 0], [2, 0], [2, 2], [0, 2], [1, 1], [2, 2], [0, 2], [0, 0]]), // self-touch
    polygon([[0, 0], [1, 0], [2, 0], [2, 1], [0, 0]]), // collinear run (valid, unproven)
    polygon([[0, 0], [1, 0], [1, 0], [1, 1], [0, 0]]), // repeated point (valid, unproven)
    polygon([[0, 0], [1, 0], [2, 0], [0, 0]]), // flat
    polygon(square(0, 0, 1), square(2, 2, 1)), // hole outside
    polygon(square(0, 0, 4), square(1, 1, 2), square(1.5, 1.5, 0.5)), // nested holes
    polygon(square(0, 0, 4), square(0, 1, 1)), // hole touching the shell
    polygon(square(0, 0, 4), square(1, 1, 2), square(2, 1, 1)), // overlapping holes
    polygon(square(0, 0, 4), [[0, 0], [2, 1], [1, 2], [0, 0]]), // hole through a shell vertex
    { type: "MultiPolygon", coordinates: [[square(0, 0, 2)], [square(1, 1, 2)]] }, // overlap
    { type: "MultiPolygon", coordinates: [[square(0, 0, 1)], [square(1, 1, 1)]] }, // touch at a point
    { type: "MultiPolygon", coordinates: [[square(0, 0, 1)], [square(1, 0, 1)]] }, // share an edge
    { type: "MultiPolygon", coordinates: [[square(0, 0, 4)], [square(1, 1, 1)]] }, // nested shells
    {
      type: "MultiPolygon",
      coordinates: [[square(0, 0, 4), square(1, 1, 2)], [square(1.5, 1.5, 1)]],
    }, // an island in a hole (valid, unproven)
    { type: "LineString", coordinates: [[1, 1], [1, 1]] },
    { type: "GeometryCollection", geometries: [polygon(square(0, 0, 1))] },
    polygon([[0, 0], [1e-300, 0], [1e-300, 1e-300], [0, 0]]), // underflow
  ];
  for (const g of fixed) out.push([g, false]);
  // Random rings on a coarse grid: crossings, touches and collinear runs galore.
  for (let i = 0; i < 400; i++) {
    const n = 3 + Math.floor(r() * 6);
    const ring: Ring = [];
    for (let k = 0; k < n; k++) ring.push([Math.floor(r() * 5), Math.floor(r() * 5)]);
    ring.push(ring[0]!);
    const holes: Ring[] = r() < 0.3 ? [square(Math.floor(r() * 4), Math.floor(r() * 4), 1)] : [];
    out.push([polygon(ring, ...holes), undefined]);
  }
  // Multipolygons of random squares: apart, touching, overlapping, nested.
  for (let i = 0; i < 200; i++) {
    const parts = Array.from({ length: 2 + Math.floor(r() * 2) }, () => [
      square(Math.floor(r() * 6), Math.floor(r() * 6), 1 + Math.floor(r() * 3)),
    ]);
    out.push([{ type: "MultiPolygon", coordinates: parts }, undefined]);
  }
  // Stars with nearly collinear vertices (the floating-point filter's edge).
  for (let i = 0; i < 100; i++) {
    const ring = star(r, 0.1 + r(), 0.3, 6, 1e-9);
    ring.splice(2, 0, [(ring[1]![0] + ring[2]![0]) / 2, (ring[1]![1] + ring[2]![1]) / 2]);
    out.push([polygon(ring), undefined]);
  }
  return out;
}

Deno.test("provenValid: never valid where GEOS says invalid; simple polygons proven", async () => {
  const all = cases();
  await using scratch = await wasmGdal.createScratch();
  await Deno.writeTextFile(
    scratch.hostPath("cases.geojson"),
    JSON.stringify({
      type: "FeatureCollection",
      features: all.map(([geometry], i) => ({ type: "Feature", properties: { n: i }, geometry })),
    }),
  );
  const layer = await scratch.gdal.ogr2ogr(scratch.gdalPath("cases.geojson"), [
    "-f",
    "GPKG",
    "-lco",
    "SPATIAL_INDEX=NO",
    "-nln",
    "cases",
  ], "cases");
  // GEOS's verdict on each, by GDAL's own conversion of the same geometry.
  const judged = await scratch.gdal.ogr2ogr(layer, [
    "-f",
    "GPKG",
    "-nln",
    "judged",
    "-dialect",
    "SQLite",
    "-sql",
    "SELECT n, ST_IsValid(geom) AS valid, geom FROM cases",
  ], "judged");
  const db = new DatabaseSync(scratch.toHost(judged), { readOnly: true });
  try {
    const rows = db.prepare("SELECT n, valid, geom FROM judged ORDER BY n").all();
    assert.equal(rows.length, all.length);
    let proven = 0;
    for (const row of rows) {
      const n = Number(row.n);
      const blob = row.geom as Uint8Array;
      const verdict = provenValid(blob);
      const [geometry, expected] = all[n]!;
      if (verdict) {
        proven++;
        assert.equal(
          Number(row.valid),
          1,
          `proven valid, GEOS says not: ${JSON.stringify(geometry)}`,
        );
      }
      if (expected !== undefined) {
        assert.equal(verdict, expected, `case ${n}: ${JSON.stringify(geometry)}`);
      }
    }
    // The random cases proved some too (the proof is not only for the hand-picked).
    assert.ok(proven > 210, `${proven} proven`);
  } finally {
    db.close();
  }
});

Deno.test("provenValid: plain WKB, big-endian, Z, M; truncated or odd blobs are not proven", () => {
  const wkb = (little: boolean, type: number, dims: number, rings: number[][]) => {
    const points = rings.reduce((n, r) => n + r.length / dims, 0);
    const view = new DataView(new ArrayBuffer(9 + rings.length * 4 + points * dims * 8));
    let at = 0;
    view.setUint8(at, little ? 1 : 0);
    view.setUint32(at + 1, type, little);
    view.setUint32(at + 5, rings.length, little);
    at += 9;
    for (const ring of rings) {
      view.setUint32(at, ring.length / dims, little);
      at += 4;
      for (const v of ring) {
        view.setFloat64(at, v, little);
        at += 8;
      }
    }
    return new Uint8Array(view.buffer);
  };
  const xy = [0, 0, 1, 0, 1, 1, 0, 1, 0, 0];
  const xyz = [0, 0, 5, 1, 0, 5, 1, 1, 5, 0, 1, 5, 0, 0, 5];
  const bowtie = [0, 0, 1, 1, 1, 0, 0, 1, 0, 0];
  assert.equal(provenValid(wkb(true, 3, 2, [xy])), true);
  assert.equal(provenValid(wkb(false, 3, 2, [xy])), true);
  assert.equal(provenValid(wkb(true, 1003, 3, [xyz])), true);
  assert.equal(provenValid(wkb(true, 2003, 3, [xyz])), true);
  assert.equal(provenValid(wkb(true, 0x80000003, 3, [xyz])), true);
  assert.equal(provenValid(wkb(true, 3, 2, [bowtie])), false);
  assert.equal(provenValid(wkb(true, 3, 2, [xy]).subarray(0, 40)), false);
  assert.equal(provenValid(wkb(true, 3, 2, [])), false); // POLYGON EMPTY
  assert.equal(provenValid(wkb(true, 17, 2, [xy])), false); // a triangle type, not Simple Features
  assert.equal(provenValid(new Uint8Array([0x47, 0x50, 0, 0x11, 0, 0, 0, 0])), false); // GPKG empty
});
