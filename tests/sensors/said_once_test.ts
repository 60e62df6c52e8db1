/** The bounded memory of what a sensor already said in its log. */

import assert from "node:assert/strict";
import { SaidOnce } from "../../sensors/_said_once.ts";

Deno.test("SaidOnce: a key is said the first time only", () => {
  const said = new SaidOnce();
  assert.ok(said.first("run-1"));
  assert.ok(!said.first("run-1"));
  assert.ok(said.first("run-2"));
});

Deno.test("SaidOnce: a daemon's memory stays bounded however many runs it logs about", () => {
  const said = new SaidOnce(100);
  for (let i = 0; i < 10_000; i++) said.first(`run-${i}`);
  assert.equal(said.size, 100);
  // The newest are remembered, the oldest forgotten.
  assert.ok(!said.first("run-9999"));
  assert.ok(said.first("run-0"));
});

Deno.test("SaidOnce: a bound below 1 is refused", () => {
  assert.throws(() => new SaidOnce(0), /max must be >= 1/);
});
