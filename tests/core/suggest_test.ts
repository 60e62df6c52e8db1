import assert from "node:assert/strict";
import {
  closest,
  editDistance,
  MAX_PREFIX_LENGTH,
  MAX_SUGGESTED_LENGTH,
  nearest,
} from "../../core/suggest.ts";

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
    // A misspelt start of a longer name (7 edits away as a whole).
    ["fct_wether", ["raw_weather", "fct_weather_daily", "fct_activity"], "fct_weather_daily"],
    ["FCT_WEATHER", ["fct_weather_daily"], "fct_weather_daily"],
    // A part of a name; the shorter wins.
    ["weather_daily", ["fct_weather_daily_v2", "fct_weather_daily"], "fct_weather_daily"],
    // Too short for a prefix or a part.
    ["fc", ["fct_weather_daily"], undefined],
    ["zzz_unrelated", ["fct_weather_daily"], undefined],
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

Deno.test("closest skips names longer than MAX_SUGGESTED_LENGTH, and measures only candidates that could win", async (t) => {
  await t.step("a name past the bound gets no suggestion, however close", () => {
    const long = "a".repeat(MAX_SUGGESTED_LENGTH + 1);
    assert.equal(closest(long, [long.slice(1)]), undefined);
    assert.equal(closest(long.slice(1), [long.slice(2)]), long.slice(2));
  });
  await t.step("a URL path of 30,000 characters against 20,000 keys answers at once", () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `group_${i % 50}/asset_${i}`);
    assert.equal(closest("a".repeat(30_000), keys), undefined);
  });
  await t.step(
    "a name of MAX_PREFIX_LENGTH against 20,000 keys sharing its first letter answers in well under a second",
    () => {
      const keys = Array.from({ length: 20_000 }, (_, i) => `group_${i % 50}/asset_${i}`);
      const started = performance.now();
      assert.equal(closest("g".repeat(MAX_PREFIX_LENGTH), keys), undefined);
      assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
    },
  );
  await t.step(
    "the same answer as measuring every candidate, when one is within the budget (random names)",
    () => {
      const reference = (name: string, known: string[]) => {
        let best: string | undefined, bestDistance = Infinity;
        for (const c of known) {
          const d = editDistance(name, c);
          if (d < bestDistance) [best, bestDistance] = [c, d];
        }
        return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
      };
      let seed = 7;
      const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
      const word = () =>
        Array.from(
          { length: 1 + Math.floor(random() * 12) },
          () => "abc_"[Math.floor(random() * 4)],
        )
          .join("");
      for (let i = 0; i < 500; i++) {
        const known = Array.from({ length: 1 + Math.floor(random() * 15) }, word);
        const name = word();
        const expected = reference(name, known);
        if (expected === undefined) continue; // then a prefix or a part may still be suggested
        assert.equal(closest(name, known), expected, `${name} among ${known}`);
      }
    },
  );
});
