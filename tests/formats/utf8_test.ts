import assert from "node:assert/strict";
import { firstInvalidUtf8 } from "../../formats/utf8.ts";

Deno.test("firstInvalidUtf8 finds overlong forms, surrogates and stray bytes", () => {
  assert.equal(firstInvalidUtf8(new Uint8Array([0x41, 0xc0, 0x80])), 1); // overlong NUL
  assert.equal(firstInvalidUtf8(new Uint8Array([0x41, 0xed, 0xa0, 0x80])), 1); // surrogate
  assert.equal(firstInvalidUtf8(new Uint8Array([0x41, 0xf4, 0x90, 0x80, 0x80])), 1); // > U+10FFFF
  assert.equal(firstInvalidUtf8(new Uint8Array([0xe6, 0x97, 0xa5, 0x41, 0xf5])), 4);
  assert.equal(firstInvalidUtf8(new TextEncoder().encode("Zürich 日本 🎉")), -1);
});

Deno.test("firstInvalidUtf8: a whole file's edges are errors, a chunk's are not", () => {
  // A continuation byte first: a chunk's may finish the chunk before's sequence; a file's cannot.
  assert.equal(firstInvalidUtf8(new Uint8Array([0x80, 0x41, 0xff]), { chunk: true }), 2);
  assert.equal(firstInvalidUtf8(new Uint8Array([0x80, 0x41, 0xff])), 0);
  // A sequence cut by the end: the next chunk may finish it; a file ends there.
  assert.equal(firstInvalidUtf8(new Uint8Array([0x41, 0xe6, 0x97]), { chunk: true }), -1);
  assert.equal(firstInvalidUtf8(new Uint8Array([0x41, 0xe6, 0x97])), 1);
  // Wherever it says, the WHATWG decoder agrees that the bytes are not UTF-8.
  for (const bytes of [[0x80, 0x41], [0x41, 0xe6, 0x97], [0xed, 0xa0, 0x80]]) {
    assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes)));
    assert.notEqual(firstInvalidUtf8(new Uint8Array(bytes)), -1);
  }
});
