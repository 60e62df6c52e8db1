/** Writing a Parquet stream with its footer patched and hashed on the way. */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { writeParquetPatched } from "../../formats/parquet_output.ts";
import { GeoParquetError, sqliteToGeoParquet } from "../../formats/geoparquet.ts";

const encoder = new TextEncoder();

/** A Parquet-shaped byte sequence: `PAR1`, a body, a footer holding `footerText`, its length, `PAR1`. */
function parquetLike(body: Uint8Array, footerText: string): Uint8Array {
  const footer = encoder.encode(footerText);
  const out = new Uint8Array(4 + body.length + footer.length + 8);
  out.set(encoder.encode("PAR1"));
  out.set(body, 4);
  out.set(footer, 4 + body.length);
  new DataView(out.buffer).setUint32(4 + body.length + footer.length, footer.length, true);
  out.set(encoder.encode("PAR1"), out.length - 4);
  return out;
}

/** `bytes` as a stream of chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function body(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7919) % 251;
  return bytes;
}

const RESERVED = `{"geo":"${"x".repeat(40)}"}`;
const VALUE = '{"geo":"done"}';

Deno.test("writeParquetPatched patches the footer in the held bytes and hashes what it wrote", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = parquetLike(body(300_000), `meta ${RESERVED} end`);
    const expected = parquetLike(body(300_000), `meta ${VALUE.padEnd(RESERVED.length)} end`);
    // Held bytes of 64 KiB, chunks of 10,000: most of the file is written before the end.
    const written = await writeParquetPatched(
      chunked(input, 10_000),
      `${dir}/a`,
      RESERVED,
      () => VALUE,
      { heldBytes: 65_536 },
    );
    const file = await Deno.readFile(`${dir}/a`);
    assert.deepEqual(file, expected);
    assert.deepEqual(written, { size: expected.length, sha256: sha256(expected) });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeParquetPatched: a footer longer than the held bytes is patched on disk, same file and hash", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const longFooter = `${"m".repeat(5_000)} ${RESERVED} end`;
    const input = parquetLike(body(50_000), longFooter);
    const expected = parquetLike(
      body(50_000),
      `${"m".repeat(5_000)} ${VALUE.padEnd(RESERVED.length)} end`,
    );
    const written = await writeParquetPatched(
      chunked(input, 1_000),
      `${dir}/a`,
      RESERVED,
      () => VALUE,
      { heldBytes: 2_000 },
    );
    assert.deepEqual(await Deno.readFile(`${dir}/a`), expected);
    assert.deepEqual(written, { size: expected.length, sha256: sha256(expected) });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeParquetPatched refuses a value longer than the reserved one, a missing reservation, no Parquet", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = parquetLike(body(1_000), `meta ${RESERVED} end`);
    await assert.rejects(
      writeParquetPatched(chunked(input, 100), `${dir}/a`, RESERVED, () => `${RESERVED} and more`),
      (e) =>
        e instanceof GeoParquetError && e.code === "spatial.geoparquet_metadata" &&
        /outgrew the \d+ bytes reserved/.test(e.message),
    );
    for (const heldBytes of [2 ** 20, 100]) {
      await assert.rejects(
        writeParquetPatched(
          chunked(parquetLike(body(1_000), "meta without it"), 100),
          `${dir}/b`,
          RESERVED,
          () => VALUE,
          { heldBytes },
        ),
        (e) =>
          e instanceof GeoParquetError &&
          /reserved geo metadata is not in its footer/.test(e.message),
      );
    }
    await assert.rejects(
      writeParquetPatched(chunked(body(1_000), 100), `${dir}/c`, RESERVED, () => VALUE),
      (e) => e instanceof GeoParquetError && /does not end as a Parquet file/.test(e.message),
    );
    // Given the user's file, the messages name it, not the scratch output.
    for (const heldBytes of [2 ** 20, 100]) {
      await assert.rejects(
        writeParquetPatched(
          chunked(parquetLike(body(1_000), "meta without it"), 100),
          `${dir}/d`,
          RESERVED,
          () => VALUE,
          { heldBytes, label: "batch/roads.shp" },
        ),
        (e) =>
          e instanceof GeoParquetError &&
          e.message.includes("Cannot write GeoParquet for 'batch/roads.shp'") &&
          !e.message.includes(dir),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet returns the size and SHA-256 of the file it wrote", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (id INTEGER, name TEXT, geom BLOB)");
    const insert = db.prepare("INSERT INTO t VALUES (?, ?, ?)");
    db.exec("BEGIN");
    for (let i = 0; i < 50_000; i++) {
      const wkb = new Uint8Array(21);
      const view = new DataView(wkb.buffer);
      view.setUint8(0, 1);
      view.setUint32(1, 1, true);
      view.setFloat64(5, -116 + (i % 1000) / 100, true);
      view.setFloat64(13, 44 + i / 50_000, true);
      insert.run(i, `p${i}`, wkb);
    }
    db.exec("COMMIT");
    db.close();
    const out = `${dir}/o.parquet`;
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", out, {
      crs: { type: "GeographicCRS", name: "WGS 84" },
      rowGroupSize: 4_096,
    });
    const bytes = await Deno.readFile(out);
    assert.equal(result.size, bytes.length);
    assert.equal(result.sha256, sha256(bytes));
    // The footer carries the summary, not the reservation.
    assert.ok(new TextDecoder().decode(bytes.subarray(-20_000)).includes('"bbox":[-116,44,'));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
