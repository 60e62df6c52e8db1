/**
 * One TIFF tile's predictor and deflate, as libtiff's encoder does them
 * (`tif_predict.c`, `tif_zip.c`): shared by `tiff_deflate.ts` (small files,
 * on its own thread) and its worker threads.
 *
 * @module
 */

import { deflateSync } from "node:zlib";

/** The layout of a tile's samples, as the predictor needs it. */
export interface TileLayout {
  /** TIFF Predictor: 1 none, 2 horizontal differencing, 3 floating point. */
  predictor: 1 | 2 | 3;
  /** Bytes per sample: 1, 2, 4 or 8 (the predictor needs whole bytes). */
  bytesPerSample: number;
  /** Bytes of one row of the tile (TileWidth x samples in a pixel x bytes per sample). */
  rowBytes: number;
  /** Samples between a sample and the one it is differenced with (samples per pixel, 1 for planar). */
  stride: number;
  /** zlib level (1-9). */
  level: number;
}

/** One tile to compress (the uncompressed bytes, little-endian as in the file). */
export interface TileJob extends TileLayout {
  id: number;
  bytes: Uint8Array;
}

/**
 * The tile's bytes with the predictor applied (in place) and deflated as a
 * zlib stream, which TIFF's Deflate compression (8) holds.
 */
export function compressTile(job: TileJob): Uint8Array {
  const { bytes, rowBytes } = job;
  if (job.predictor !== 1) {
    for (let row = 0; row + rowBytes <= bytes.length; row += rowBytes) {
      const line = bytes.subarray(row, row + rowBytes);
      if (job.predictor === 2) horizontal(line, job.bytesPerSample, job.stride);
      else floatingPoint(line, job.bytesPerSample, job.stride);
    }
  }
  return deflateSync(bytes, { level: job.level });
}

/** Predictor 2 on one row: each sample minus the one `stride` samples before, modulo 2^bits. */
function horizontal(line: Uint8Array, size: number, stride: number): void {
  const { buffer, byteOffset, length } = line;
  const count = length / size;
  if (size === 1) {
    for (let i = count - 1; i >= stride; i--) line[i] = (line[i]! - line[i - stride]!) & 0xff;
  } else if (size === 2) {
    const s = byteOffset % 2 === 0
      ? new Uint16Array(buffer, byteOffset, count)
      : new Uint16Array(line.slice().buffer);
    for (let i = count - 1; i >= stride; i--) s[i] = (s[i]! - s[i - stride]!) & 0xffff;
    if (s.buffer !== buffer) line.set(new Uint8Array(s.buffer));
  } else if (size === 4) {
    const s = byteOffset % 4 === 0
      ? new Uint32Array(buffer, byteOffset, count)
      : new Uint32Array(line.slice().buffer);
    for (let i = count - 1; i >= stride; i--) s[i] = (s[i]! - s[i - stride]!) >>> 0;
    if (s.buffer !== buffer) line.set(new Uint8Array(s.buffer));
  } else {
    const s = byteOffset % 8 === 0
      ? new BigUint64Array(buffer, byteOffset, count)
      : new BigUint64Array(line.slice().buffer);
    for (let i = count - 1; i >= stride; i--) s[i] = BigInt.asUintN(64, s[i]! - s[i - stride]!);
    if (s.buffer !== buffer) line.set(new Uint8Array(s.buffer));
  }
}

/**
 * Predictor 3 (TIFF Technical Note 3) on one row: the bytes of the samples
 * regrouped by significance (most significant bytes of every sample first),
 * then each byte minus the one `stride` bytes before. Samples are
 * little-endian here, as libtiff sees them on a little-endian host.
 */
function floatingPoint(line: Uint8Array, size: number, stride: number): void {
  const count = line.length / size;
  const copy = line.slice();
  if (size === 4) {
    // The common case (float32) a word at a time.
    const words = new Uint32Array(copy.buffer, 0, count);
    for (let i = 0; i < count; i++) {
      const w = words[i]!;
      line[i] = w >>> 24;
      line[count + i] = w >>> 16;
      line[2 * count + i] = w >>> 8;
      line[3 * count + i] = w;
    }
  } else {
    for (let i = 0; i < count; i++) {
      const from = i * size;
      for (let b = 0; b < size; b++) line[(size - b - 1) * count + i] = copy[from + b]!;
    }
  }
  for (let i = line.length - 1; i >= stride; i--) line[i] = (line[i]! - line[i - stride]!) & 0xff;
}
