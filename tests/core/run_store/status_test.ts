/** The run and step status schemas: what a store is refused, and how it is told. */

import assert from "node:assert/strict";
import {
  InvalidStatusError,
  parseRunStatus,
  parseStepStatus,
} from "../../../core/run_store/status.ts";

Deno.test("status: a status that is not a string is named as given, never [object Object]", () => {
  for (
    const [value, shown] of [
      [{ name: "success" }, '{"name":"success"}'],
      [["success"], '["success"]'],
      [undefined, "undefined"],
      [7, "7"],
    ] as const
  ) {
    assert.throws(() => parseRunStatus(value, "run 'r1'"), InvalidStatusError);
    try {
      parseStepStatus(value, "step 'a' of run 'r1'");
      assert.fail("accepted");
    } catch (thrown) {
      assert.ok(thrown instanceof InvalidStatusError);
      assert.equal(thrown.code, "run_store.invalid_status");
      assert.ok(!thrown.message.includes("[object Object]"), thrown.message);
      assert.ok(thrown.message.endsWith(`, got ${shown}`), thrown.message);
      assert.equal(thrown.input, shown);
    }
  }
  assert.equal(parseRunStatus("success", "run 'r1'"), "success");
});
