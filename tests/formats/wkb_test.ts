import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import wkxModule from "wkx";
import { scanWkb, withoutM, WkbTypeError } from "../../formats/wkb.ts";

// wkx (npm) writes ISO WKB, the reference here: its bytes of the same geometry without M.
const wkx = wkxModule as unknown as {
  Geometry: { parse(value: string | Buffer): { toWkb(): Buffer; toWkt(): string } };
};
const wkb = (wkt: string) => new Uint8Array(wkx.Geometry.parse(wkt).toWkb());

Deno.test("withoutM drops the M of every vertex and keeps Z, nested collections included", () => {
  for (
    const [measured, plain] of [
      ["POINT M (1 2 9)", "POINT (1 2)"],
      ["LINESTRING ZM (1 2 3 9, 4 5 6 9)", "LINESTRING Z (1 2 3, 4 5 6)"],
      [
        "POLYGON M ((0 0 1, 4 0 2, 4 4 3, 0 0 4), (1 1 5, 2 1 6, 2 2 7, 1 1 8))",
        "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
      ],
      [
        "GEOMETRYCOLLECTION ZM (POINT ZM (1 2 3 4), MULTILINESTRING ZM ((1 2 3 4, 5 6 7 8)))",
        "GEOMETRYCOLLECTION Z (POINT Z (1 2 3), MULTILINESTRING Z ((1 2 3, 5 6 7)))",
      ],
    ]
  ) {
    const out = withoutM(wkb(measured!));
    assert.deepEqual(out, wkb(plain!), measured);
    assert.equal(scanWkb(out).hasM, false);
    assert.equal(scanWkb(wkb(measured!)).hasM, true);
  }
});

Deno.test("withoutM keeps a big-endian geometry big-endian", () => {
  const view = new DataView(new ArrayBuffer(5 + 24));
  view.setUint8(0, 0);
  view.setUint32(1, 2001);
  [10.5, -3.25, 99].forEach((v, i) => view.setFloat64(5 + 8 * i, v));
  const out = new DataView(withoutM(new Uint8Array(view.buffer)).slice().buffer);
  assert.equal(out.byteLength, 21);
  assert.deepEqual([out.getUint8(0), out.getUint32(1)], [0, 1]);
  assert.deepEqual([out.getFloat64(5), out.getFloat64(13)], [10.5, -3.25]);
});

Deno.test("a curve or a surface is a WkbTypeError naming its type", () => {
  const circular = new DataView(new ArrayBuffer(9 + 3 * 24));
  circular.setUint8(0, 1);
  circular.setUint32(1, 1008, true);
  circular.setUint32(5, 3, true);
  assert.throws(
    () => scanWkb(new Uint8Array(circular.buffer)),
    (error) => error instanceof WkbTypeError && error.typeName === "CircularString Z",
  );
  const tin = new DataView(new ArrayBuffer(9));
  tin.setUint8(0, 1);
  tin.setUint32(1, 16, true);
  assert.throws(
    () => withoutM(new Uint8Array(tin.buffer)),
    (error) => error instanceof WkbTypeError && error.typeName === "TIN",
  );
});
