/**
 * printTableLines (agate's print_table, `dbt show`'s table): dates and
 * timestamps print as Python's str() of a date or datetime does.
 */

import assert from "node:assert/strict";
import { printTableLines } from "../../../../resources/dbt/jinja/print_table.ts";

Deno.test("printTableLines: a date prints as 2026-12-07 and a timestamp as 2026-12-07 10:30:05, not JavaScript's Date text", () => {
  // Before: 'Mon Dec 07 2026 0...' (Date.toString, cut at 20 characters) in `dbt show`.
  const lines = printTableLines(["day", "at", "n"], [
    [new Date("2026-12-07T00:00:00Z"), new Date("2026-12-07T10:30:05Z"), 1],
    [new Date("2026-12-08T00:00:00Z"), new Date("2026-12-08T10:30:05.250Z"), 2],
  ]);
  // Right-aligned as agate aligns every type but Text; cut at 20 characters as any value.
  assert.deepEqual(lines, [
    "|        day |                   at | n |",
    "| ---------- | -------------------- | - |",
    "| 2026-12-07 |  2026-12-07 10:30:05 | 1 |",
    "| 2026-12-08 | 2026-12-08 10:30:... | 2 |",
  ]);
});
