/**
 * The GeoParquet writer's Parquet encoding on a worker thread
 * (formats/_parquet_encoder.ts): the same file as on the writer's thread,
 * taken for layers of more than one page, and its failures reported as
 * what they are.
 */

import assert from "node:assert/strict";
import { parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { type FeatureSource, GeoParquetError, writeGeoParquet } from "../../formats/geoparquet.ts";
import { encodeWorkersStarted, ParquetEncoderError } from "../../formats/_parquet_encoder.ts";

const CRS = { type: "GeographicCRS", name: "WGS 84" };

/** `pages` pages of `rows` points with a text, an integer and a double; `fail` throws at that page. */
function points(pages: number, rows: number, fail?: number): FeatureSource {
  let page = 0;
  return {
    columns: [
      { name: "name", type: "string" },
      { name: "n", type: "int64" },
      { name: "v", type: "float64" },
    ],
    next() {
      if (page === fail) return Promise.reject(new RangeError(`page ${page} is unreadable`));
      if (page >= pages) return Promise.resolve(undefined);
      const first = page++ * rows;
      const ids = Array.from({ length: rows }, (_, i) => first + i);
      const wkbs = ids.map((id) => {
        const wkb = new Uint8Array(21);
        const view = new DataView(wkb.buffer);
        view.setUint8(0, 1);
        view.setUint32(1, 1, true);
        view.setFloat64(5, -116 + (id % 1000) / 100, true);
        view.setFloat64(13, 44 + (id % 777) / 200, true);
        return id % 97 === 0 ? null : wkb;
      });
      return Promise.resolve({
        length: rows,
        columns: [
          ids.map((id) => (id % 5 === 0 ? null : `feature ${id % 300}`)),
          ids.map((id) => BigInt(id)),
          ids.map((id) => id / 8),
        ],
        wkbs,
        rowids: ids.map((id) => id + 1),
      });
    },
  };
}

/** Every row of the Parquet file at `path`, read back by another reader (hyparquet). */
async function readBack(path: string): Promise<Record<string, unknown>[]> {
  const bytes = await Deno.readFile(path);
  return await parquetReadObjects({ file: bytes.buffer, compressors });
}

Deno.test("the encoding worker writes the writer thread's file byte for byte, past one page", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = { crs: CRS, rowGroupSize: 2048 };
    const before = encodeWorkersStarted();
    const thread = await writeGeoParquet(points(6, 1000), `${dir}/thread.parquet`, {
      ...options,
      encoder: "thread",
    });
    assert.equal(encodeWorkersStarted(), before, "the thread route started a worker");
    const auto = await writeGeoParquet(points(6, 1000), `${dir}/auto.parquet`, options);
    assert.equal(encodeWorkersStarted(), before + 1, "six pages were not encoded on a worker");
    assert.equal(auto.sha256, thread.sha256);
    assert.deepEqual(
      await Deno.readFile(`${dir}/auto.parquet`),
      await Deno.readFile(`${dir}/thread.parquet`),
    );
    const rows = await readBack(`${dir}/auto.parquet`);
    assert.equal(rows.length, 6000);
    assert.equal(rows.filter((r) => r.geometry !== null && r.geometry !== undefined).length, 5938);
    assert.equal(rows.reduce((n, r) => n + Number(r.n), 0), 17997000);
    assert.equal(new Set(rows.map((r) => r.name).filter((n) => n !== null)).size, 240);
    // A layer of one page stays on the writer's thread, with the same bytes as a worker's.
    const one = await writeGeoParquet(points(1, 1000), `${dir}/one.parquet`, options);
    assert.equal(encodeWorkersStarted(), before + 1, "one page started a worker");
    const oneOnWorker = await writeGeoParquet(points(1, 1000), `${dir}/one_worker.parquet`, {
      ...options,
      encoder: "worker",
    });
    assert.equal(encodeWorkersStarted(), before + 2);
    assert.equal(oneOnWorker.sha256, one.sha256);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a page failing while the worker encodes fails the write with its own error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const fail of [1, 2, 5]) {
      await assert.rejects(
        writeGeoParquet(points(8, 500, fail), `${dir}/out.parquet`, { crs: CRS }),
        (error: unknown) =>
          error instanceof RangeError && error.message === `page ${fail} is unreadable`,
      );
    }
    // Geometry the writer refuses (a TIN), found on the second page: the layer's problem.
    const tin = new Uint8Array([1, 16, 0, 0, 0, 0, 0, 0, 0]);
    const source = points(4, 500);
    let page = 0;
    const withTin: FeatureSource = {
      columns: source.columns,
      async next() {
        const next = await source.next();
        if (next !== undefined && page++ === 1) next.wkbs[3] = tin;
        return next;
      },
    };
    await assert.rejects(
      writeGeoParquet(withTin, `${dir}/out.parquet`, { crs: CRS }),
      (error: unknown) =>
        error instanceof GeoParquetError && error.code === "spatial.geoparquet_geometry_type",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the encoder failing on its worker is a platform fault, not the layer's", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // parquet-wasm aborts on a row group of no rows: on its worker, the write
    // ends with a typed error (a batch failing so is retried, not quarantined).
    await assert.rejects(
      writeGeoParquet(points(3, 100), `${dir}/out.parquet`, {
        crs: CRS,
        rowGroupSize: 0,
        encoder: "worker",
      }),
      (error: unknown) =>
        error instanceof ParquetEncoderError && !(error instanceof GeoParquetError) &&
        error.code === "spatial.parquet_encoder_failed" &&
        /run the batch again/.test(error.message),
    );
    // The next write has a fresh worker.
    const result = await writeGeoParquet(points(3, 100), `${dir}/out.parquet`, { crs: CRS });
    assert.equal(result.rows, 300);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
