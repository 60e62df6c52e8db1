import assert from "node:assert/strict";
import { InvalidDefinitionError, SelectionError } from "../../core/errors.ts";
import {
  checkPartitionKey,
  dailyPartitions,
  describePartitions,
  dynamicPartitions,
  type PartitionEnvironment,
  partitionKeys,
  samePartitioning,
  selectPartitions,
  staticPartitions,
} from "../../core/partitions.ts";
import { catchError } from "./_helpers.ts";

/** 2024-01-05 at 15:30 UTC. */
const NOW = Date.parse("2024-01-05T15:30:00Z");

function env(now = NOW, dynamic: Record<string, string[]> = {}): PartitionEnvironment {
  return { now, dynamicKeys: (name) => dynamic[name] ?? [] };
}

function definitionError(fn: () => unknown, code: string, mention: string): InvalidDefinitionError {
  const error = catchError(fn, InvalidDefinitionError);
  assert.equal(error.code, code, error.message);
  assert.ok(error.message.includes(mention), `'${error.message}' should mention ${mention}`);
  return error;
}

Deno.test("staticPartitions keeps its keys in order, frozen", () => {
  const def = staticPartitions(["billings", "bozeman", "helena"]);
  assert.equal(def.kind, "static");
  assert.deepEqual(def.keys, ["billings", "bozeman", "helena"]);
  assert.ok(Object.isFrozen(def) && Object.isFrozen(def.keys));
  assert.deepEqual(partitionKeys(def, env()), ["billings", "bozeman", "helena"]);
  assert.equal(describePartitions(def), "static (3)");
});

Deno.test("staticPartitions rejects duplicates, an empty list and bad keys", () => {
  definitionError(
    () => staticPartitions(["a", "b", "a"]),
    "definition.partitions",
    "'a' is listed twice",
  );
  definitionError(() => staticPartitions([]), "definition.partitions", "at least one key");
  definitionError(() => staticPartitions(["ok", "not ok"]), "definition.partition_key", "'not ok'");
  definitionError(() => staticPartitions(["a/b"]), "definition.partition_key", "'a/b'");
});

Deno.test("checkPartitionKey accepts the documented alphabet only", () => {
  for (const key of ["2024-01-01", "b1", "a.b:c=d_e", "_x"]) {
    assert.equal(checkPartitionKey(key), key);
  }
  for (const key of ["", "-lead", "a b", "x".repeat(201), "é"]) {
    catchError(() => checkPartitionKey(key), InvalidDefinitionError);
  }
});

Deno.test("daily partitions with endOffset 0 end yesterday", () => {
  const def = dailyPartitions("2024-01-01");
  assert.deepEqual(def, { kind: "daily", start: "2024-01-01", endOffset: 0 });
  assert.deepEqual(partitionKeys(def, env()), [
    "2024-01-01",
    "2024-01-02",
    "2024-01-03",
    "2024-01-04",
  ]);
  // Midnight exactly still counts as "today".
  assert.deepEqual(
    partitionKeys(def, env(Date.parse("2024-01-05T00:00:00Z"))).at(-1),
    "2024-01-04",
  );
  assert.deepEqual(
    partitionKeys(def, env(Date.parse("2024-01-04T23:59:59.999Z"))).at(-1),
    "2024-01-03",
  );
  assert.equal(describePartitions(def), "daily from 2024-01-01");
});

Deno.test("daily partitions with endOffset 1 include today", () => {
  const def = dailyPartitions("2024-01-01", { endOffset: 1 });
  assert.deepEqual(partitionKeys(def, env()), [
    "2024-01-01",
    "2024-01-02",
    "2024-01-03",
    "2024-01-04",
    "2024-01-05",
  ]);
});

