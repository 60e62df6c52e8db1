/** The GeoParquet writer on awkward input: plain WKB, nulls, Z, every column type. */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DuckDBInstance } from "@duckdb/node-api";
import {
  defaultRowGroupSize,
  GeoParquetError,
  ROW_GROUP_TARGET_BYTES,
  sqliteToGeoParquet,
} from "../../formats/geoparquet.ts";
import { inspectBlob, inspectWkb } from "../../formats/wkb.ts";

/** Little-endian ISO WKB of a point, optionally with Z. */
function point(x: number, y: number, z?: number): Uint8Array {
  const bytes = new Uint8Array(z === undefined ? 21 : 29);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 1);
  view.setUint32(1, z === undefined ? 1 : 1001, true);
  view.setFloat64(5, x, true);
  view.setFloat64(13, y, true);
  if (z !== undefined) view.setFloat64(21, z, true);
  return bytes;
}

/** Big-endian WKB of a two-point line. */
function bigEndianLine(a: [number, number], b: [number, number]): Uint8Array {
  const bytes = new Uint8Array(9 + 32);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 0);
  view.setUint32(1, 2, false);
  view.setUint32(5, 2, false);
  [a[0], a[1], b[0], b[1]].forEach((v, i) => view.setFloat64(9 + i * 8, v, false));
  return bytes;
}

