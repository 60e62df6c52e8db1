/**
 * A COG whose tiles were deflated outside GDAL (`formats/tiff_deflate.ts`, the
 * wasm engine's path for `COMPRESS=DEFLATE`) has the pixels, overviews,
 * compression, predictor, COG layout and block leaders/trailers of the COG
 * GDAL deflates itself (gdal3.js, made to compress by an option the plan
 * leaves to GDAL), for float, integer, multi-band and BigTIFF rasters; and a
 * file it cannot rewrite is refused before anything is written.
 */

import assert from "node:assert/strict";
import { fromArrayBuffer } from "geotiff";
import { fileReader } from "../../formats/byte_reader.ts";
import { deflateTiffTiles, TiffDeflateUnsupported } from "../../formats/tiff_deflate.ts";
import { cogProblems, readTiffStructure } from "../../formats/tiff_structure.ts";
import { deflatePlan } from "../../resources/spatial/_cog_deflate.ts";
import { wasmGdal } from "../../resources/spatial/gdal_wasm.ts";

const DEM = new URL("../../sample_data/spatial/montana-sample/dem.tif", import.meta.url).pathname;

interface Band {
  checksum: number;
  overviews?: { checksum: number }[];
  metadata?: Record<string, Record<string, string>>;
}

/** The tiles' offsets and byte counts of every IFD, and the file's bytes. */
async function tiles(file: string) {
  const bytes = await Deno.readFile(file);
  const tiff = await fromArrayBuffer(bytes.buffer as ArrayBuffer);
  const result: { offsets: number[]; counts: number[] }[] = [];
  for (let i = 0; i < await tiff.getImageCount(); i++) {
    const dir = (await tiff.getImage(i)).fileDirectory;
    result.push({
      offsets: Array.from(await dir.loadValue("TileOffsets") as ArrayLike<number>, Number),
      counts: Array.from(await dir.loadValue("TileByteCounts") as ArrayLike<number>, Number),
    });
  }
  return { bytes, ifds: result };
}

const CASES = [
  {
    name: "float32, floating-point predictor",
    make: ["-ot", "Float32", "-scale", "0", "3000", "0", "1.7"],
    co: ["PREDICTOR=YES"],
    predictor: "3",
  },
  { name: "int16, horizontal predictor", make: [], co: ["PREDICTOR=YES"], predictor: "2" },
  { name: "byte, no predictor, BigTIFF", make: ["-ot", "Byte", "-scale"], co: ["BIGTIFF=YES"] },
  {
    name: "float64, level 9",
    make: ["-ot", "Float64"],
    co: ["PREDICTOR=FLOATING_POINT", "LEVEL=9"],
    predictor: "3",
  },
];

Deno.test("COG deflated outside GDAL: the same COG as GDAL's own deflate, pixel for pixel", async (t) => {
  await using scratch = await wasmGdal.createScratch();
  await Deno.copyFile(DEM, scratch.hostPath("dem.tif"));
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const src = await scratch.gdal.translate(
        scratch.gdalPath("dem.tif"),
        ["-of", "GTiff", "-outsize", "1300", "900", "-r", "bilinear", ...c.make],
        `src-${CASES.indexOf(c)}`,
      );
      const options = ["-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=256"]
        .concat(c.co.flatMap((o) => ["-co", o]));
      // OVERVIEW_COMPRESS leaves the whole job to GDAL (the plan does not take it).
      const gdalOwn = [...options, "-co", "OVERVIEW_COMPRESS=DEFLATE"];
      assert.ok(deflatePlan(options));
      assert.equal(deflatePlan(gdalOwn), undefined);
      // The deflater on GDAL's uncompressed COG, and the engine's translate (which uses it).
      const plan = deflatePlan(options)!;
      const raw = await scratch.gdal.translate(src, plan.gdalOptions, `raw-${CASES.indexOf(c)}`);
      const ours = scratch.gdalPath(`ours-${CASES.indexOf(c)}.tif`);
      // Worker threads for some cases, the calling thread for the others.
      const threads = CASES.indexOf(c) % 2 === 0 ? 2 : 0;
      await deflateTiffTiles(scratch.toHost(raw), scratch.toHost(ours), {
        ...plan.deflate,
        threads,
      });
      const engine = await scratch.gdal.translate(src, options, `engine-${CASES.indexOf(c)}`);
      assert.deepEqual(
        await Deno.readFile(scratch.toHost(engine)),
        await Deno.readFile(scratch.toHost(ours)),
      );
      const theirs = await scratch.gdal.translate(src, gdalOwn, `gdal-${CASES.indexOf(c)}`);
      const [a, b] = await Promise.all(
        [ours, theirs].map((f) => scratch.gdal.rasterInfo(f, ["-checksum"])),
      );
      const bands = (info: Record<string, unknown>) =>
        (info.bands as Band[]).map((band) => [
          band.checksum,
          band.overviews?.map((o) => o.checksum),
        ]);
      assert.deepEqual(bands(a!), bands(b!));
      assert.ok((a!.bands as Band[])[0]!.overviews!.length > 0, "has overviews");
      const structure = (info: Record<string, unknown>) =>
        (info.metadata as Record<string, Record<string, string>>).IMAGE_STRUCTURE;
      assert.deepEqual(structure(a!), structure(b!));
      assert.equal(structure(a!)?.COMPRESSION, "DEFLATE");
      assert.equal(structure(a!)?.PREDICTOR, c.predictor);

      const file = scratch.toHost(ours);
      using handle = await Deno.open(file);
      const size = (await handle.stat()).size;
      const layout = await readTiffStructure(fileReader(handle), size);
      assert.deepEqual(cogProblems(layout), []);
      assert.equal(layout.bigTiff, c.co.includes("BIGTIFF=YES"));
      // Deflated about as well as GDAL's zlib does it.
      const gdalSize = (await Deno.stat(scratch.toHost(theirs))).size;
      assert.ok(Math.abs(size / gdalSize - 1) < 0.05, `${size} vs GDAL's ${gdalSize}`);
      // Every tile has its size before it and its last 4 bytes after it (the ghost area says so).
      const { bytes, ifds } = await tiles(file);
      const view = new DataView(bytes.buffer);
      let previous = 0;
      for (const ifd of ifds.toReversed()) {
        ifd.offsets.forEach((offset, i) => {
          const count = ifd.counts[i]!;
          assert.equal(view.getUint32(offset - 4, true), count);
          assert.deepEqual(
            bytes.subarray(offset + count, offset + count + 4),
            bytes.subarray(offset + count - 4, offset + count),
          );
          // Smallest overview first, each image's tiles in row order.
          assert.ok(offset > previous);
          previous = offset;
        });
      }
    });
  }
});

