/** The zod schemas of the ledger and their conversion to MongoDB's `$jsonSchema`. */

import { z } from "zod";
import {
  LedgerDocument,
  LedgerDocumentInput,
  ledgerMongoValidator,
  type MongoJsonSchema,
  toMongoJsonSchema,
} from "../../../resources/ledger/schema.ts";
import { sampleInput } from "./_docs.ts";
import { assert, assertEquals } from "./_assert.ts";

/** Every keyword used anywhere in a schema tree. */
function keywords(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((child) => keywords(child, found));
  if (typeof node !== "object" || node === null || Array.isArray(node)) return found;
  for (const [keyword, value] of Object.entries(node)) {
    found.add(keyword);
    if (keyword === "properties" || keyword === "patternProperties") {
      Object.values(value as object).forEach((child) => keywords(child, found));
    } else if (typeof value === "object" && keyword !== "enum") keywords(value, found);
  }
  return found;
}

const schema = ledgerMongoValidator().$jsonSchema;
const properties = schema.properties as Record<string, MongoJsonSchema>;

Deno.test("ledger validator: required fields are every field but content_type, plus _id", () => {
  assertEquals(schema.bsonType, "object");
  assertEquals(schema.additionalProperties, false);
  assertEquals(
    [...(schema.required as string[])].sort(),
    [
      "_id",
      "asset_key",
      "batch_id",
      "bucket",
      "created_at",
      "format",
      "id",
      "key",
      "metadata",
      "partition",
      "run_id",
      "sha256",
      "size",
      "updated_at",
    ],
  );
  assertEquals(
    Object.keys(properties).sort(),
    [
      ...(schema.required as string[]),
      "content_type",
    ].sort(),
  );
});

Deno.test("ledger validator: bsonType mapping and kept constraints", () => {
  assertEquals(properties._id, { bsonType: "string" });
  assertEquals(properties.sha256, { bsonType: "string", pattern: "^[0-9a-f]{64}$" });
  assertEquals(properties.size?.bsonType, ["int", "long"]);
  assertEquals(properties.size?.minimum, 0);
  assertEquals(properties.key, { bsonType: "string", minLength: 1, maxLength: 1024 });
  assertEquals(properties.partition, {
    anyOf: [{ bsonType: "string", minLength: 1 }, { bsonType: "null" }],
  });
  assertEquals(properties.metadata?.bsonType, "object");
  assert(typeof properties.created_at?.pattern === "string", "timestamps keep their pattern");
});

Deno.test("ledger validator: only keywords MongoDB accepts", () => {
  const allowed = new Set([
    "bsonType",
    "properties",
    "required",
    "additionalProperties",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "anyOf",
    "items",
    "description",
  ]);
  const used = keywords(schema);
  // property names show up as keys of `properties`, not as keywords
  for (const name of Object.keys(properties)) used.delete(name);
  const unexpected = [...used].filter((keyword) => !allowed.has(keyword));
  assertEquals(unexpected, []);
});

Deno.test("toMongoJsonSchema: types, const, exclusive bounds and empty required", () => {
  const converted = toMongoJsonSchema(z.object({
    flag: z.boolean(),
    ratio: z.number().gt(0).lt(1),
    kind: z.literal("cog"),
    tags: z.array(z.string()).min(1),
    pair: z.tuple([z.string(), z.int()]),
    options: z.object({ a: z.string().optional() }),
    when: z.iso.date().nullable(),
  }));
  const props = converted.properties as Record<string, MongoJsonSchema>;
  assertEquals(props.flag, { bsonType: "bool" });
  assertEquals(props.ratio, {
    bsonType: "number",
    minimum: 0,
    exclusiveMinimum: true,
    maximum: 1,
    exclusiveMaximum: true,
  });
  assertEquals(props.kind, { bsonType: "string", enum: ["cog"] });
  assertEquals(props.tags, { bsonType: "array", items: { bsonType: "string" }, minItems: 1 });
  assertEquals(props.pair?.items, [{ bsonType: "string" }, {
    bsonType: ["int", "long"],
    minimum: -9007199254740991,
    maximum: 9007199254740991,
  }]);
  assertEquals(props.options?.required, undefined, "an empty required array is dropped");
  assertEquals(props.options?.additionalProperties, false);
  const when = props.when as { anyOf: MongoJsonSchema[] };
  assertEquals(when.anyOf[0]?.format, undefined, "format is dropped");
  assertEquals(when.anyOf[1], { bsonType: "null" });
  assert(!keywords(converted).has("$schema"), "$schema is dropped");
});

Deno.test("toMongoJsonSchema: recursive schemas are cut to 'any value'", () => {
  const converted = toMongoJsonSchema(z.object({ value: z.json() }));
  const used = keywords(converted);
  assert(!used.has("$ref") && !used.has("$defs"), `refs remain: ${[...used]}`);
  const value = (converted.properties as Record<string, MongoJsonSchema>).value;
  assertEquals((value?.anyOf as unknown[]).length, 6);
});

Deno.test("toMongoJsonSchema: what JSON Schema cannot express fails loudly", () => {
  let error: unknown;
  try {
    toMongoJsonSchema(z.object({ at: z.date() }));
  } catch (caught) {
    error = caught;
  }
  assert(error instanceof Error, "z.date() has no JSON Schema form");
});

Deno.test("LedgerDocumentInput: defaults partition, batch_id and metadata", () => {
  const parsed = LedgerDocumentInput.parse(sampleInput(1));
  assertEquals([parsed.partition, parsed.batch_id, parsed.metadata], [null, null, {}]);
});

Deno.test("LedgerDocument: timestamps need millisecond precision in UTC", () => {
  const doc = {
    ...LedgerDocumentInput.parse(sampleInput(1)),
    id: "01890a5d-ac96-774b-bcce-b302099a8057",
    created_at: "2024-05-01T12:00:00.000Z",
    updated_at: "2024-05-01T12:00:00.000Z",
  };
  assert(LedgerDocument.safeParse(doc).success, "a valid document");
  for (const bad of ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000+02:00", "yesterday"]) {
    assert(!LedgerDocument.safeParse({ ...doc, updated_at: bad }).success, bad);
  }
});
