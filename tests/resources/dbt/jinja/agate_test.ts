/**
 * What `run_query` / `load_result` give a macro: an agate-like table whose
 * columns and rows are mapped sequences (by position and by name, with
 * `keys()` / `values()` / `items()`), as dbt_utils.get_query_results_as_dict
 * and get_single_value read them; DuckDB's bigint integers are plain ints.
 */

import assert from "node:assert/strict";
import { agateTable } from "../../../../resources/dbt/jinja/context.ts";
import { pyStr } from "../../../../resources/dbt/jinja/py_repr.ts";
import { pyAdd } from "../../../../resources/dbt/jinja/py_number.ts";

Deno.test("agate table: columns and rows by position and name; bigints are ints", () => {
  const table = agateTable({ columns: ["n", "name"], rows: [[14n, "a"], [2n, "b"]] }) as {
    columns: Record<string, unknown> & {
      items(): unknown[];
      keys(): string[];
      [i: number]: { values(): unknown[] };
    };
    rows: (unknown[] & { values(): unknown[]; get(k: string): unknown })[];
  };
  assert.deepEqual(table.columns.keys(), ["n", "name"]);
  assert.deepEqual(
    table.columns.items().map((pair) => (pair as [string, unknown])[0]),
    ["n", "name"],
  );
  assert.equal(table.columns["name"], table.columns[1]);
  // DuckDB's count(*) is a bigint: `| int`, `+ 1` and comparisons need a number.
  assert.deepEqual([...(table.columns[0]?.values() ?? [])], [14, 2]);
  assert.deepEqual([...(table.rows[0] as { values(): unknown[] }).values()], [14, "a"]);
  assert.equal(table.rows[1]?.get("name"), "b");
  assert.equal(table.rows[1]?.get("missing"), null);
  const huge = agateTable({ columns: ["x"], rows: [[2n ** 70n]] }) as { rows: unknown[][] };
  // Past 2**53 an int stays exact (Python's int), as a bigint: `+ 1` adds (was the text
  // '1180591620717411303424', so `+ 1` failed or appended).
  assert.equal(huge.rows[0]?.[0], 2n ** 70n);
  assert.equal(pyStr(huge.rows[0]?.[0]), "1180591620717411303424");
  assert.equal(pyAdd(huge.rows[0]?.[0], 1), 2n ** 70n + 1n);
});

Deno.test("agate table: column_names is a tuple, printed as Python prints one", () => {
  const table = agateTable({ columns: ["a", "b"], rows: [[1, "x"]] });
  assert.equal(pyStr(table.column_names), "('a', 'b')");
  assert.equal(pyStr(agateTable({ columns: ["only"], rows: [] }).column_names), "('only',)");
});

Deno.test("agate table: dates and times print as Python's date and datetime", () => {
  const at = new Date("2017-01-02T03:04:05Z");
  const table = agateTable({
    columns: ["d", "ts", "tz", "unknown"],
    rows: [[new Date("2017-01-02T00:00:00Z"), at, at, at]],
    temporal: ["date", "timestamp", "timestamptz", null],
  }) as { rows: unknown[][] };
  // dbt-utils' get_single_value puts `str(value)` into SQL: a JavaScript Date printed
  // 'Mon Jan 02 2017 03:04:05 GMT+0000 (Coordinated Universal Time)', which no warehouse reads.
  assert.deepEqual(table.rows[0]?.map((v) => pyStr(v)), [
    "2017-01-02",
    "2017-01-02 03:04:05",
    "2017-01-02 03:04:05+00:00",
    "2017-01-02 03:04:05",
  ]);
});
