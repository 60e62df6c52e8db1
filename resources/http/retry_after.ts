/**
 * Parsing of the `Retry-After` response header (RFC 9110 section 10.2.3).
 *
 * @module
 */

/**
 * The delay a `Retry-After` value asks for, in milliseconds: a whole number of
 * seconds, or an HTTP date compared with `now`. `undefined` when the header is
 * absent or unreadable; a date in the past gives 0.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./retry_after.ts";
 * parseRetryAfter("3", 0); // 3000
 * parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("2015-10-21T07:27:00Z")); // 60000
 * ```
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the date forms have letters; a bare number with a sign or fraction is invalid.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
