/** Which relation a dbt asset's metadata names, as the marts page and the previews read it. */

import { assertEquals } from "./_assert.ts";
import { parseRelation } from "../../ui/warehouse_preview.ts";

Deno.test("parseRelation: dbt's three-part relation gives its schema and name (the marts page found no mart since relations carry the database)", () => {
  assertEquals(parseRelation('"postgres"."analytics"."fct_weather_daily"'), {
    schema: "analytics",
    name: "fct_weather_daily",
  });
  assertEquals(parseRelation("memory.main.orders"), { schema: "main", name: "orders" });
});

Deno.test("parseRelation: two parts, quoted or bare, and quoted names with dots, spaces and quotes", () => {
  assertEquals(parseRelation('"analytics"."users"'), { schema: "analytics", name: "users" });
  assertEquals(parseRelation(" raw.raw_weather "), { schema: "raw", name: "raw_weather" });
  assertEquals(parseRelation('"my db"."sch.ema"."a ""b"""'), { schema: "sch.ema", name: 'a "b"' });
});

Deno.test("parseRelation: anything else is not a relation", () => {
  for (
    const text of ["", "orders", "a.", ".a", "a..b", "a.b.c.d", '"a"b', '"unclosed.b', "a.b c"]
  ) {
    assertEquals(parseRelation(text), undefined, text);
  }
});
