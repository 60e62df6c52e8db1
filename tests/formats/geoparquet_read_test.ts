/**
 * A GeoParquet input is read into GeoJSON Sequence for GDAL
 * (formats/geoparquet_read.ts): its float columns' NaN and infinities must
 * reach GDAL as such, not as nulls, and its 64-bit integers exactly.
 */

import assert from "node:assert/strict";
import { writeGeoParquet } from "../../formats/geoparquet.ts";
import { geoParquetToGeoJsonSeq } from "../../formats/geoparquet_read.ts";
import { needs } from "../_helpers/tools.ts";

/** WKB of POINT (x y), little-endian. */
function point(x: number, y: number): Uint8Array {
  const view = new DataView(new ArrayBuffer(21));
  view.setUint8(0, 1);
  view.setUint32(1, 1, true);
  view.setFloat64(5, x, true);
  view.setFloat64(13, y, true);
  return new Uint8Array(view.buffer);
}

async function nonFiniteInput(dir: string): Promise<string> {
  const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5, null];
  let done = false;
  await writeGeoParquet(
    {
      columns: [
        { name: "v", type: "float64" },
        { name: "label", type: "string" },
        { name: "big", type: "int64" },
      ],
      next() {
        if (done) return Promise.resolve(undefined);
        done = true;
        return Promise.resolve({
          length: values.length,
          // A text that looks like a marker stays text.
          columns: [
            values,
            values.map((v) => `NaN ${v}`),
            [9007199254740993n, -9223372036854775807n, 3n, null, 0n],
          ],
          wkbs: values.map((_, i) => point(i, i)),
          rowids: values.map((_, i) => i + 1),
        });
      },
    },
    `${dir}/in.parquet`,
    { crs: { type: "GeographicCRS" } },
  );
  await geoParquetToGeoJsonSeq(`${dir}/in.parquet`, `${dir}/out.geojsons`, "batch/in.parquet");
  return await Deno.readTextFile(`${dir}/out.geojsons`);
}

Deno.test("geoParquetToGeoJsonSeq writes NaN, infinities and int64 as GDAL reads them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-read-test-" });
  try {
    const lines = (await nonFiniteInput(dir)).trim().split("\n");
    assert.deepEqual(
      lines.map((l) => l.match(/"properties":(\{.*?\}),"geometry"/)?.[1]),
      [
        '{"v":NaN,"label":"NaN NaN","big":9007199254740993}',
        '{"v":Infinity,"label":"NaN Infinity","big":-9223372036854775807}',
        '{"v":-Infinity,"label":"NaN -Infinity","big":3}',
        '{"v":1.5,"label":"NaN 1.5","big":null}',
        '{"v":null,"label":"NaN null","big":0}',
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "geoParquetToGeoJsonSeq: native GDAL reads the NaN and infinities back",
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-read-gdal-test-" });
  try {
    await nonFiniteInput(dir);
    const out = await new Deno.Command("ogrinfo", {
      args: ["-ro", "-al", "-q", `${dir}/out.geojsons`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const read = [...new TextDecoder().decode(out.stdout).matchAll(/ v \(Real\) = (\S+)/g)]
      .map((m) => m[1]);
    assert.deepEqual(read, ["nan", "inf", "-inf", "1.5", "(null)"]);
    // 64-bit integers exactly, the column typed as such (not String).
    const big = [...new TextDecoder().decode(out.stdout).matchAll(/ big \((\w+)\) = (\S+)/g)]
      .map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(big, [
      "Integer64 9007199254740993",
      "Integer64 -9223372036854775807",
      "Integer64 3",
      "Integer64 (null)",
      "Integer64 0",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