Deno.test("COG of several bands: left to GDAL, pixel-interleaved as GDAL's own deflate makes it", async () => {
  await using scratch = await wasmGdal.createScratch();
  await Deno.copyFile(DEM, scratch.hostPath("dem.tif"));
  const src = await scratch.gdal.translate(
    scratch.gdalPath("dem.tif"),
    ["-of", "GTiff", "-outsize", "700", "600", "-b", "1", "-b", "1", "-b", "1"],
    "src",
  );
  const options = [
    "-of",
    "COG",
    "-co",
    "COMPRESS=DEFLATE",
    "-co",
    "PREDICTOR=YES",
    "-co",
    "BLOCKSIZE=256",
  ];
  const ours = await scratch.gdal.translate(src, options, "ours");
  const theirs = await scratch.gdal.translate(
    src,
    [...options, "-co", "OVERVIEW_COMPRESS=DEFLATE"],
    "gdal",
  );
  const [a, b] = await Promise.all(
    [ours, theirs].map((f) => scratch.gdal.rasterInfo(f, ["-checksum"])),
  );
  assert.deepEqual(a!.metadata, b!.metadata);
  assert.equal(
    (a!.metadata as Record<string, Record<string, string>>).IMAGE_STRUCTURE?.INTERLEAVE,
    "PIXEL",
  );
  assert.deepEqual(a!.bands, b!.bands);
});

Deno.test("COG deflated outside GDAL: a compressed, striped or masked TIFF is refused before writing", async () => {
  await using scratch = await wasmGdal.createScratch();
  await Deno.copyFile(DEM, scratch.hostPath("dem.tif"));
  const striped = scratch.toHost(
    await scratch.gdal.translate(scratch.gdalPath("dem.tif"), ["-of", "GTiff"], "striped"),
  );
  const compressed = scratch.toHost(
    await scratch.gdal.translate(
      scratch.gdalPath("dem.tif"),
      ["-of", "GTiff", "-co", "TILED=YES", "-co", "COMPRESS=LZW"],
      "lzw",
    ),
  );
  const masked = scratch.toHost(
    await scratch.gdal.translate(
      scratch.gdalPath("dem.tif"),
      [
        "-of",
        "GTiff",
        "-co",
        "TILED=YES",
        "-b",
        "1",
        "-mask",
        "1",
        "--config",
        "GDAL_TIFF_INTERNAL_MASK",
        "YES",
      ],
      "masked",
    ),
  );
  for (
    const [file, reason] of [
      [striped, /not tiled/],
      [compressed, /compressed already/],
      [masked, /transparency mask/],
    ] as const
  ) {
    const output = scratch.hostPath("out.tif");
    await assert.rejects(
      deflateTiffTiles(file, output, { predictor: "auto", level: 6 }),
      (error: unknown) => error instanceof TiffDeflateUnsupported && reason.test(error.message),
    );
    await assert.rejects(Deno.stat(output), Deno.errors.NotFound);
  }
});

Deno.test("COG deflate plan: only a COG with COMPRESS=DEFLATE and options the deflater follows", () => {
  const cog = [
    "-of",
    "COG",
    "-co",
    "COMPRESS=DEFLATE",
    "-co",
    "PREDICTOR=YES",
    "-co",
    "STATISTICS=YES",
  ];
  assert.deepEqual(deflatePlan(cog), {
    gdalOptions: ["-of", "COG", "-co", "COMPRESS=NONE", "-co", "STATISTICS=YES"],
    deflate: { predictor: "auto", level: 6 },
  });
  assert.deepEqual(
    deflatePlan(["-of", "cog", "-co", "compress=deflate", "-co", "LEVEL=2"])?.deflate,
    {
      predictor: 1,
      level: 2,
    },
  );
  assert.equal(deflatePlan(["-of", "GTiff", "-co", "COMPRESS=DEFLATE"]), undefined);
  assert.equal(deflatePlan(["-of", "COG", "-co", "COMPRESS=LZW"]), undefined);
  assert.equal(deflatePlan(["-of", "COG"]), undefined);
  assert.equal(
    deflatePlan(["-of", "COG", "-co", "COMPRESS=DEFLATE", "-b", "1", "-b", "1"]),
    undefined,
  );
  assert.equal(
    deflatePlan(["-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "LEVEL=12"]),
    undefined,
  );
  assert.equal(
    deflatePlan(["-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=MAYBE"]),
    undefined,
  );
});