Deno.test("daily partitions cross month and leap-day boundaries", () => {
  const keys = partitionKeys(
    dailyPartitions("2024-02-27"),
    env(Date.parse("2024-03-03T08:00:00Z")),
  );
  assert.deepEqual(keys, ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"]);
});

Deno.test("daily partitions starting after now (or today) have no keys", () => {
  assert.deepEqual(partitionKeys(dailyPartitions("2024-02-01"), env()), []);
  assert.deepEqual(partitionKeys(dailyPartitions("2024-01-05"), env()), []);
  assert.deepEqual(partitionKeys(dailyPartitions("2024-01-05", { endOffset: 1 }), env()), [
    "2024-01-05",
  ]);
});

Deno.test("dailyPartitions rejects a start that is not a real YYYY-MM-DD date", () => {
  for (
    const start of [
      "2024-02-30",
      "2023-02-29",
      "2024-1-1",
      "20240101",
      "yesterday",
      "2024-01-01T00:00:00Z",
    ]
  ) {
    definitionError(() => dailyPartitions(start), "definition.partitions", `'${start}'`);
  }
});

Deno.test("dailyPartitions rejects an impossible month or day with InvalidDefinitionError", () => {
  for (const start of ["2024-13-01", "2024-00-10", "2024-01-32"]) {
    definitionError(() => dailyPartitions(start), "definition.partitions", `'${start}'`);
  }
});

Deno.test("dailyPartitions rejects a non-integer endOffset with RangeError", () => {
  assert.throws(() => dailyPartitions("2024-01-01", { endOffset: 0.5 }), RangeError);
});

Deno.test("dynamic partitions read their keys from the environment", () => {
  const def = dynamicPartitions("spatial_batches");
  assert.deepEqual(def, { kind: "dynamic", name: "spatial_batches", initialKeys: [] });
  const e = env(NOW, { spatial_batches: ["b2", "b1"], other: ["x"] });
  assert.deepEqual(partitionKeys(def, e), ["b2", "b1"]);
  assert.deepEqual(partitionKeys(dynamicPartitions("empty_one"), e), []);
  assert.equal(describePartitions(def), "dynamic 'spatial_batches'");
  definitionError(() => dynamicPartitions("Batches"), "definition.partitions", "'Batches'");
  definitionError(() => dynamicPartitions("has-dash"), "definition.partitions", "snake_case");
});

Deno.test("samePartitioning compares kinds, names and keys", () => {
  assert.ok(
    samePartitioning(
      dailyPartitions("2024-01-01"),
      dailyPartitions("2023-06-01", { endOffset: 1 }),
    ),
  );
  assert.ok(samePartitioning(staticPartitions(["a", "b"]), staticPartitions(["a", "b"])));
  assert.ok(!samePartitioning(staticPartitions(["a", "b"]), staticPartitions(["b", "a"])));
  assert.ok(samePartitioning(dynamicPartitions("x"), dynamicPartitions("x")));
  assert.ok(!samePartitioning(dynamicPartitions("x"), dynamicPartitions("y")));
  assert.ok(!samePartitioning(dailyPartitions("2024-01-01"), staticPartitions(["2024-01-01"])));
});

const days = dailyPartitions("2024-01-01"); // 2024-01-01 .. 2024-01-04 at NOW

Deno.test("selectPartitions with nothing wanted selects everything", () => {
  assert.deepEqual(selectPartitions(days, env(), {}), [
    "2024-01-01",
    "2024-01-02",
    "2024-01-03",
    "2024-01-04",
  ]);
});

Deno.test("selectPartitions by keys", () => {
  assert.deepEqual(selectPartitions(days, env(), { keys: ["2024-01-03"] }), ["2024-01-03"]);
  assert.deepEqual(selectPartitions(days, env(), { keys: ["2024-01-01", "2024-01-04"] }), [
    "2024-01-01",
    "2024-01-04",
  ]);
});

Deno.test("selectPartitions returns explicit keys in partition order, once each", () => {
  const places = staticPartitions(["a", "b", "c"]);
  assert.deepEqual(selectPartitions(places, env(), { keys: ["c", "a", "c"] }), ["a", "c"]);
});

Deno.test("selectPartitions by range: from, to, and both (inclusive)", () => {
  assert.deepEqual(selectPartitions(days, env(), { from: "2024-01-03" }), [
    "2024-01-03",
    "2024-01-04",
  ]);
  assert.deepEqual(selectPartitions(days, env(), { to: "2024-01-02" }), [
    "2024-01-01",
    "2024-01-02",
  ]);
  assert.deepEqual(selectPartitions(days, env(), { from: "2024-01-02", to: "2024-01-03" }), [
    "2024-01-02",
    "2024-01-03",
  ]);
  assert.deepEqual(selectPartitions(days, env(), { from: "2024-01-02", to: "2024-01-02" }), [
    "2024-01-02",
  ]);
});

Deno.test("an unknown partition fails, listing the valid range", () => {
  const error = catchError(
    () => selectPartitions(days, env(), { keys: ["2024-01-09"] }),
    SelectionError,
  );
  assert.equal(error.code, "selection.unknown_partition");
  assert.equal(
    error.message,
    "Partition '2024-01-09' does not exist in daily from 2024-01-01 (valid: 2024-01-01 .. 2024-01-04)",
  );
  const today = catchError(
    () => selectPartitions(days, env(), { from: "2024-01-05" }),
    SelectionError,
  );
  assert.match(
    today.message,
    /'2024-01-05' does not exist .*\(valid: 2024-01-01 \.\. 2024-01-04\)/,
  );
  const empty = catchError(
    () => selectPartitions(dynamicPartitions("batches"), env(), { keys: ["b1"] }),
    SelectionError,
  );
  assert.equal(
    empty.message,
    "Partition 'b1' does not exist in dynamic 'batches' (it has no partitions yet)",
  );
  const stat = catchError(
    () => selectPartitions(staticPartitions(["x", "y"]), env(), { to: "zzzz" }),
    SelectionError,
  );
  assert.equal(stat.message, "Partition 'zzzz' does not exist in static (2) (valid: x .. y)");
});

Deno.test("an unknown static or dynamic partition suggests the nearest key", () => {
  const fields = staticPartitions(["north_field", "south_field"]);
  const typo = catchError(
    () => selectPartitions(fields, env(), { keys: ["nort_field"] }),
    SelectionError,
  );
  assert.equal(typo.suggestion, "north_field");
  assert.match(typo.message, /\(did you mean 'north_field'\?\)$/);
  const batches = dynamicPartitions("batches");
  const known = env(NOW, { batches: ["survey_2024_spring", "survey_2024_autumn"] });
  const prefix = catchError(
    () => selectPartitions(batches, known, { from: "survey_2024_sprin" }),
    SelectionError,
  );
  assert.equal(prefix.suggestion, "survey_2024_spring");
  // Daily keys get the valid range, not a guess.
  const day = catchError(
    () => selectPartitions(days, env(), { keys: ["2024-01-0"] }),
    SelectionError,
  );
  assert.equal(day.suggestion, undefined);
});

Deno.test("from after to fails with selection.bad_range", () => {
  const error = catchError(
    () => selectPartitions(days, env(), { from: "2024-01-04", to: "2024-01-02" }),
    SelectionError,
  );
  assert.equal(error.code, "selection.bad_range");
  assert.equal(error.message, "--from '2024-01-04' comes after --to '2024-01-02'");
});
