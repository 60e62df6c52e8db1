import assert from "node:assert/strict";
import { Relation } from "../../../resources/dbt/relation.ts";

Deno.test("a relation printed once still prints its copies' own parts and quoting", () => {
  const relation = new Relation("db", "Marts", "Orders");
  assert.equal(relation.toString(), `"db"."Marts"."Orders"`);
  assert.equal(relation.include({ schema: false, __keywords: true }).toString(), `"db"."Orders"`);
  assert.equal(
    relation.quote({ schema: false, __keywords: true }).toString(),
    `"db".Marts."Orders"`,
  );
  assert.equal(
    relation.incorporate({ path: { identifier: "x" }, __keywords: true }).toString(),
    `"db"."Marts"."x"`,
  );
  assert.equal(relation.toString(), `"db"."Marts"."Orders"`);
});
