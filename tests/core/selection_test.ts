import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { SelectionError } from "../../core/errors.ts";
import { parseSelection, resolveSelection } from "../../core/selection.ts";
import { catchError } from "./_helpers.ts";

const noop = () => {};

/*
 * raw_weather  -> bronze_weather  -> marts/fct_weather_daily -> marts/report
 * raw_activity -> bronze_activity -^
 * standalone (no deps, group "default")
 */
const graph = defineGraph({
  assets: [
    defineAsset({ key: "raw_weather", group: "weather", tags: ["raw", "api"], materialize: noop }),
    defineAsset({ key: "raw_activity", group: "activity", tags: ["raw"], materialize: noop }),
    defineAsset({ key: "standalone", materialize: noop }),
    defineAsset({
      key: "bronze_weather",
      deps: ["raw_weather"],
      group: "weather",
      materialize: noop,
    }),
    defineAsset({
      key: "bronze_activity",
      deps: ["raw_activity"],
      group: "activity",
      materialize: noop,
    }),
    defineAsset({
      key: "marts/fct_weather_daily",
      deps: ["bronze_weather", "bronze_activity"],
      group: "marts",
      tags: ["gold"],
      materialize: noop,
    }),
    defineAsset({
      key: "marts/report",
      deps: ["marts/fct_weather_daily"],
      group: "marts",
      materialize: noop,
    }),
  ],
});

const select = (selection: string, exclude?: string) => resolveSelection(graph, selection, exclude);

function selectionError(selection: string, code: string, exclude?: string): SelectionError {
  const error = catchError(() => select(selection, exclude), SelectionError);
  assert.equal(error.code, code, error.message);
  return error;
}

Deno.test("graph order used by these tests", () => {
  assert.deepEqual(graph.order, [
    "raw_weather",
    "raw_activity",
    "standalone",
    "bronze_weather",
    "bronze_activity",
    "marts/fct_weather_daily",
    "marts/report",
  ]);
});

Deno.test("parseSelection parses each kind of term", async (t) => {
  const key = (pattern: string, upstream: boolean, downstream: boolean) => ({
    kind: "key",
    pattern,
    upstream,
    downstream,
  });
  const cases: [text: string, terms: unknown[]][] = [
    ["", [{ kind: "all" }]],
    ["  ", [{ kind: "all" }]],
    ["a", [key("a", false, false)]],
    ["+a", [key("a", true, false)]],
    ["a+", [key("a", false, true)]],
    ["+m/*+", [key("m/*", true, true)]],
    ["group:g, tag:t", [{ kind: "group", name: "g" }, { kind: "tag", name: "t" }]],
  ];
  for (const [text, terms] of cases) {
    await t.step(`'${text}'`, () => assert.deepEqual(parseSelection(text), terms));
  }
});

