/**
 * Responses with a strong ETag of their body: a client that sends the same
 * value back in `If-None-Match` gets `304 Not Modified` with no body, which
 * is how the pages poll for changes cheaply.
 *
 * @module
 */

import type { Context } from "hono";

/** A fast 53-bit hash of `text` (cyrb53), as hex; an ETag, not a security measure. */
export function hashText(text: string): string {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16);
}

/** `body` with an ETag, or 304 when the client already has it. */
export function etagged(c: Context, body: string, contentType: string): Response {
  const etag = `"${hashText(body)}"`;
  const headers = {
    "content-type": contentType.includes("charset") ? contentType : `${contentType}; charset=utf-8`,
    etag,
    "cache-control": "no-cache",
  };
  const given = c.req.header("if-none-match");
  if (given && given.split(",").map((s) => s.trim()).includes(etag)) {
    return new Response(null, { status: 304, headers: { etag, "cache-control": "no-cache" } });
  }
  return new Response(body, { status: 200, headers });
}
