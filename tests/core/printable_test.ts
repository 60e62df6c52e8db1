import assert from "node:assert/strict";
import { clip, printable, quote } from "../../core/printable.ts";

Deno.test("printable escapes every control character as JSON would, keeping plain text", () => {
  assert.equal(printable("fct_weather_daily/ünïcode ✓"), "fct_weather_daily/ünïcode ✓");
  assert.equal(printable("a\x1b[2Jb"), "a\\u001b[2Jb");
  assert.equal(printable("\x00\x07\x7f\x9b"), "\\u0000\\u0007\\u007f\\u009b");
  assert.equal(printable("line\nnext\r\tz"), "line\\nnext\\r\\tz");
  // Bidirectional overrides reorder what a reader sees.
  assert.equal(printable("\u202egnp.exe\u2066"), "\\u202egnp.exe\\u2066");
});

Deno.test("printable keeps line ends and tabs of a whole message when asked, not carriage returns", () => {
  assert.equal(printable("a\n\tb\r\x1b", { keepLines: true }), "a\n\tb\\r\\u001b");
});

Deno.test("quote names an input in single quotes, escaped", () => {
  assert.equal(quote("raw\tweather\n"), "'raw\\tweather\\n'");
  assert.equal(quote(""), "''");
});

Deno.test("clip keeps short text and cuts long text, saying how long it was", () => {
  assert.equal(clip("abc", 5), "abc");
  assert.equal(clip("a".repeat(12), 5), "aaaaa... (12 characters)");
});
