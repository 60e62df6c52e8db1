/**
 * Reads the structure of a TIFF (header, GDAL's ghost area, and each IFD's
 * size, tiling and subfile type) with ranged reads, so a check can tell a
 * Cloud Optimized GeoTIFF from a plain one without loading the pixels.
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";

/** One image file directory: the full image, an overview or a mask. */
export interface TiffIfd {
  /** Byte offset of the IFD. */
  offset: number;
  /** ImageWidth (tag 256). */
  width: number;
  /** ImageLength (tag 257). */
  height: number;
  /** TileWidth (tag 322), `undefined` for a striped image. */
  tileWidth: number | undefined;
  /** TileLength (tag 323). */
  tileHeight: number | undefined;
  /** NewSubfileType (tag 254): bit 0 reduced resolution, bit 2 transparency mask. */
  subfileType: number;
}

/** The structure of a TIFF. */
export interface TiffStructure {
  /** Whether it is a BigTIFF. */
  bigTiff: boolean;
  /** GDAL's structural metadata ("ghost area") after the header, if any. */
  ghost: string | undefined;
  /** Every IFD, in file order of the chain. */
  ifds: TiffIfd[];
}

/** Most IFDs followed, so a looping chain cannot hang a check. */
const MAX_IFDS = 256;

/**
 * Parses the TIFF header and IFD chain.
 *
 * @throws {RangeError} when the bytes are not a TIFF or the IFD chain is malformed.
 */
export async function readTiffStructure(read: ByteReader, size: number): Promise<TiffStructure> {
  const header = await read(0, 16);
  if (header.length < 8) throw new RangeError("it is too short to be a TIFF");
  const order = String.fromCharCode(header[0]!, header[1]!);
  if (order !== "II" && order !== "MM") throw new RangeError("it has no TIFF byte-order mark");
  const little = order === "II";
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const h = view(header);
  const magic = h.getUint16(2, little);
  if (magic !== 42 && magic !== 43) throw new RangeError(`its TIFF version is ${magic}`);
  const big = magic === 43;
  const u64 = (d: DataView, at: number) => Number(d.getBigUint64(at, little));
  let next = big ? u64(h, 8) : h.getUint32(4, little);

  const ghostStart = big ? 16 : 8;
  const ghostHead = new TextDecoder().decode(await read(ghostStart, 43));
  const ghostSize = ghostHead.match(/^GDAL_STRUCTURAL_METADATA_SIZE=(\d{6}) bytes\n/);
  const ghost = ghostSize
    ? new TextDecoder().decode(await read(ghostStart, 43 + Number(ghostSize[1])))
    : undefined;

  const ifds: TiffIfd[] = [];
  const seen = new Set<number>();
  const entrySize = big ? 20 : 12;
  while (next !== 0) {
    if (seen.has(next) || ifds.length >= MAX_IFDS) throw new RangeError("its IFD chain loops");
    if (next >= size) throw new RangeError(`an IFD offset ${next} is past the end of the file`);
    seen.add(next);
    const countBytes = view(await read(next, big ? 8 : 2));
    const count = big ? u64(countBytes, 0) : countBytes.getUint16(0, little);
    const tableLength = count * entrySize + (big ? 8 : 4);
    const table = await read(next + (big ? 8 : 2), tableLength);
    if (table.length < tableLength) throw new RangeError(`the IFD at ${next} is truncated`);
    const t = view(table);
    const tags = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const at = i * entrySize;
      const tag = t.getUint16(at, little);
      const type = t.getUint16(at + 2, little);
      const n = big ? u64(t, at + 4) : t.getUint32(at + 4, little);
      const value = at + (big ? 12 : 8);
      // Only single SHORT, LONG or LONG8 values are needed; they sit inline.
      if (n !== 1) continue;
      if (type === 3) tags.set(tag, t.getUint16(value, little));
      else if (type === 4) tags.set(tag, t.getUint32(value, little));
      else if (type === 16) tags.set(tag, u64(t, value));
    }
    ifds.push({
      offset: next,
      width: tags.get(256) ?? 0,
      height: tags.get(257) ?? 0,
      tileWidth: tags.get(322),
      tileHeight: tags.get(323),
      subfileType: tags.get(254) ?? 0,
    });
    next = big ? u64(t, count * entrySize) : t.getUint32(count * entrySize, little);
  }
  return { bigTiff: big, ghost, ifds };
}

/**
 * What makes `tiff` not a Cloud Optimized GeoTIFF, as sentences; empty when
 * it is one. A COG is tiled in every IFD, has GDAL's `LAYOUT=IFDS_BEFORE_DATA`
 * marker, and has reduced-resolution overviews whenever the full image is
 * larger than one tile (GDAL's COG driver makes none for a one-tile image).
 */
export function cogProblems(tiff: TiffStructure): string[] {
  const problems: string[] = [];
  const full = tiff.ifds[0];
  if (full === undefined) return ["it has no image (no IFD)"];
  if ((full.subfileType & 1) !== 0) problems.push("its first IFD is not the full-resolution image");
  const untiled = tiff.ifds.filter((ifd) => ifd.tileWidth === undefined);
  if (untiled.length > 0) {
    problems.push(
      `it is not tiled (no TileWidth tag in ${untiled.length} of ${tiff.ifds.length} IFDs)`,
    );
  }
  if (!tiff.ghost?.includes("LAYOUT=IFDS_BEFORE_DATA")) {
    problems.push("it lacks the COG layout marker LAYOUT=IFDS_BEFORE_DATA (GDAL ghost area)");
  }
  const overviews = tiff.ifds.filter((ifd) => (ifd.subfileType & 0b101) === 1);
  const tileW = full.tileWidth ?? full.width;
  const tileH = full.tileHeight ?? full.height;
  if (overviews.length === 0 && (full.width > tileW || full.height > tileH)) {
    problems.push(
      `it has no overviews although ${full.width}x${full.height} is larger than one ` +
        `${tileW}x${tileH} tile`,
    );
  }
  return problems;
}
