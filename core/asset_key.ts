/**
 * Asset keys: path-like names such as `raw_weather` or `marts/fct_weather_daily`.
 *
 * @module
 */

import { InvalidDefinitionError } from "./errors.ts";

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Why `key` is not a valid asset key, or `undefined` when it is. */
export function assetKeyProblem(key: string): string | undefined {
  if (key.length === 0) return "it is empty";
  if (key.length > 255) return "it is longer than 255 characters";
  for (const segment of key.split("/")) {
    if (!SEGMENT.test(segment)) {
      return `segment '${segment}' must start with a letter or '_' and hold only letters, digits, '_' or '-'`;
    }
  }
  return undefined;
}

/**
 * Throws {@linkcode InvalidDefinitionError} unless `key` is a valid asset key:
 * `/`-separated segments of letters, digits, `_` and `-`, each starting with a
 * letter or `_`.
 *
 * @example
 * ```ts
 * import { validateAssetKey } from "./asset_key.ts";
 * validateAssetKey("marts/fct_weather_daily"); // ok
 * ```
 */
export function validateAssetKey(key: string, what = "asset key"): string {
  const problem = assetKeyProblem(key);
  if (problem) {
    throw new InvalidDefinitionError(
      "definition.invalid_key",
      `Invalid ${what} '${key}': ${problem}`,
      { assetKey: key },
    );
  }
  return key;
}
