/**
 * FNV-1a over UTF-16 code units, 32 bits: tells consecutive data versions
 * apart and names run keys; not for security.
 *
 * @module
 */

/** The 32-bit FNV-1a hash of `text`, as a signed integer. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
