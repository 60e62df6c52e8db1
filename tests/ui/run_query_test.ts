/** The run list's query parameters (ui/run_query.ts). */

import assert from "node:assert/strict";
import { parseRunFilter } from "../../ui/run_query.ts";

Deno.test("run filter: a tag link of a value holding commas finds that value (the run page links every tag)", () => {
  // The run page links tag=first_drop=activity, march.csv (URLSearchParams of `${k}=${v}`).
  const link = new URLSearchParams({ tag: "first_drop=activity, march.csv" });
  assert.deepEqual(parseRunFilter({ tag: link.get("tag") ?? undefined }).tags, {
    first_drop: "activity, march.csv",
  });
  // Several tags, as typed: KEY=VALUE,KEY=VALUE.
  assert.deepEqual(parseRunFilter({ tag: "stale=true, sensor=drops" }).tags, {
    stale: "true",
    sensor: "drops",
  });
  assert.throws(() => parseRunFilter({ tag: "nokey" }), RangeError);
  assert.throws(() => parseRunFilter({ tag: "=v" }), RangeError);
});
