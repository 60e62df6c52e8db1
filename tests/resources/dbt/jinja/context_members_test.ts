/**
 * dbt's base-context functions that packages call besides Jinja2's own
 * (dbt-core context/base.py): set_strict, zip_strict, try_or_compiler_error,
 * diff_of_two_dicts. Before, each failed the render as an undefined name.
 */

import assert from "node:assert/strict";
import { renderString } from "../../../../resources/dbt/jinja/env.ts";

const render = (text: string) => renderString(text, { env: () => undefined, file: "models/m.sql" });

Deno.test("jinja context: set_strict and zip_strict work as set/zip and refuse what is not iterable", () => {
  assert.equal(render("{{ set_strict([1, 2, 2, 3]) | length }}"), "3");
  assert.equal(render("{{ zip_strict([1, 2], 'ab') | list }}"), "[(1, 'a'), (2, 'b')]");
  assert.throws(
    () => render("{{ set_strict(1) }}"),
    /models\/m\.sql.*set_strict\(\): 1 is not iterable/,
  );
  assert.throws(() => render("{{ zip_strict(1, [2]) }}"), /zip_strict\(\): 1 is not iterable/);
});

Deno.test("jinja context: try_or_compiler_error returns the call's result, else fails with the message", () => {
  assert.equal(render(`{{ try_or_compiler_error('bad json', fromjson, '{"a": 1}').a }}`), "1");
  assert.throws(
    () =>
      render(
        "{{ try_or_compiler_error('dates must look like 2024-01-31', " +
          "modules.datetime.datetime.strptime, 'x', '%Y-%m-%d') }}",
      ),
    /models\/m\.sql.*dates must look like 2024-01-31/,
  );
});

Deno.test("jinja context: diff_of_two_dicts is dict_a minus dict_b without case, in dict_a's case", () => {
  // The example of dbt-core's docstring.
  assert.equal(
    render(
      "{{ diff_of_two_dicts({'key_x': ['value_1', 'VALUE_2'], 'KEY_Y': ['value_3']}, " +
        "{'key_x': ['value_1'], 'key_z': ['value_4']}) }}",
    ),
    "{'key_x': ['VALUE_2'], 'KEY_Y': ['value_3']}",
  );
  assert.equal(render("{{ diff_of_two_dicts({'A': ['x']}, {'a': ['X']}) }}"), "{}");
});
