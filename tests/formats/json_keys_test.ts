/**
 * duplicateJsonKey: keys written twice in one object are found (after
 * decoding escapes, at any depth, with the line of the second), keys of
 * different objects and strings that are values are not; and adversarial
 * manifests of the size the sensor reads (1 MiB) are checked in well under a
 * second.
 *
 * @module
 */

import assert from "node:assert/strict";
import { duplicateJsonKey } from "../../formats/json_keys.ts";

Deno.test("duplicateJsonKey: finds the first key written twice in one object, with its line", () => {
  const cases: [string, { key: string; line: number } | undefined][] = [
    ['{"a": 1,\n "a": 2}', { key: "a", line: 2 }],
    ['{"a": 1, "\\u0061": 2}', { key: "a", line: 1 }],
    ['{"x": {"b": [1, {"c": 1,\n\n"c": 2}]}}', { key: "c", line: 3 }],
    ['{"a": "b", "b": "a"}', undefined],
    ['{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}', undefined],
    ['{"k": "\\"", "k\\"": 1, "v": ["k", "k"]}', undefined],
    ['[{"a": 1}, {"a": 2}, "a", "a"]', undefined],
    ['{"__proto__": 1, "__proto__": 2}', { key: "__proto__", line: 1 }],
    ['{"": 1, "": 2}', { key: "", line: 1 }],
    ['{"\\\\": 1, "\\u005c": 2}', { key: "\\", line: 1 }],
    [`{"${"k".repeat(300)}": 1, "${"k".repeat(300)}": 2}`, { key: "k".repeat(100), line: 1 }],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(duplicateJsonKey(text), expected, text.slice(0, 80));
  }
});

Deno.test("duplicateJsonKey: a megabyte of many keys, deep nesting or many arrays takes well under a second", () => {
  // Before (the yaml package's unique-key check): 60,000 keys 172 s, 500,000 nested
  // arrays 22 s, 170,000 empty arrays 10 s.
  const cases = [
    `{${Array.from({ length: 60_000 }, (_, i) => `"k${i}":1`).join(",")}}`,
    `{"batch_id":"b1","x":${"[".repeat(500_000)}${"]".repeat(500_000)}}`,
    `{"x":[${Array(170_000).fill("{}").join(",")}]}`,
  ];
  for (const text of cases) {
    const started = performance.now();
    assert.equal(duplicateJsonKey(text), undefined);
    const ms = performance.now() - started;
    assert.ok(ms < 3_000, `${text.slice(0, 30)}...: ${Math.round(ms)} ms`);
  }
});
