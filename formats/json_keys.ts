/**
 * Keys written twice in one JSON object: `JSON.parse` keeps the last value
 * without a word, so a configuration or manifest would be judged on a value
 * its author may not have meant.
 *
 * @module
 */

import { parseDocument } from "yaml";

/** A key written twice in one object, as {@linkcode duplicateJsonKey} finds it. */
export interface DuplicateKey {
  /** The key (escapes decoded), at most 100 characters. */
  readonly key: string;
  /** Line of its second occurrence (1 = first line). */
  readonly line: number;
}

/**
 * The first key written twice in one object of the JSON `text` (already
 * known to parse), or `undefined`. Uses the yaml package's unique-key check
 * (JSON is YAML), which compares keys after decoding escapes.
 *
 * @example
 * ```ts
 * import { duplicateJsonKey } from "./json_keys.ts";
 * duplicateJsonKey('{"a": 1,\n "a": 2}'); // { key: "a", line: 2 }
 * ```
 */
export function duplicateJsonKey(text: string): DuplicateKey | undefined {
  const found = parseDocument(text, { uniqueKeys: true, prettyErrors: false }).errors
    .find((e) => e.code === "DUPLICATE_KEY");
  if (!found) return undefined;
  const at = found.pos[0];
  const quoted = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(at, at + 300))?.[0];
  let key = quoted ?? text.slice(at, at + 40);
  try {
    if (quoted) key = String(JSON.parse(quoted));
  } catch {
    // Shown as written.
  }
  return { key: key.slice(0, 100), line: text.slice(0, at).split("\n").length };
}
