import assert from "node:assert/strict";
import { shortHash } from "../../../resources/dbt/_files.ts";
import { Relation } from "../../../resources/dbt/relation.ts";

// Test ids in manifests carry this hash: its digits must not change with its implementation.
Deno.test("shortHash gives the same 14 hex digits as before (test unique ids stay stable)", () => {
  // Values written by the Number#toString(16) implementation this one replaced.
  assert.equal(shortHash(""), "0bdcb81aee8d83");
  const expected = new Map<string, string>();
  const reference = (text: string): string => {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
  };
  for (let i = 0; i < 20_000; i++) {
    const text = `models/layer_${i % 10}/schema.yml:not_null_m_${i}_id${"é".repeat(i % 3)}`;
    expected.set(text, reference(text));
  }
  for (const [text, hash] of expected) assert.equal(shortHash(text), hash, text);
});

Deno.test("a relation printed once still prints its copies' own parts and quoting", () => {
  const relation = new Relation("db", "Marts", "Orders");
  assert.equal(relation.toString(), `"Marts"."Orders"`);
  assert.equal(relation.include({ schema: false, __keywords: true }).toString(), `"Orders"`);
  assert.equal(relation.quote({ schema: false, __keywords: true }).toString(), `Marts."Orders"`);
  assert.equal(
    relation.incorporate({ path: { identifier: "x" }, __keywords: true }).toString(),
    `"Marts"."x"`,
  );
  assert.equal(relation.toString(), `"Marts"."Orders"`);
});
