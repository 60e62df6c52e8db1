/**
 * Python's repr() of a str, as test unique ids hash it (compile/test_names.ts):
 * plain strings take the short path, anything with a quote, a backslash or a
 * control character is escaped as CPython 3 prints it.
 */

import assert from "node:assert/strict";
import { reprString } from "../../../../resources/dbt/jinja/py_repr.ts";

Deno.test("reprString: CPython's repr of plain and escaped strings", () => {
  // Expected values printed by CPython 3 (`repr(s)`).
  const cases: [string, string][] = [
    ["abc", "'abc'"],
    ["", "''"],
    ["é ü 😀", "'é ü 😀'"],
    ["it's", `"it's"`],
    ["{{ get_where_subquery(ref('m_1')) }}", `"{{ get_where_subquery(ref('m_1')) }}"`],
    ['say "hi"', `'say "hi"'`],
    [`both ' "`, `'both \\' "'`],
    ["back\\slash", "'back\\\\slash'"],
    ["nl\nx\ty\r", "'nl\\nx\\ty\\r'"],
    ["\x01\x7f", "'\\x01\\x7f'"],
  ];
  for (const [input, expected] of cases) assert.equal(reprString(input), expected, input);
});