Deno.test("resolveSelection picks, in topological order", async (t) => {
  const cases: [what: string, selection: string, exclude: string | undefined, keys: string[]][] = [
    ["empty selection: every asset", "", undefined, graph.order.slice()],
    ["* : every asset", "*", undefined, graph.order.slice()],
    ["a bare key: just that asset", "bronze_weather", undefined, ["bronze_weather"]],
    ["a key with a slash", "marts/report", undefined, ["marts/report"]],
    ["+key: every transitive upstream", "+marts/fct_weather_daily", undefined, [
      "raw_weather",
      "raw_activity",
      "bronze_weather",
      "bronze_activity",
      "marts/fct_weather_daily",
    ]],
    ["+key of a root: itself", "+raw_weather", undefined, ["raw_weather"]],
    ["key+: every transitive downstream", "raw_weather+", undefined, [
      "raw_weather",
      "bronze_weather",
      "marts/fct_weather_daily",
      "marts/report",
    ]],
    ["key+ of a leaf: itself", "marts/report+", undefined, ["marts/report"]],
    ["+key+: both directions, not siblings' other branches", "+bronze_weather+", undefined, [
      "raw_weather",
      "bronze_weather",
      "marts/fct_weather_daily",
      "marts/report",
    ]],
    ["group:NAME", "group:activity", undefined, ["raw_activity", "bronze_activity"]],
    ["the default group", "group:default", undefined, ["standalone"]],
    ["tag:NAME", "tag:raw", undefined, ["raw_weather", "raw_activity"]],
    ["tag:NAME, one asset", "tag:gold", undefined, ["marts/fct_weather_daily"]],
    ["a glob across segments", "marts/*", undefined, ["marts/fct_weather_daily", "marts/report"]],
    ["a prefix glob", "raw_*", undefined, ["raw_weather", "raw_activity"]],
    ["a suffix glob", "*_weather", undefined, ["raw_weather", "bronze_weather"]],
    ["+glob", "+marts/r*", undefined, [
      "raw_weather",
      "raw_activity",
      "bronze_weather",
      "bronze_activity",
      "marts/fct_weather_daily",
      "marts/report",
    ]],
    [
      "comma: a union, deduplicated",
      "marts/report, raw_weather,group:activity,raw_weather",
      undefined,
      [
        "raw_weather",
        "raw_activity",
        "bronze_activity",
        "marts/report",
      ],
    ],
    ["exclude a group from everything", "", "group:marts", [
      "raw_weather",
      "raw_activity",
      "standalone",
      "bronze_weather",
      "bronze_activity",
    ]],
    ["exclude a key from a downstream walk", "raw_weather+", "marts/report", [
      "raw_weather",
      "bronze_weather",
      "marts/fct_weather_daily",
    ]],
    ["exclude everything selected", "tag:raw", "tag:raw", []],
    ["a blank exclude excludes nothing", "standalone", "  ", ["standalone"]],
  ];
  for (const [what, selection, exclude, keys] of cases) {
    await t.step(
      `${what}: '${selection}'${exclude === undefined ? "" : ` minus '${exclude}'`}`,
      () => {
        assert.deepEqual(select(selection, exclude), keys);
      },
    );
  }
  await t.step("no arguments: every asset", () => {
    assert.deepEqual(resolveSelection(graph), graph.order);
  });
});

Deno.test("unknown names fail with the nearest name as suggestion", async (t) => {
  const cases: [
    selection: string,
    exclude: string | undefined,
    code: string,
    suggestion: string | undefined,
    message?: string | RegExp,
  ][] = [
    [
      "bronze_wether",
      undefined,
      "selection.unknown_asset",
      "bronze_weather",
      "Unknown asset 'bronze_wether' (did you mean 'bronze_weather'?)",
    ],
    ["+marts/reprt+", undefined, "selection.unknown_asset", "marts/report"],
    ["zzzzzzzzzzzz", undefined, "selection.unknown_asset", undefined],
    ["standalone", "standalon", "selection.unknown_asset", "standalone"],
    ["silver/*", undefined, "selection.unknown_asset", undefined, /No asset matches 'silver\/\*'/],
    [
      "group:wether",
      undefined,
      "selection.unknown_group",
      "weather",
      "No asset has group 'wether' (did you mean 'weather'?)",
    ],
    ["tag:gld", undefined, "selection.unknown_tag", "gold"],
    ["tag:nothing_like_it", undefined, "selection.unknown_tag", undefined],
  ];
  for (const [selection, exclude, code, suggestion, message] of cases) {
    await t.step(`'${selection}'${exclude ? ` minus '${exclude}'` : ""}: ${code}`, () => {
      const error = selectionError(selection, code, exclude);
      assert.equal(error.suggestion, suggestion);
      if (typeof message === "string") assert.equal(error.message, message);
      if (message instanceof RegExp) assert.match(error.message, message);
    });
  }
});

Deno.test("syntax errors are SelectionErrors with code selection.syntax", async (t) => {
  const cases: [bad: string, message?: RegExp][] = [
    ["a,,b", /empty term/],
    // Was every asset: a script joining an empty list sends ','.
    [",", /',' has no term, only commas/],
    [" , ,", /no term/],
    [",a"],
    ["a,"],
    ["group:", /needs a name after 'group:'/],
    ["tag:", /needs a name after 'tag:'/],
    ["group:has space"],
    ["a b", /'a b' is not a key/],
    ["+"],
    ["++"],
    ["a.b"],
    ["a!"],
  ];
  for (const [bad, message] of cases) {
    await t.step(`'${bad}'`, () => {
      const error = selectionError(bad, "selection.syntax");
      assert.equal(error.suggestion, undefined);
      if (message) assert.match(error.message, message);
    });
  }
});
