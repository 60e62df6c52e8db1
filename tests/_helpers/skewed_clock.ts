/**
 * Preloaded into a child `main.ts` (`deno run --preload`) to play a machine
 * whose clock is off: `Date.now()` (what the system clock reads) is shifted
 * by `TEST_CLOCK_SKEW_MS` milliseconds. Timers are untouched, as on a real
 * machine whose wall clock is wrong.
 *
 * @module
 */

const skew = Number(Deno.env.get("TEST_CLOCK_SKEW_MS") ?? "0");
if (!Number.isFinite(skew)) throw new RangeError(`TEST_CLOCK_SKEW_MS must be a number`);
if (skew !== 0) {
  const real = Date.now;
  Date.now = () => real() + skew;
}
