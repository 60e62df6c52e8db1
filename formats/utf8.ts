/**
 * Where UTF-8 breaks in a run of bytes, for a message that names the byte
 * and its line: `TextDecoder`'s `fatal` mode says only that it does, not
 * where.
 *
 * @module
 */

/** Options of {@linkcode firstInvalidUtf8}. */
export interface FirstInvalidUtf8Options {
  /**
   * The bytes are one chunk of a longer stream: up to three leading
   * continuation bytes may finish a sequence begun in the chunk before, and
   * a sequence cut by the end of the chunk is not an error (the next chunk
   * may finish it). Without it, both are errors, as in a whole file.
   * @default {false}
   */
  readonly chunk?: boolean;
}

/**
 * Offset in `bytes` of the first byte that breaks UTF-8 as the WHATWG
 * decoder reads it (overlong forms, surrogates and code points above
 * U+10FFFF included), or -1 when none does.
 *
 * @example
 * ```ts
 * import { firstInvalidUtf8 } from "./utf8.ts";
 * firstInvalidUtf8(new Uint8Array([0x41, 0xed, 0xa0, 0x80])); // 1: an encoded surrogate
 * firstInvalidUtf8(new Uint8Array([0x41, 0xe6, 0x97])); // 1: cut off by the end
 * firstInvalidUtf8(new Uint8Array([0x41, 0xe6, 0x97]), { chunk: true }); // -1
 * ```
 */
export function firstInvalidUtf8(bytes: Uint8Array, options: FirstInvalidUtf8Options = {}): number {
  const chunk = options.chunk ?? false;
  let i = 0;
  while (chunk && i < 3 && i < bytes.length && ((bytes[i] ?? 0) & 0xc0) === 0x80) i++;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    const need = b >= 0xc2 && b <= 0xdf
      ? 1
      : b >= 0xe0 && b <= 0xef
      ? 2
      : b >= 0xf0 && b <= 0xf4
      ? 3
      : 0;
    if (need === 0) return i;
    const [low, high] = b === 0xe0
      ? [0xa0, 0xbf]
      : b === 0xed
      ? [0x80, 0x9f]
      : b === 0xf0
      ? [0x90, 0xbf]
      : b === 0xf4
      ? [0x80, 0x8f]
      : [0x80, 0xbf];
    for (let k = 1; k <= need && i + k < bytes.length; k++) {
      const c = bytes[i + k] ?? 0;
      if (k === 1 ? c < low || c > high : (c & 0xc0) !== 0x80) return i;
    }
    if (!chunk && i + need >= bytes.length) return i;
    i += need + 1;
  }
  return -1;
}
