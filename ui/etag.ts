/**
 * Responses with a strong ETag of their body: a client that sends the same
 * value back in `If-None-Match` gets `304 Not Modified` with no body, which
 * is how the pages poll for changes cheaply.
 *
 * @module
 */

import type { Context } from "hono";

/**
 * A fast 53-bit hash of `text` (cyrb53) as 14 hex digits: an ETag, not a
 * security measure. The same body always gives the same digits, also
 * across restarts and upgrades, so a client's cached copy stays valid.
 */
export function hashText(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  // The hex of (21 bits of h2) * 2^32 + (h1 as unsigned), digit by digit: Number#toString(16)
  // of a 53-bit number costs ~2 µs (V8's slow double-to-radix path).
  h2 &= 2097151;
  const d = (x: number) => HEX_DIGITS[x & 15] as number;
  return String.fromCharCode(
    d(h2 >>> 20),
    d(h2 >>> 16),
    d(h2 >>> 12),
    d(h2 >>> 8),
    d(h2 >>> 4),
    d(h2),
    d(h1 >>> 28),
    d(h1 >>> 24),
    d(h1 >>> 20),
    d(h1 >>> 16),
    d(h1 >>> 12),
    d(h1 >>> 8),
    d(h1 >>> 4),
    d(h1),
  );
}

/** Char codes of `0123456789abcdef`. */
const HEX_DIGITS = [..."0123456789abcdef"].map((c) => c.charCodeAt(0));

/** `body` with an ETag, or 304 when the client already has it. */
export function etagged(c: Context, body: string, contentType: string): Response {
  const etag = `"${hashText(body)}"`;
  const headers = {
    "content-type": contentType.includes("charset") ? contentType : `${contentType}; charset=utf-8`,
    etag,
    "cache-control": "no-cache",
  };
  const given = c.req.header("if-none-match");
  // Weak comparison (RFC 9110 §13.1.2): compressed answers carry the tag as W/"…".
  if (given && given.split(",").map((s) => s.trim().replace(/^W\//, "")).includes(etag)) {
    return new Response(null, { status: 304, headers: { etag, "cache-control": "no-cache" } });
  }
  return new Response(body, { status: 200, headers });
}
