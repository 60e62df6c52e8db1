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

Deno.test("parseSelection parses each kind of term", () => {
  assert.deepEqual(parseSelection(""), [{ kind: "all" }]);
  assert.deepEqual(parseSelection("  "), [{ kind: "all" }]);
  assert.deepEqual(parseSelection("a"), [{
    kind: "key",
    pattern: "a",
    upstream: false,
    downstream: false,
  }]);
  assert.deepEqual(parseSelection("+a"), [{
    kind: "key",
    pattern: "a",
    upstream: true,
    downstream: false,
  }]);
  assert.deepEqual(parseSelection("a+"), [{
    kind: "key",
    pattern: "a",
    upstream: false,
    downstream: true,
  }]);
  assert.deepEqual(parseSelection("+m/*+"), [{
    kind: "key",
    pattern: "m/*",
    upstream: true,
    downstream: true,
  }]);
  assert.deepEqual(parseSelection("group:g, tag:t"), [{ kind: "group", name: "g" }, {
    kind: "tag",
    name: "t",
  }]);
});

Deno.test("empty selection means every asset, in topological order", () => {
  assert.deepEqual(select(""), graph.order);
  assert.deepEqual(resolveSelection(graph), graph.order);
  assert.deepEqual(select("*"), graph.order);
});

Deno.test("a bare key selects just that asset", () => {
  assert.deepEqual(select("bronze_weather"), ["bronze_weather"]);
  assert.deepEqual(select("marts/report"), ["marts/report"]);
});

Deno.test("+key adds every transitive upstream", () => {
  assert.deepEqual(select("+marts/fct_weather_daily"), [
    "raw_weather",
    "raw_activity",
    "bronze_weather",
    "bronze_activity",
    "marts/fct_weather_daily",
  ]);
  assert.deepEqual(select("+raw_weather"), ["raw_weather"]);
});

Deno.test("key+ adds every transitive downstream", () => {
  assert.deepEqual(select("raw_weather+"), [
    "raw_weather",
    "bronze_weather",
    "marts/fct_weather_daily",
    "marts/report",
  ]);
  assert.deepEqual(select("marts/report+"), ["marts/report"]);
});

Deno.test("+key+ adds both directions but not siblings' other branches", () => {
  assert.deepEqual(select("+bronze_weather+"), [
    "raw_weather",
    "bronze_weather",
    "marts/fct_weather_daily",
    "marts/report",
  ]);
});

Deno.test("group:NAME and tag:NAME select by attribute", () => {
  assert.deepEqual(select("group:activity"), ["raw_activity", "bronze_activity"]);
  assert.deepEqual(select("group:default"), ["standalone"]);
  assert.deepEqual(select("tag:raw"), ["raw_weather", "raw_activity"]);
  assert.deepEqual(select("tag:gold"), ["marts/fct_weather_daily"]);
});

Deno.test("globs match keys, including across segments", () => {
  assert.deepEqual(select("marts/*"), ["marts/fct_weather_daily", "marts/report"]);
  assert.deepEqual(select("raw_*"), ["raw_weather", "raw_activity"]);
  assert.deepEqual(select("*_weather"), ["raw_weather", "bronze_weather"]);
  assert.deepEqual(select("+marts/r*"), select("+marts/report"));
});

Deno.test("comma is a union, deduplicated, in topological order", () => {
  assert.deepEqual(select("marts/report, raw_weather,group:activity,raw_weather"), [
    "raw_weather",
    "raw_activity",
    "bronze_activity",
    "marts/report",
  ]);
});

Deno.test("exclude removes what it selects", () => {
  assert.deepEqual(select("", "group:marts"), [
    "raw_weather",
    "raw_activity",
    "standalone",
    "bronze_weather",
    "bronze_activity",
  ]);
  assert.deepEqual(select("raw_weather+", "marts/report"), [
    "raw_weather",
    "bronze_weather",
    "marts/fct_weather_daily",
  ]);
  assert.deepEqual(select("tag:raw", "tag:raw"), []);
  assert.deepEqual(select("standalone", "  "), ["standalone"]);
  selectionError("standalone", "selection.unknown_asset", "standalon");
});

Deno.test("unknown asset fails with the nearest key as suggestion", () => {
  const error = selectionError("bronze_wether", "selection.unknown_asset");
  assert.equal(error.suggestion, "bronze_weather");
  assert.equal(error.message, "Unknown asset 'bronze_wether' (did you mean 'bronze_weather'?)");
  assert.equal(
    selectionError("+marts/reprt+", "selection.unknown_asset").suggestion,
    "marts/report",
  );
  assert.equal(selectionError("zzzzzzzzzzzz", "selection.unknown_asset").suggestion, undefined);
});

Deno.test("a glob matching nothing fails", () => {
  const error = selectionError("silver/*", "selection.unknown_asset");
  assert.match(error.message, /silver\/\*/);
});

Deno.test("unknown group or tag fails with the nearest name as suggestion", () => {
  const group = selectionError("group:wether", "selection.unknown_group");
  assert.equal(group.suggestion, "weather");
  assert.equal(group.message, "No asset has group 'wether' (did you mean 'weather'?)");
  const tag = selectionError("tag:gld", "selection.unknown_tag");
  assert.equal(tag.suggestion, "gold");
  assert.equal(
    selectionError("tag:nothing_like_it", "selection.unknown_tag").suggestion,
    undefined,
  );
});

Deno.test("syntax errors are SelectionErrors with code selection.syntax", () => {
  for (
    const bad of [
      "a,,b",
      ",a",
      "a,",
      "group:",
      "tag:",
      "group:has space",
      "a b",
      "+",
      "++",
      "a.b",
      "a!",
    ]
  ) {
    const error = selectionError(bad, "selection.syntax");
    assert.equal(error.suggestion, undefined, bad);
  }
  assert.match(selectionError("a,,b", "selection.syntax").message, /empty term/);
  assert.match(selectionError("group:", "selection.syntax").message, /needs a name after 'group:'/);
  assert.match(selectionError("a b", "selection.syntax").message, /'a b' is not a key/);
});
