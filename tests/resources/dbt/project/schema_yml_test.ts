/**
 * The compiled property-file schema (`propertiesFileSchema` above
 * COMPILE_MIN_CHARS: zod's `z.compile`) accepts and refuses exactly what
 * the runtime schema does, with the same values (keys in the same order,
 * defaults, lowercased severities) and the same first error, on realistic
 * files and on thousands of seeded random corruptions of them.
 */

import assert from "node:assert/strict";
import { z } from "zod";
import {
  COMPILE_MIN_CHARS,
  PropertiesFileSchema,
  propertiesFileSchema,
} from "../../../../resources/dbt/project/schema_yml.ts";
import { yamlValue } from "../../../../resources/dbt/project/yaml_value.ts";
import { mulberry32 } from "../../../../sample_data/_random.ts";

const compiled = propertiesFileSchema(COMPILE_MIN_CHARS);

/** A property file using most of what the schema knows, as js-yaml reads it. */
const SAMPLE = yamlValue(
  `version: 2
x-common: &common
  meta: {owner: data}
models:
  - name: orders
    <<: *common
    description: Orders.
    config: {materialized: table, tags: [a]}
    data_tests:
      - dbt_utils.expression_is_true:
          arguments: {expression: "amount > 0"}
    columns:
      - name: id
        data_type: int
        constraints: [{type: not_null}, {type: check, expression: "id > 0"}]
        data_tests:
          - unique
          - not_null:
              config: {severity: WARN, where: "id > 0", limit: 5, tags: x}
          - accepted_values:
              values: [1, 2.5, true, null, "x"]
              quote: false
      - name: customer_id
        tests:
          - relationships: {to: ref('customers'), field: id}
        extra_key: kept
seeds:
  - name: countries
    columns: [{name: code, data_tests: [unique]}]
snapshots:
  - name: snap
unit_tests:
  - name: ut
    model: orders
    given: [{input: ref('customers'), rows: [{id: 1}]}, {input: ref('x'), format: csv, rows: "id\\n1"}]
    expect: {rows: [{id: 1}]}
    overrides: {vars: {a: 1}}
exposures:
  - name: dash
    type: dashboard
    owner: {email: [a@b.c]}
    depends_on: [ref('orders')]
    maturity: high
sources:
  - name: raw
    schema: raw
    freshness: {warn_after: {count: 1, period: day}, error_after: null}
    tables:
      - name: orders
        identifier: raw_orders
        loaded_at_field: ts
        freshness: null
        columns: [{name: id, data_tests: [not_null]}]
  - name: empty
data_tests:
  - name: singular
    config: {severity: error}
semantic_models: [{name: s}]
`,
  "sample.yml",
) as Record<string, unknown>;

/** Keys and values in order, `undefined` members included (JSON.stringify would drop them). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.keys(value).map((k) => [k, canonical((value as Record<string, unknown>)[k])]);
  }
  return value === undefined ? "<undefined>" : value;
}

function assertSame(input: unknown, label: string): boolean {
  // Each parse gets its own copy: a schema must not read what the other wrote.
  const runtime = PropertiesFileSchema.safeParse(structuredClone(input));
  const fast = compiled.safeParse(structuredClone(input));
  assert.equal(fast.success, runtime.success, `${label}: accepted by one schema only`);
  if (runtime.success && fast.success) {
    assert.deepStrictEqual(canonical(fast.data), canonical(runtime.data), label);
  } else {
    const issue = (r: typeof runtime) => {
      const first = r.error?.issues[0];
      return [first?.path, first?.message, first?.code];
    };
    assert.deepStrictEqual(issue(fast), issue(runtime), `${label}: first error`);
  }
  return runtime.success;
}

const ODD_VALUES: readonly unknown[] = [
  null,
  undefined,
  0,
  -1,
  1.5,
  "",
  "x",
  "WARN",
  "error",
  "hour",
  "day",
  true,
  false,
  [],
  ["a"],
  [1, null],
  {},
  { name: "n" },
  { count: 1, period: "day" },
  { not_null: null },
  { a: {}, b: {} },
  { email: "e" },
];

/** Every [container, key] of `value`, so one can be replaced or removed. */
function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

function corrupt(base: unknown, next: () => number): unknown {
  const value = structuredClone(base);
  const edits = 1 + Math.floor(next() * 3);
  for (let e = 0; e < edits; e++) {
    const all = slots(value);
    const [container, key] = all[Math.floor(next() * all.length)] as (typeof all)[number];
    const roll = next();
    if (roll < 0.15 && !Array.isArray(container)) delete container[key as string];
    else if (roll < 0.25 && !Array.isArray(container)) container[`extra_${e}`] = "kept";
    else {
      const odd = ODD_VALUES[Math.floor(next() * ODD_VALUES.length)];
      (container as Record<string | number, unknown>)[key] = structuredClone(odd);
    }
  }
  return value;
}

Deno.test("properties schema: the compiled schema is zod's own compile, used from COMPILE_MIN_CHARS", () => {
  assert.equal(propertiesFileSchema(0) === compiled, true, "once compiled, always compiled");
  assert.notEqual(compiled, PropertiesFileSchema);
  assert.equal(z.compile(PropertiesFileSchema, { strict: true }) !== PropertiesFileSchema, true);
});

Deno.test("properties schema: compiled and runtime agree on a realistic file", () => {
  assert.equal(assertSame(SAMPLE, "sample"), true, "the sample is valid");
  assert.equal(assertSame({}, "empty"), true);
  assert.equal(assertSame(null, "null"), false);
  assert.equal(assertSame([], "a list"), false);
});

Deno.test("properties schema: compiled and runtime agree on 3,000 seeded corruptions", () => {
  let accepted = 0;
  let refused = 0;
  for (let seed = 1; seed <= 3_000; seed++) {
    const input = corrupt(SAMPLE, mulberry32(seed));
    if (assertSame(input, `seed ${seed}`)) accepted++;
    else refused++;
  }
  // Both outcomes are exercised, not just one of them.
  assert.ok(accepted > 300, `accepted ${accepted}`);
  assert.ok(refused > 300, `refused ${refused}`);
});
