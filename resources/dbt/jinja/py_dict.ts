/**
 * Python dicts with int keys, held as plain objects. A template dict is a
 * JavaScript object, whose keys are text: `{1: 'a'}` printed `{'1': 'a'}`
 * and `k + 1` over its keys concatenated, and JavaScript lists index-like
 * keys first (`{'b': 1, 2: 'c'}` printed `{2: 'c', 'b': 1}`). A dict built
 * with such keys remembers its keys as Python has them, in insertion order (a
 * hidden, non-enumerable map), and whatever lists a dict's keys (`keys()`,
 * `items()`, iteration, `| list`, printing) gives them back so. Lookups need
 * nothing: `d[1]` and `d['1']` read the same property, as Python's `d[1]`
 * reads the int key.
 *
 * @module
 */

import { PyFloat } from "./py_number.ts";

/**
 * Python's keys of a dict, by property text, in insertion order: kept once
 * the dict has a number key or a key JavaScript would move (a text that is
 * an array index, which objects list first, before every other key).
 */
const PY_KEYS = Symbol("dbt.pyKeys");

type Dict = Record<string, unknown>;

function pyKeys(dict: Dict): Map<string, unknown> | undefined {
  return (dict as { [PY_KEYS]?: Map<string, unknown> })[PY_KEYS];
}

/** Whether JavaScript lists property `text` first (an array index: `'0'`, `'42'`). */
function movedByJs(text: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(text) && Number(text) < 2 ** 32 - 1;
}

/** The dict's key map, made (holding its present keys, in their order) when missing. */
function keyMap(dict: Dict): Map<string, unknown> {
  let map = pyKeys(dict);
  if (map === undefined) {
    map = new Map(Object.keys(dict).map((k) => [k, k]));
    Object.defineProperty(dict, PY_KEYS, { value: map, enumerable: false });
  }
  return map;
}

const isNumberKey = (key: unknown) => typeof key === "number" || key instanceof PyFloat;

/**
 * Sets `dict[key] = value` as Python would: a number key stays a number (a
 * float a float: `{1.0: 'a'}`), a new key goes last even when JavaScript
 * would list it first, and a key equal to one already there keeps that one
 * (`{1: 'a', 1.0: 'b'}` is `{1: 'b'}`).
 */
export function setItem(dict: Dict, key: unknown, value: unknown): void {
  const text = String(key instanceof PyFloat ? key.valueOf() : key);
  let map = pyKeys(dict);
  if (map === undefined && (isNumberKey(key) || movedByJs(text))) map = keyMap(dict);
  if (map !== undefined) {
    if (!Object.hasOwn(dict, text)) {
      map.delete(text); // a key removed since goes last again
      map.set(text, key);
    } else if (!(isNumberKey(key) && isNumberKey(map.get(text)))) {
      map.set(text, key); // '1' after 1: one property here, the newer kind of key wins
    }
  }
  dict[text] = value;
}

/** A dict from `[key, value]` pairs (a `{...}` literal with keys that are not all text). */
export function dictFromPairs(pairs: readonly (readonly [unknown, unknown])[]): Dict {
  const dict: Dict = {};
  for (const [key, value] of pairs) setItem(dict, key, value);
  return dict;
}

/** `dict`'s keys as Python lists them: in insertion order, number keys as numbers. */
export function dictKeys(dict: object): unknown[] {
  const map = pyKeys(dict as Dict);
  if (map === undefined) return Object.keys(dict);
  const keys: unknown[] = [];
  for (const [text, key] of map) if (Object.hasOwn(dict, text)) keys.push(key);
  // Keys set without setItem (by code outside the templates) follow, in JavaScript's order.
  for (const text of Object.keys(dict)) if (!map.has(text)) keys.push(text);
  return keys;
}

/** `dict`'s `(key, value)` pairs in Python's order, number keys as numbers. */
export function dictEntries(dict: object): [unknown, unknown][] {
  const map = pyKeys(dict as Dict);
  if (map === undefined) return Object.entries(dict);
  const record = dict as Dict;
  return dictKeys(dict).map((key) => [
    key,
    record[String(key instanceof PyFloat ? key.valueOf() : key)],
  ]);
}

/** Copies the key order and kinds of `from` onto `to` (`d.copy()`, `d.update(other)`). */
export function copyKeyKinds(from: object, to: Dict): void {
  const map = pyKeys(from as Dict);
  if (map === undefined) return;
  const copy = keyMap(to);
  const rest = [...copy].filter(([text]) => !map.has(text));
  copy.clear();
  for (const [text, key] of map) if (Object.hasOwn(to, text)) copy.set(text, key);
  for (const [text, key] of rest) copy.set(text, key);
}
