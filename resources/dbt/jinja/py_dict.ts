/**
 * Python dicts with int keys, held as plain objects. A template dict is a
 * JavaScript object, whose keys are text: `{1: 'a'}` printed `{'1': 'a'}`
 * and `k + 1` over its keys concatenated. A dict built with number keys
 * remembers which of its keys are numbers (a hidden, non-enumerable set), and
 * whatever lists a dict's keys (`keys()`, `items()`, iteration, `| list`,
 * printing) gives those back as numbers. Lookups need nothing: `d[1]` and
 * `d['1']` read the same property, as Python's `d[1]` reads the int key.
 *
 * @module
 */

import { PyFloat } from "./py_number.ts";

const NUMBER_KEYS = Symbol("dbt.numberKeys");

type Dict = Record<string, unknown>;

function marks(dict: Dict): Set<string> | undefined {
  return (dict as { [NUMBER_KEYS]?: Set<string> })[NUMBER_KEYS];
}

/** Notes that `dict`'s property `text` is the number key `key`. */
function mark(dict: Dict, text: string): void {
  let set = marks(dict);
  if (set === undefined) {
    set = new Set();
    Object.defineProperty(dict, NUMBER_KEYS, { value: set, enumerable: false });
  }
  set.add(text);
}

/** Sets `dict[key] = value` as Python would: a number key stays a number. */
export function setItem(dict: Dict, key: unknown, value: unknown): void {
  const k = key instanceof PyFloat ? key.valueOf() : key;
  const text = String(k);
  if (typeof k === "number") mark(dict, text);
  else marks(dict)?.delete(text);
  dict[text] = value;
}

/** A dict from `[key, value]` pairs (a `{...}` literal with keys that are not all text). */
export function dictFromPairs(pairs: readonly (readonly [unknown, unknown])[]): Dict {
  const dict: Dict = {};
  for (const [key, value] of pairs) setItem(dict, key, value);
  return dict;
}

/** `dict`'s keys as Python lists them: number keys as numbers. */
export function dictKeys(dict: object): unknown[] {
  const keys = Object.keys(dict);
  const set = marks(dict as Dict);
  return set === undefined ? keys : keys.map((k) => set.has(k) ? Number(k) : k);
}

/** `dict`'s `(key, value)` pairs, number keys as numbers. */
export function dictEntries(dict: object): [unknown, unknown][] {
  const set = marks(dict as Dict);
  return Object.entries(dict).map(([k, v]) => [set?.has(k) ? Number(k) : k, v]);
}

/** Copies which keys of `from` are numbers onto `to` (`d.copy()`, `d.update(other)`). */
export function copyKeyKinds(from: object, to: Dict): void {
  const set = marks(from as Dict);
  if (set === undefined) return;
  for (const text of set) if (Object.hasOwn(to, text)) mark(to, text);
}