async function duck(sql: string) {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

Deno.test("WKB inspection: types, Z, big-endian, empty", () => {
  assert.deepEqual(inspectWkb(point(1, 2)), { type: "Point", box: [1, 2, 1, 2] });
  assert.deepEqual(inspectWkb(point(1, 2, 3)), { type: "Point Z", box: [1, 2, 1, 2] });
  assert.deepEqual(inspectBlob(bigEndianLine([3, 4], [-1, 9])), {
    type: "LineString",
    box: [-1, 4, 3, 9],
  });
  const empty = inspectWkb(point(NaN, NaN));
  assert.equal(empty.type, "Point");
  assert.equal(empty.box[0], Infinity);
  assert.throws(() => inspectWkb(new Uint8Array([1, 99, 0, 0, 0])), RangeError);
});

Deno.test("sqliteToGeoParquet writes every column type, null geometries and a bbox", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec(`CREATE TABLE t (fid INTEGER PRIMARY KEY, name TEXT, n INTEGER, v REAL,
      ok BOOLEAN, geometry TEXT, geom BLOB)`);
    const insert = db.prepare(
      "INSERT INTO t (name, n, v, ok, geometry, geom) VALUES (?, ?, ?, ?, ?, ?)",
    );
    insert.run("a", 1, 1.5, 1, "clash", point(-110, 45));
    insert.run("ü\u00e9", null, null, 0, null, bigEndianLine([-111, 44], [-109, 46]));
    insert.run(null, 3n, 2.25, null, null, null);
    db.close();

    const out = `${dir}/out.parquet`;
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", out, {
      crs: { id: { authority: "EPSG", code: 4326 } },
      rowGroupSize: 2,
      batchSize: 2,
    });
    assert.equal(result.rows, 3);
    assert.deepEqual(result.bbox, [-111, 44, -109, 46]);
    assert.deepEqual(result.geometryTypes, ["LineString", "Point"]);
    // The feature id is dropped; an attribute named like the geometry column is renamed.
    assert.deepEqual(result.columns, [
      { name: "name", type: "string" },
      { name: "n", type: "int64" },
      { name: "v", type: "float64" },
      { name: "ok", type: "boolean" },
      { name: "geometry_attr", type: "string" },
    ]);
    const rows = await duck(
      `SELECT name, n, v, ok, geometry_attr, ST_AsText(geometry) AS wkt, bbox.xmin AS xmin
       FROM read_parquet('${out}')`,
    );
    assert.deepEqual(rows, [
      {
        name: "a",
        n: "1",
        v: 1.5,
        ok: true,
        geometry_attr: "clash",
        wkt: "POINT (-110 45)",
        xmin: -110,
      },
      {
        name: "üé",
        n: null,
        v: null,
        ok: false,
        geometry_attr: null,
        wkt: "LINESTRING (-111 44, -109 46)",
        xmin: -111,
      },
      { name: null, n: "3", v: 2.25, ok: null, geometry_attr: null, wkt: null, xmin: null },
    ]);
    // Row groups of two rows, as asked.
    const groups = await duck(`SELECT DISTINCT row_group_id FROM parquet_metadata('${out}')`);
    assert.equal(groups.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet names a missing table or geometry column", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (name TEXT)");
    db.close();
    const write = (table: string) =>
      sqliteToGeoParquet(`${dir}/in.sqlite`, table, `${dir}/o.parquet`, { crs: {} });
    await assert.rejects(
      write("nope"),
      (e: GeoParquetError) => e.code === "spatial.geoparquet_no_table",
    );
    await assert.rejects(
      write("t"),
      (e: GeoParquetError) => e.code === "spatial.geoparquet_no_geometry",
    );
    // Given the user's file, the message and the error's input name it.
    await assert.rejects(
      sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/o.parquet`, {
        crs: {},
        label: "batch/roads.gpkg",
      }),
      (e: GeoParquetError) =>
        e.message.startsWith("Cannot write GeoParquet of 'batch/roads.gpkg'") &&
        e.input === "batch/roads.gpkg",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet refuses text bytes that are not UTF-8, keeps a real U+FFFD", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (name TEXT, geom BLOB)");
    const insert = db.prepare("INSERT INTO t VALUES (CAST(? AS TEXT), ?)");
    // A real replacement character (UTF-8 EF BF BD), as a text may hold one.
    insert.run(new TextEncoder().encode("a\uFFFDb"), point(1, 2));
    db.close();
    const write = () =>
      sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/o.parquet`, {
        crs: {},
        geometryColumn: "geom",
        label: "batch/places.tab",
      });
    assert.equal((await write()).rows, 1);
    const rows = await duck(`SELECT name FROM '${dir}/o.parquet'`);
    assert.deepEqual(rows.map((r) => r.name), ["a\uFFFDb"]);
    // Latin-1 bytes GDAL passed through (a MapInfo Charset "Neutral"): "Zürich".
    const bad = new DatabaseSync(`${dir}/in.sqlite`);
    bad.prepare("INSERT INTO t VALUES (CAST(? AS TEXT), ?)").run(
      new Uint8Array([0x5a, 0xfc, 0x72, 0x69, 0x63, 0x68]),
      point(3, 4),
    );
    bad.close();
    await assert.rejects(
      write(),
      (e: GeoParquetError) =>
        e.code === "spatial.geoparquet_not_utf8" && e.input === "batch/places.tab" &&
        /'batch\/places\.tab': it holds text that is not UTF-8/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet writes a BLOB column as bytes, not as text to check for UTF-8", async () => {
  // A GeoPackage layer with a photo or attachment column (GDAL's OFTBinary,
  // declared BLOB): it was typed text, so its bytes failed the UTF-8 check and
  // the file was refused as "holds text that is not UTF-8".
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (name TEXT, photo BLOB, geom BLOB)");
    const insert = db.prepare("INSERT INTO t VALUES (?, ?, ?)");
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    insert.run("a", png, point(1, 2));
    insert.run("b", null, point(3, 4));
    insert.run("c", new Uint8Array(0), point(5, 6));
    db.close();
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/o.parquet`, {
      crs: {},
      geometryColumn: "geom",
      label: "batch/photos.gpkg",
    });
    assert.deepEqual(result.columns, [
      { name: "name", type: "string" },
      { name: "photo", type: "binary" },
    ]);
    const rows = await duck(
      `SELECT name, hex(photo) AS photo, typeof(photo) AS type FROM '${dir}/o.parquet'`,
    );
    assert.deepEqual(rows, [
      { name: "a", photo: "89504E470D0A1A0A00FF", type: "BLOB" },
      { name: "b", photo: null, type: "BLOB" },
      { name: "c", photo: "", type: "BLOB" },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet: an attribute named as the writer's own columns is renamed, never another's name", async () => {
  // Before: 'bbox' was renamed 'bbox_attr', the name of the user's next column, whose values
  // then went to 'bbox_attr_attr'; and a computed 'area_m2' (intent measure) replaced the
  // user's 'area_m2' column, its values lost and the name listed twice.
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec(
      'CREATE TABLE t (bbox TEXT, bbox_attr TEXT, geometry TEXT, area_m2 TEXT, "Area" INTEGER, geom BLOB)',
    );
    db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)").run(
      "B",
      "BA",
      "G",
      "user",
      7,
      point(1, 2),
    );
    db.close();
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/o.parquet`, {
      crs: {},
      geometryColumn: "geom",
      compute: [{ name: "area_m2", fn: () => 42 }],
    });
    assert.deepEqual(result.columns.map((c) => c.name), [
      "bbox_attr_attr",
      "bbox_attr",
      "geometry_attr",
      "area_m2_attr",
      "Area",
      "area_m2",
    ]);
    const rows = await duck(
      `SELECT bbox_attr_attr, bbox_attr, geometry_attr, area_m2_attr, "Area"::INTEGER AS "Area",
              area_m2, bbox.xmin AS xmin FROM '${dir}/o.parquet'`,
    );
    assert.deepEqual(rows, [{
      bbox_attr_attr: "B",
      bbox_attr: "BA",
      geometry_attr: "G",
      area_m2_attr: "user",
      Area: 7,
      area_m2: 42,
      xmin: 1,
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet streams a large layer in row groups with the exact bbox", async () => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-large-" });
  try {
    const rows = Number(Deno.env.get("GEOPARQUET_TEST_ROWS") ?? 300_000);
    const db = new DatabaseSync(`${dir}/big.sqlite`);
    db.exec("CREATE TABLE pts (id INTEGER, name TEXT, geom BLOB)");
    const insert = db.prepare("INSERT INTO pts VALUES (?, ?, ?)");
    let xmin = Infinity, ymin = Infinity, xmax = -Infinity, ymax = -Infinity;
    db.exec("BEGIN");
    for (let i = 0; i < rows; i++) {
      // Irrational-looking coordinates, so a rounded extent would show.
      const x = -116 + ((i * 0.6180339887498949) % 12);
      const y = 44.4 + ((i * 0.41421356237309515) % 4.6);
      xmin = Math.min(xmin, x), ymin = Math.min(ymin, y);
      xmax = Math.max(xmax, x), ymax = Math.max(ymax, y);
      insert.run(i, `p${i}`, point(x, y));
    }
    db.exec("COMMIT");
    db.close();
    const result = await sqliteToGeoParquet(`${dir}/big.sqlite`, "pts", `${dir}/big.parquet`, {
      crs: { type: "GeographicCRS", name: "WGS 84" },
      geometryColumn: "geom",
      rowGroupSize: 65_536,
      batchSize: 8_192,
    });
    assert.equal(result.rows, rows);
    // The file-level bbox is exactly the data's extent, not a rounded layer extent.
    assert.deepEqual(result.bbox, [xmin, ymin, xmax, ymax]);
    assert.deepEqual(result.geo.columns.geometry.bbox, [xmin, ymin, xmax, ymax]);
    const groups = await duck(
      `SELECT row_group_id, any_value(row_group_num_rows) AS n
       FROM parquet_metadata('${dir}/big.parquet') GROUP BY 1 ORDER BY 1`,
    );
    assert.equal(groups.length, Math.ceil(rows / 65_536));
    assert.ok(groups.every((g) => Number(g.n) <= 65_536));
    const [extent] = await duck(
      `SELECT min(bbox.xmin) AS x0, max(bbox.ymax) AS y1, count(*) AS n
       FROM read_parquet('${dir}/big.parquet')`,
    );
    assert.equal(Number(extent!.n), rows);
    assert.equal(Number(extent!.x0), xmin);
    assert.equal(Number(extent!.y1), ymax);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet sizes row groups by row width: wide rows get fewer rows a group", async () => {
  // The writer's memory grows with the bytes of a row group, not its rows.
  assert.equal(defaultRowGroupSize(60), 65_536);
  assert.equal(defaultRowGroupSize(330), 12_288);
  assert.equal(defaultRowGroupSize(1e6), 1_024);
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-groups-" });
  try {
    const rows = 20_000;
    const db = new DatabaseSync(`${dir}/wide.sqlite`);
    db.exec("CREATE TABLE wide (id INTEGER, note TEXT, geom BLOB)");
    const insert = db.prepare("INSERT INTO wide VALUES (?, ?, ?)");
    db.exec("BEGIN");
    for (let i = 0; i < rows; i++) insert.run(i, "x".repeat(1_000), point(i % 90, i % 45));
    db.exec("COMMIT");
    db.close();
    const result = await sqliteToGeoParquet(`${dir}/wide.sqlite`, "wide", `${dir}/wide.parquet`, {
      crs: { type: "GeographicCRS", name: "WGS 84" },
      geometryColumn: "geom",
    });
    // ~1,070 bytes a row: 3 groups of 4096 rows hold the target's 4 MiB.
    assert.equal(result.rowGroupSize, 3_072);
    assert.ok(result.rowGroupSize * 1_070 <= ROW_GROUP_TARGET_BYTES);
    const groups = await duck(
      `SELECT row_group_id, any_value(row_group_num_rows) AS n
       FROM parquet_metadata('${dir}/wide.parquet') GROUP BY 1 ORDER BY 1`,
    );
    assert.equal(groups.length, Math.ceil(rows / 3_072));
    const [count] = await duck(`SELECT count(DISTINCT id) AS n FROM '${dir}/wide.parquet'`);
    assert.equal(Number(count!.n), rows);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet sort: hilbert keeps every row and puts neighbours together", async () => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-hilbert-" });
  try {
    const rows = 50_000;
    const db = new DatabaseSync(`${dir}/pts.sqlite`);
    db.exec("CREATE TABLE pts (id INTEGER, geom BLOB)");
    const insert = db.prepare("INSERT INTO pts VALUES (?, ?)");
    db.exec("BEGIN");
    for (let i = 0; i < rows; i++) {
      insert.run(i, point((i * 0.6180339887498949) % 10, (i * 0.7548776662466927) % 10));
    }
    insert.run(rows, null);
    db.exec("COMMIT");
    db.close();
    const write = (sort: "none" | "hilbert") =>
      sqliteToGeoParquet(`${dir}/pts.sqlite`, "pts", `${dir}/${sort}.parquet`, {
        crs: { type: "GeographicCRS", name: "WGS 84" },
        geometryColumn: "geom",
        rowGroupSize: 5_000,
        sort,
      });
    await write("none");
    const sorted = await write("hilbert");
    assert.equal(sorted.rows, rows + 1);
    const [ids] = await duck(
      `SELECT count(DISTINCT id) AS n, min(id) AS lo, max(id) AS hi FROM '${dir}/hilbert.parquet'`,
    );
    assert.deepEqual([Number(ids!.n), Number(ids!.lo), Number(ids!.hi)], [rows + 1, 0, rows]);
    // Mean area of each row group's extent: small when neighbours share row groups.
    const spread = async (file: string) => {
      const points = await duck(`SELECT id, bbox.xmin AS x, bbox.ymin AS y FROM '${file}'`);
      let total = 0;
      let groups = 0;
      for (let g = 0; g < points.length; g += 5_000) {
        const part = points.slice(g, g + 5_000).filter((p) => p.x !== null);
        if (part.length === 0) continue;
        const xs = part.map((p) => Number(p.x));
        const ys = part.map((p) => Number(p.y));
        total += (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
        groups++;
      }
      return { area: total / groups, last: Number(points.at(-1)!.id) };
    };
    const unsorted = await spread(`${dir}/none.parquet`);
    const hilbert = await spread(`${dir}/hilbert.parquet`);
    assert.ok(
      hilbert.area < unsorted.area / 5,
      `row group extent ${hilbert.area} vs ${unsorted.area}`,
    );
    // The null geometry goes last.
    assert.equal(hilbert.last, rows);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet: the geo metadata filled in after the last row is what readers get", async () => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-geo-" });
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (id INTEGER, geom BLOB)");
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
    // The widest numbers JSON prints, and every type the layer can have.
    insert.run(1, point(-1.2345678901234567e-123, -179.99999999999997, 5));
    insert.run(2, bigEndianLine([1.7976931348623157e308, 2], [3, 4.000000000000001]));
    insert.run(3, point(NaN, NaN));
    db.close();
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/o.parquet`, {
      crs: { type: "GeographicCRS", name: "WGS 84" },
    });
    assert.deepEqual(result.geometryTypes, ["LineString", "Point", "Point Z"]);
    assert.deepEqual(result.bbox, [
      -1.2345678901234567e-123,
      -179.99999999999997,
      1.7976931348623157e308,
      4.000000000000001,
    ]);
    // The footer holds the summary (padded with spaces JSON ignores), as DuckDB and hyparquet read it.
    const [kv] = await duck(
      `SELECT decode(value) AS v FROM parquet_kv_metadata('${dir}/o.parquet') WHERE decode(key) = 'geo'`,
    );
    const text = String(kv!.v);
    assert.deepEqual(JSON.parse(text), result.geo);
    assert.match(text, /\} *$/);
    const { readParquetMetadata } = await import("../../formats/parquet_metadata.ts");
    const { fileReader } = await import("../../formats/byte_reader.ts");
    using file = await Deno.open(`${dir}/o.parquet`);
    const meta = await readParquetMetadata(fileReader(file), (await file.stat()).size);
    assert.deepEqual(JSON.parse(meta.keyValue.get("geo")!), result.geo);
    assert.equal(meta.numRows, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet follows a table while another connection appends to it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-follow-" });
  try {
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** Commits `pages` pages of 3,000 rows in WAL mode, pausing between them; fails after `failAfter`. */
    const produce = async (path: string, pages: number, failAfter = Infinity) => {
      await pause(30); // The writer starts before the file exists.
      const db = new DatabaseSync(path);
      try {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("CREATE TABLE input (fid INTEGER PRIMARY KEY, n INTEGER, geom BLOB)");
        const insert = db.prepare("INSERT INTO input (n, geom) VALUES (?, ?)");
        for (let p = 0; p < pages; p++) {
          if (p === failAfter) throw new Error("GDAL stopped half-way");
          db.exec("BEGIN");
          for (let i = 0; i < 3_000; i++) {
            const n = p * 3_000 + i;
            insert.run(n, point(n % 360 - 180, (n % 170) - 85));
          }
          db.exec("COMMIT");
          await pause(15);
        }
      } finally {
        db.close();
      }
    };
    await t.step("every row, in order, as if the table had been complete", async () => {
      const producing = produce(`${dir}/a.gpkg`, 10);
      const followed = await sqliteToGeoParquet(`${dir}/a.gpkg`, "input", `${dir}/a.parquet`, {
        crs: { type: "GeographicCRS", name: "WGS 84" },
        batchSize: 4_096,
        follow: producing,
        pollMs: 5,
      });
      await producing;
      const whole = await sqliteToGeoParquet(`${dir}/a.gpkg`, "input", `${dir}/b.parquet`, {
        crs: { type: "GeographicCRS", name: "WGS 84" },
      });
      assert.equal(followed.rows, 30_000);
      assert.deepEqual(followed.bbox, whole.bbox);
      assert.deepEqual(followed.geo, whole.geo);
      const [same] = await duck(
        `SELECT count(*) AS n FROM (SELECT n, geometry FROM '${dir}/a.parquet' EXCEPT ALL
         SELECT n, geometry FROM '${dir}/b.parquet')`,
      );
      assert.equal(Number(same!.n), 0);
      const ordered = await duck(`SELECT n FROM '${dir}/a.parquet'`);
      assert.ok(ordered.every((r, i) => Number(r.n) === i), "rows keep the producer's order");
    });
    await t.step(
      "a producer that fails ends the writer instead of leaving it waiting",
      async () => {
        const producing = produce(`${dir}/c.gpkg`, 10, 3);
        const written = await sqliteToGeoParquet(`${dir}/c.gpkg`, "input", `${dir}/c.parquet`, {
          crs: { type: "GeographicCRS", name: "WGS 84" },
          follow: producing,
          pollMs: 5,
        });
        await assert.rejects(producing, /half-way/);
        // What was committed is written; the caller trusts the producer's failure, not this file.
        assert.equal(written.rows, 9_000);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet counts plain WKB points as it counts GeoPackage blobs of them", async () => {
  // Plain little-endian 2D points take the writer's per-point path; the same
  // points in GeoPackage blobs take the full scan: same file, same counts.
  const dir = await Deno.makeTempDir();
  try {
    const points = [
      point(-116.5, 44.25),
      point(179.5, -10),
      point(-179.5, 10), // With the one above: across the antimeridian.
      point(NaN, NaN), // POINT EMPTY.
      point(Infinity, 3),
      point(12, NaN),
      point(10, 95), // Outside the CRS's area of use.
      point(1, 2, 3), // Z: not a 2D point.
    ];
    const gpkg = (wkb: Uint8Array) => {
      const blob = new Uint8Array(8 + wkb.length);
      blob.set([0x47, 0x50, 0, 0x01, 0xe6, 0x10, 0, 0]);
      blob.set(wkb, 8);
      return blob;
    };
    const results = [];
    for (const [name, wrap] of [["plain", (b: Uint8Array) => b], ["gpkg", gpkg]] as const) {
      const db = new DatabaseSync(`${dir}/${name}.sqlite`);
      db.exec("CREATE TABLE t (fid INTEGER PRIMARY KEY, n INTEGER, geom BLOB)");
      const insert = db.prepare("INSERT INTO t (n, geom) VALUES (?, ?)");
      points.forEach((p, i) => insert.run(i, wrap(p)));
      db.close();
      const { sha256: _, ...result } = await sqliteToGeoParquet(
        `${dir}/${name}.sqlite`,
        "t",
        `${dir}/${name}.parquet`,
        { crs: { type: "GeographicCRS", name: "WGS 84" }, validBox: [-180, -90, 180, 90] },
      );
      results.push({ result, bytes: await Deno.readFile(`${dir}/${name}.parquet`) });
    }
    const [plain, blobs] = results;
    assert.deepEqual(plain!.result, blobs!.result);
    assert.deepEqual(plain!.bytes, blobs!.bytes);
    assert.deepEqual(plain!.result.stats, {
      nullGeometries: 0,
      emptyGeometries: 1,
      nonFiniteGeometries: 2,
      outsideGeometries: 1,
    });
    assert.deepEqual(plain!.result.geometryTypes, ["Point", "Point Z"]);
    // West > east: the shortest extent of the longitudes runs across the antimeridian.
    assert.deepEqual(plain!.result.bbox, [179.5, -10, 10, 95]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet: a text column of repeated values keeps its dictionary, one of unique names does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-dictionary-" });
  try {
    const rows = 5_000;
    const db = new DatabaseSync(`${dir}/texts.sqlite`);
    db.exec("CREATE TABLE texts (name TEXT, kind TEXT, geom BLOB)");
    db.exec("CREATE TABLE few (name TEXT, geom BLOB)");
    const insert = db.prepare("INSERT INTO texts VALUES (?, ?, ?)");
    const insertFew = db.prepare("INSERT INTO few VALUES (?, ?)");
    db.exec("BEGIN");
    for (let i = 0; i < rows; i++) {
      insert.run(`feature ${i}`, ["road", "river", "trail"][i % 3]!, point(i % 90, i % 45));
      // Too few rows to judge: unique, yet kept as a dictionary.
      if (i < 100) insertFew.run(`feature ${i}`, point(i, i));
    }
    db.exec("COMMIT");
    db.close();
    const encodings = async (table: string) => {
      await sqliteToGeoParquet(`${dir}/texts.sqlite`, table, `${dir}/${table}.parquet`, {
        crs: { type: "GeographicCRS", name: "WGS 84" },
        geometryColumn: "geom",
      });
      const chunks = await duck(
        `SELECT path_in_schema AS path, encodings FROM parquet_metadata('${dir}/${table}.parquet')`,
      );
      const dictionary = (path: string) =>
        chunks.filter((c) => c.path === path).every((c) => /DICTIONARY/.test(String(c.encodings)));
      return { dictionary };
    };
    const texts = await encodings("texts");
    assert.equal(texts.dictionary("kind"), true);
    assert.equal(texts.dictionary("name"), false);
    assert.equal((await encodings("few")).dictionary("name"), true);
    // The values read back the same either way.
    const back = await duck(
      `SELECT count(DISTINCT name) AS names, count(*) FILTER (WHERE kind = 'river') AS rivers,
         min(name) AS first FROM '${dir}/texts.parquet'`,
    );
    assert.deepEqual(back, [{ names: "5000", rivers: "1667", first: "feature 0" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
