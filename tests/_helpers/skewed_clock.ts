/**
 * Preloaded into a child `main.ts` (`deno run --preload`) to play a machine
 * whose clock is off: `Date.now()` (what the system clock reads) is shifted
 * by `TEST_CLOCK_SKEW_MS` milliseconds, or by the number in the file
 * `TEST_CLOCK_SKEW_FILE` names, read again every 100 ms (a clock stepped
 * while the process runs, as NTP does after a VM resumes). Timers and
 * `performance.now()` are untouched, as on a real machine whose wall clock
 * is wrong.
 *
 * @module
 */

const fixed = Number(Deno.env.get("TEST_CLOCK_SKEW_MS") ?? "0");
if (!Number.isFinite(fixed)) throw new RangeError(`TEST_CLOCK_SKEW_MS must be a number`);
const file = Deno.env.get("TEST_CLOCK_SKEW_FILE");
const real = Date.now;
if (file) {
  let skew = 0;
  let readAt = -Infinity;
  Date.now = () => {
    const at = performance.now();
    if (at - readAt >= 100) {
      readAt = at;
      try {
        const value = Number(Deno.readTextFileSync(file).trim());
        if (Number.isFinite(value)) skew = value;
      } catch {
        // Being rewritten: the last value stands.
      }
    }
    return real() + skew;
  };
} else if (fixed !== 0) {
  Date.now = () => real() + fixed;
}
