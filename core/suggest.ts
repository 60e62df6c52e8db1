/**
 * Name suggestions for messages about unknown names ("did you mean …?"):
 * unknown assets in a graph or a selection, unknown CLI options, unknown dbt
 * refs. Plain Levenshtein distance: the lists are short (hundreds of names),
 * so a library would buy nothing here.
 *
 * @module
 */

/**
 * ` (did you mean 'x'?)` when a known name is close to `name`, else `""`.
 *
 * @example
 * ```ts
 * import { nearest } from "./suggest.ts";
 * nearest("raw_wether", ["raw_weather", "bronze_weather"]); // " (did you mean 'raw_weather'?)"
 * ```
 */
export function nearest(name: string, known: Iterable<string>): string {
  const match = closest(name, known);
  return match ? ` (did you mean '${match}'?)` : "";
}

/**
 * Longest name a suggestion is looked for: a typo is made typing a name, and
 * the distance costs the product of the two lengths per known name (a
 * 30,000-character URL path against 10,000 asset keys held the UI's only
 * thread for 10 s).
 */
export const MAX_SUGGESTED_LENGTH = 200;

/**
 * Longest name matched against the start of known names: that costs the
 * square of its length per known name, and a typed prefix is short.
 */
export const MAX_PREFIX_LENGTH = 32;

/**
 * The known name closest to `name`, if close enough to suggest; none for a
 * name longer than {@linkcode MAX_SUGGESTED_LENGTH}. Tried in turn, ignoring
 * case:
 *
 * 1. the whole name within two edits, or a third of its length when longer;
 * 2. the start of a known name (a name of 3 to
 *    {@linkcode MAX_PREFIX_LENGTH} characters, with the same first character,
 *    within a quarter of its length in edits): `fct_wether` suggests `fct_weather_daily`, which is
 *    7 edits away as a whole;
 * 3. a part of a known name (of at least 4 characters): `weather_daily`
 *    suggests `fct_weather_daily`.
 *
 * Ties go to the shorter known name, then to the first.
 *
 * @example
 * ```ts
 * import { closest } from "./suggest.ts";
 * closest("materialise", ["materialize", "sensor"]); // "materialize"
 * closest("fct_wether", ["fct_weather_daily"]); // "fct_weather_daily"
 * closest("xyz", ["materialize"]); // undefined
 * ```
 */
export function closest(name: string, known: Iterable<string>): string | undefined {
  if (name.length > MAX_SUGGESTED_LENGTH) return undefined;
  const candidates = [...known];
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // The length difference is a lower bound of the distance: a candidate that cannot be
    // within the limit, or beat the best so far, is not measured.
    const gap = Math.abs(candidate.length - name.length);
    if (gap > limit || gap >= bestDistance) continue;
    const d = editDistance(wanted, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best !== undefined && bestDistance <= limit) return best;
  if (name.length >= 3 && name.length <= MAX_PREFIX_LENGTH) {
    const prefixLimit = Math.max(1, Math.floor(name.length / 4));
    const byPrefix = shortestBest(candidates, (candidate) => {
      // A known name not much longer than the typed one was measured whole above.
      if (candidate.length <= name.length) return Infinity;
      if (candidate[0]?.toLowerCase() !== wanted[0]) return Infinity;
      return prefixDistance(
        wanted,
        candidate.toLowerCase().slice(0, name.length + prefixLimit),
        prefixLimit,
      );
    }, prefixLimit);
    if (byPrefix !== undefined) return byPrefix;
  }
  if (name.length >= 4) {
    return shortestBest(
      candidates,
      (candidate) => candidate.toLowerCase().includes(wanted) ? 0 : Infinity,
      0,
    );
  }
  return undefined;
}

/** The candidate of least score within `limit`, the shorter (then the first) on a tie. */
function shortestBest(
  candidates: readonly string[],
  score: (candidate: string) => number,
  limit: number,
): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const s = score(candidate);
    if (s > limit) continue;
    if (s < bestScore || (s === bestScore && candidate.length < (best?.length ?? Infinity))) {
      [best, bestScore] = [candidate, s];
    }
  }
  return best;
}

/** The edit distance from `a` to the closest prefix of `b`, or Infinity once it must exceed `limit`. */
function prefixDistance(a: string, b: string, limit: number): number {
  return Math.min(...editRow(a, b, limit));
}

/**
 * The Levenshtein distance between `a` and `b`: the fewest single-character
 * insertions, deletions and substitutions that turn one into the other.
 *
 * @example
 * ```ts
 * import { editDistance } from "./suggest.ts";
 * editDistance("kitten", "sitting"); // 3
 * ```
 */
export function editDistance(a: string, b: string): number {
  return editRow(a, b)[b.length] ?? 0;
}

/**
 * The last row of the Levenshtein table: entry j is the distance from `a` to
 * `b`'s first j characters. A row's least entry never falls in later rows, so
 * once it passes `cutoff` the answer is `[Infinity]` without the other rows.
 */
function editRow(a: string, b: string, cutoff = Infinity): number[] {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    if (Math.min(...current) > cutoff) return [Infinity];
    previous = current;
  }
  return previous;
}
