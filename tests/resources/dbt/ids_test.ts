import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { shortHash } from "../../../resources/dbt/_files.ts";
import { Relation } from "../../../resources/dbt/relation.ts";

// Test ids in manifests carry this hash: its digits must not change with its implementation.
// The expected values are pinned literals (written by the Number#toString(16) implementation
// this one replaced), not a second copy of the algorithm: a copy would drift with the product
// or hide which of the two changed.
Deno.test("shortHash gives the same 14 hex digits as before (test unique ids stay stable)", () => {
  const pinned: ReadonlyArray<readonly [string, string]> = [
    ["", "0bdcb81aee8d83"],
    ["a", "1c2ba782c97901"],
    ["model.jaffle_shop.orders", "0d8e9ecb517984"],
    ["models/schema.yml:not_null_orders_id", "1d4cf2e368fea3"],
    ["é漢字😀", "0b5ab5a08425e7"],
  ];
  for (const [text, hash] of pinned) assert.equal(shortHash(text), hash, text);
  // 20k ids in the shape dbt tests have, pinned through one digest of all their hashes.
  const all = createHash("sha256");
  for (let i = 0; i < 20_000; i++) {
    const hash = shortHash(
      `models/layer_${i % 10}/schema.yml:not_null_m_${i}_id${"é".repeat(i % 3)}`,
    );
    assert.match(hash, /^[0-9a-f]{14}$/);
    all.update(`${hash}\n`);
  }
  assert.equal(
    all.digest("hex"),
    "4744ede3603852abcc6a466e63a802e3f98af7bdb76fdd630524c6460366193e",
  );
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
