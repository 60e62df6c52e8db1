import assert from "node:assert/strict";
import { toError } from "../../core/errors.ts";

Deno.test("toError: whatever was thrown, the message says what it was, never [object Object]", () => {
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const cases: [unknown, RegExp][] = [
    ["plain text", /^plain text$/],
    [{ code: "ECONNRESET", errno: -104 }, /^\{"code":"ECONNRESET","errno":-104\}$/],
    [{ message: "socket hang up", code: "ECONNRESET" }, /^socket hang up$/],
    [cyclic, /name: "loop"/],
    [{ big: 10n }, /big: 10n/],
    [42, /^42$/],
    [null, /^null$/],
    [undefined, /^undefined$/],
    [Symbol("s"), /Symbol\(s\)/],
  ];
  for (const [thrown, expected] of cases) {
    const error = toError(thrown);
    assert.ok(error instanceof Error);
    assert.match(error.message, expected);
    assert.doesNotMatch(error.message, /\[object Object\]/);
    assert.equal(error.cause, thrown);
  }
  const original = new TypeError("kept");
  assert.equal(toError(original), original);
});
