/**
 * UUIDv7 ids (RFC 9562): time-ordered, so ids sort by creation time and break
 * ties between documents written in the same millisecond.
 *
 * @module
 */

let lastMs = -1;
let counter = 0;

/**
 * A new UUIDv7. Within one process, ids are strictly increasing: the 12-bit
 * `rand_a` field is a counter that restarts at a random value each
 * millisecond (RFC 9562 section 6.2, method 1).
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const ms = nextTick(nowMs);
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let rest = ms;
  for (let index = 5; index >= 0; index--) {
    bytes[index] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

function nextTick(nowMs: number): number {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    // Start low in the range so the counter rarely overflows within a millisecond.
    counter = Math.floor(Math.random() * 0x400);
  } else if (++counter > 0xfff) {
    lastMs += 1;
    counter = 0;
  }
  return lastMs;
}
