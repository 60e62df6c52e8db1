// Key, prefix and bucket validation, and S3 key ordering.

import assert from "node:assert/strict";
import { PlatformError, ResourceError } from "../../../core/errors.ts";
import {
  compareKeys,
  MAX_KEY_BYTES,
  validateBucket,
  validateKey,
  validatePrefix,
} from "../../../resources/object_store/_keys.ts";

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ResourceError, String(error));
    return error.code;
  }
}

Deno.test("validateKey accepts portable relative keys", () => {
  for (
    const key of [
      "a",
      "raw/weather/2024/06/01/billings.json",
      "landing-zone/b1/roads.gpkg",
      "names with spaces/and (parens)/x.txt",
      "données/été.csv",
      "emoji/\u{1F600}.txt",
      ".hidden/file",
      "a..b/c...d",
      "x".repeat(MAX_KEY_BYTES),
    ]
  ) {
    assert.equal(codeOf(() => validateKey("lake", key)), undefined, key);
  }
});

Deno.test("validateKey rejects keys that could escape or alias on a file system", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["../x", "'..'"],
    ["a/../../b", "'..'"],
    ["a/..", "'..'"],
    ["./a", "'.'"],
    ["/abs", "absolute"],
    ["a\\b", "backslash"],
    ["..\\..\\windows", "backslash"],
    ["a\u0000b", "control"],
    ["a\tb", "control"],
    ["a\u007fb", "control"],
    ["a//b", "empty name"],
    ["a/", "empty name"],
    [".objstore-1234.partial", "reserved"],
    ["x".repeat(MAX_KEY_BYTES + 1), "1025 bytes"],
    ["é".repeat(513), "1026 bytes"],
    ["bad\uD800surrogate", "surrogate"],
  ];
  for (const [key, reason] of cases) {
    try {
      validateKey("lake", key);
      assert.fail(`accepted ${JSON.stringify(key)}`);
    } catch (error) {
      assert.ok(error instanceof PlatformError, String(error));
      assert.equal(error.code, "object_store.invalid_key");
      assert.equal(error.resourceKey, "object_store");
      assert.ok(error.message.includes(reason), `${error.message} (wanted '${reason}')`);
      assert.ok(error.message.includes("'lake'"), error.message);
      assert.ok(!error.message.includes("\u0000"), "control characters are escaped in messages");
    }
  }
});

Deno.test("validateKey and validateBucket use TypeError for non-strings", () => {
  assert.throws(() => validateKey("lake", 42), TypeError);
  assert.throws(() => validateKey("lake", undefined), TypeError);
  assert.throws(() => validateBucket(null), TypeError);
});

Deno.test("validatePrefix allows partial names but nothing that escapes", () => {
  for (const prefix of ["", "raw/", "raw/wea", "a..", "raw/.", ".x"]) {
    assert.equal(codeOf(() => validatePrefix("lake", prefix)), undefined, prefix);
  }
  for (const prefix of ["../", "/", "a//", "a/../", "a\\", "x".repeat(MAX_KEY_BYTES)]) {
    assert.equal(codeOf(() => validatePrefix("lake", prefix)), "object_store.invalid_key", prefix);
  }
});

Deno.test("validateBucket follows the S3 naming rules", () => {
  for (const bucket of ["abc", "data-lake", "landing-zone", "my.bucket.1", "x".repeat(63), "0ab"]) {
    assert.equal(codeOf(() => validateBucket(bucket)), undefined, bucket);
  }
  const bad = [
    "ab",
    "x".repeat(64),
    "Data-Lake",
    "data_lake",
    "-abc",
    "abc-",
    ".abc",
    "abc.",
    "a..b",
    "192.168.1.2",
    "a b",
    "../x",
    "",
  ];
  for (const bucket of bad) {
    assert.equal(codeOf(() => validateBucket(bucket)), "object_store.invalid_bucket", bucket);
  }
  try {
    validateBucket("Data_Lake");
  } catch (error) {
    assert.ok(error instanceof ResourceError);
    assert.ok(
      error.message.includes("'Data_Lake'") && error.message.includes("lowercase"),
      error.message,
    );
  }
});

Deno.test("compareKeys orders by UTF-8 bytes, as S3 lists", () => {
  const keys = ["b", "a/b", "\u{1F600}", "a-b", "\uE000", "é", "a0", "B", "a", "ab"];
  const expected = ["B", "a", "a-b", "a/b", "a0", "ab", "b", "é", "\uE000", "\u{1F600}"];
  assert.deepEqual([...keys].sort(compareKeys), expected);
  const utf8 = (s: string) => Array.from(new TextEncoder().encode(s));
  const byBytes = [...keys].sort((x, y) => {
    const a = utf8(x);
    const b = utf8(y);
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
    }
    return a.length - b.length;
  });
  assert.deepEqual(byBytes, expected);
  assert.equal(compareKeys("same", "same"), 0);
});
