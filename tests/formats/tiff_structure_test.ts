/**
 * The TIFF structure read through geotiff.js agrees with Debian's gdalinfo
 * (an independent reader) on every GeoTIFF generated here (COGs with
 * overviews, BigTIFF, striped, tiled); the reads it makes are printed (the
 * module doc's figures).
 */

import assert from "node:assert/strict";
import { type ByteReader, fileReader } from "../../formats/byte_reader.ts";
import { cogProblems, readTiffStructure } from "../../formats/tiff_structure.ts";
import { needs } from "../_helpers/tools.ts";

const ignore = await needs("gdal");
const DEM = new URL("../../sample_data/spatial/montana-sample/dem.tif", import.meta.url).pathname;

function counting(read: ByteReader) {
  const stats = { requests: 0, bytes: 0 };
  const wrapped: ByteReader = async (offset, length) => {
    const got = await read(offset, length);
    stats.requests++;
    stats.bytes += got.length;
    return got;
  };
  return { wrapped, stats };
}

Deno.test({
  name: "TIFF structure: geotiff.js and gdalinfo agree on images, tiles and overviews",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "tiff-structure-" });
    try {
      const make = async (name: string, args: string[]) => {
        const out = await new Deno.Command("gdal_translate", {
          args: ["-q", "-outsize", "3000", "3000", ...args, DEM, `${dir}/${name}`],
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        return `${dir}/${name}`;
      };
      const files = {
        cog: await make("cog.tif", ["-of", "COG", "-co", "BLOCKSIZE=256"]),
        bigtiff_cog: await make("big.tif", ["-of", "COG", "-co", "BIGTIFF=YES"]),
        striped: await make("striped.tif", []),
        tiled: await make("tiled.tif", ["-co", "TILED=YES"]),
      };
      for (const [name, file] of Object.entries(files)) {
        await t.step(name, async () => {
          using handle = await Deno.open(file);
          const size = (await handle.stat()).size;
          const lib = counting(fileReader(handle));
          const tiff = await readTiffStructure(lib.wrapped, size);
          const info = JSON.parse(
            new TextDecoder().decode(
              (await new Deno.Command("gdalinfo", { args: ["-json", file] }).output()).stdout,
            ),
          );
          const band = info.bands[0];
          const full = tiff.ifds[0]!;
          assert.deepEqual([full.width, full.height], info.size);
          assert.deepEqual(
            [full.tileWidth ?? full.width, full.tileHeight ?? band.block[1]],
            band.block,
          );
          assert.equal(
            tiff.ifds.filter((i) => (i.subfileType & 0b101) === 1).length,
            band.overviews?.length ?? 0,
          );
          assert.equal(tiff.bigTiff, name.startsWith("bigtiff"));
          assert.equal(
            cogProblems(tiff).length === 0,
            name.endsWith("cog"),
            cogProblems(tiff).join(),
          );
          console.log(
            `${name}: geotiff.js ${lib.stats.requests} reads / ${lib.stats.bytes} bytes`,
          );
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
