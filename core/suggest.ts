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
 * The known name closest to `name` by edit distance, if close enough to
 * suggest (at most two edits, or a third of the name's length when longer);
 * none for a name longer than {@linkcode MAX_SUGGESTED_LENGTH}.
 *
 * @example
 * ```ts
 * import { closest } from "./suggest.ts";
 * closest("materialise", ["materialize", "sensor"]); // "materialize"
 * closest("xyz", ["materialize"]); // undefined
 * ```
 */
export function closest(name: string, known: Iterable<string>): string | undefined {
  if (name.length > MAX_SUGGESTED_LENGTH) return undefined;
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    // The length difference is a lower bound of the distance: a candidate that cannot be
    // within the limit, or beat the best so far, is not measured.
    const gap = Math.abs(candidate.length - name.length);
    if (gap > limit || gap >= bestDistance) continue;
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= limit ? best : undefined;
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
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
