import assert from "node:assert/strict";
import { closest, editDistance, nearest } from "../../core/suggest.ts";

Deno.test("closest suggests only names within the edit budget", async (t) => {
  const cases: [name: string, known: string[], expected: string | undefined][] = [
    ["raw_weathr", ["raw_weather", "bronze_weather"], "raw_weather"],
    ["marts", ["mart", "raw"], "mart"],
    ["completely_different", ["a", "b"], undefined],
    ["x", [], undefined],
    // Two edits are always allowed, even on a short name.
    ["ab", ["ba"], "ba"],
    // A long name allows a third of its length.
    ["fct_weather_dayly_xx", ["fct_weather_daily"], "fct_weather_daily"],
    // Ties go to the first candidate.
    ["cat", ["bat", "hat"], "bat"],
  ];
  for (const [name, known, expected] of cases) {
    await t.step(`${name} among [${known.join(", ")}]`, () => {
      assert.equal(closest(name, known), expected);
    });
  }
});

Deno.test("nearest phrases the suggestion or says nothing", () => {
  assert.equal(nearest("raw_weathr", ["raw_weather"]), " (did you mean 'raw_weather'?)");
  assert.equal(nearest("qqqqqqqq", ["raw_weather"]), "");
});

Deno.test("editDistance is the Levenshtein distance", async (t) => {
  const cases: [string, string, number][] = [
    ["", "", 0],
    ["", "abc", 3],
    ["kitten", "sitting", 3],
    ["flaw", "lawn", 2],
    ["same", "same", 0],
  ];
  for (const [a, b, d] of cases) {
    await t.step(`${a || "''"} ~ ${b || "''"} = ${d}`, () => {
      assert.equal(editDistance(a, b), d);
      assert.equal(editDistance(b, a), d);
    });
  }
});
