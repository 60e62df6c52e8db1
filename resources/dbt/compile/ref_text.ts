/**
 * `ref(...)` written as text in YAML (a relationships test's `to:`, a test
 * argument, an exposure's `depends_on`), read the way dbt reads it: a name,
 * an optional package before it, and an optional `v=` / `version=` keyword.
 * Real projects write `ref('dim_customers', v=2)` and
 * `ref('my_package', 'model')` there as often as in SQL.
 *
 * @module
 */

/** What one `ref(...)` text names. */
export interface RefText {
  /** The model (or seed, snapshot) name. */
  readonly name: string;
  /** The package before the name, when written. */
  readonly packageName: string | undefined;
  /** The `v=` / `version=` keyword's value, when written. */
  readonly version: string | undefined;
}

const STRING = String.raw`['"]([^'"]+)['"]`;
const VERSION = String.raw`(?:v|version)\s*=\s*(?:['"]([^'"]+)['"]|([0-9][0-9.]*))`;
const REF = new RegExp(
  String.raw`^\s*ref\(\s*${STRING}\s*(?:,\s*${STRING}\s*)?(?:,\s*${VERSION}\s*)?\)\s*$`,
);

/** The parts of `text` when it is exactly one `ref(...)` call, else undefined. */
export function parseRefText(text: string): RefText | undefined {
  const m = REF.exec(text);
  if (!m?.[1]) return undefined;
  const [first, second, quotedVersion, bareVersion] = [m[1], m[2], m[3], m[4]];
  return {
    name: second ?? first,
    packageName: second === undefined ? undefined : first,
    version: quotedVersion ?? bareVersion,
  };
}
