import assert from "node:assert/strict";
import { ResourceError } from "../../../core/errors.ts";
import { quoteIdent, quoteTable } from "../../../resources/warehouse/mod.ts";

Deno.test("quoteIdent quotes any usable name as written", () => {
  assert.equal(quoteIdent("raw_weather"), '"raw_weather"');
  assert.equal(quoteIdent("Daily Activity"), '"Daily Activity"');
  assert.equal(quoteIdent("select"), '"select"');
  assert.equal(quoteIdent("naïve-ünïcode $1"), '"naïve-ünïcode $1"');
  assert.equal(quoteIdent("x".repeat(63)), `"${"x".repeat(63)}"`);
});

Deno.test("quoteIdent rejects names that cannot be used as written", () => {
  const bad = ["", 'a"b', "a\0b", "tab\there", "new\nline", "x".repeat(64), "é".repeat(32)];
  for (const name of bad) {
    assert.throws(
      () => quoteIdent(name),
      (error) =>
        error instanceof ResourceError && error.code === "warehouse.invalid_identifier" &&
        error.message.startsWith(`Cannot use ${JSON.stringify(name)} as a SQL identifier`),
      JSON.stringify(name),
    );
  }
  assert.throws(() => quoteIdent(42 as unknown as string), /not a string/);
});

Deno.test("quoteTable qualifies and validates both parts", () => {
  assert.equal(quoteTable({ schema: "raw", name: "sleep" }), '"raw"."sleep"');
  assert.throws(() => quoteTable({ schema: "raw", name: 'x"; --' }), ResourceError);
  assert.throws(() => quoteTable({ schema: "", name: "t" }), ResourceError);
});
