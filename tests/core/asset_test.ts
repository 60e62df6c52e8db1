import assert from "node:assert/strict";
import { assetFactory, buildCheck, checkFactory, defineAsset } from "../../core/asset.ts";
import { assetKeyProblem, validateAssetKey } from "../../core/asset_key.ts";
import { InvalidDefinitionError, PlatformError } from "../../core/errors.ts";
import { dailyPartitions, staticPartitions } from "../../core/partitions.ts";
import { NO_RETRY } from "../../core/retry.ts";
import { buildAssetContext } from "../../core/testing.ts";
import { catchError } from "./_helpers.ts";

const noop = () => {};

function invalid(fn: () => unknown, code: string, ...mentions: string[]): InvalidDefinitionError {
  const error = catchError(fn, InvalidDefinitionError);
  assert.equal(error.code, code, error.message);
  for (const text of mentions) {
    assert.ok(error.message.includes(text), `'${error.message}' should mention ${text}`);
  }
  return error;
}

Deno.test("validateAssetKey accepts path-like keys and returns them", () => {
  for (const key of ["raw_weather", "marts/fct_weather_daily", "_x", "a-b/c_d/E9"]) {
    assert.equal(validateAssetKey(key), key);
    assert.equal(assetKeyProblem(key), undefined);
  }
});

Deno.test("validateAssetKey rejects malformed keys with a reason", () => {
  assert.equal(assetKeyProblem(""), "it is empty");
  assert.equal(assetKeyProblem("a".repeat(256)), "it is longer than 255 characters");
  assert.match(assetKeyProblem("a//b") ?? "", /segment ''/);
  assert.match(assetKeyProblem("1abc") ?? "", /segment '1abc' must start with a letter or '_'/);
  assert.match(assetKeyProblem("a b") ?? "", /segment 'a b'/);
  assert.match(assetKeyProblem("a.b") ?? "", /segment 'a.b'/);
  assert.match(assetKeyProblem("a/") ?? "", /segment ''/);
  const error = invalid(
    () => validateAssetKey("x y", "dependency of 'z'"),
    "definition.invalid_key",
  );
  assert.equal(error.message, "Invalid dependency of 'z' 'x y': " + assetKeyProblem("x y"));
  assert.equal(error.assetKey, "x y");
});

Deno.test("defineAsset rejects bad key syntax, naming the key", () => {
  for (const key of ["", "a//b", "1abc", "has space", "/lead", "trail/"]) {
    const error = invalid(
      () => defineAsset({ key, materialize: noop }),
      "definition.invalid_key",
      `'${key}'`,
    );
    assert.ok(error instanceof PlatformError);
    assert.equal(error.name, "InvalidDefinitionError");
    assert.equal(error.assetKey, key);
  }
});

Deno.test("defineAsset rejects a malformed dependency key, naming the asset", () => {
  invalid(
    () => defineAsset({ key: "b", deps: ["ok", "bad key"], materialize: noop }),
    "definition.invalid_key",
    "'b'",
    "'bad key'",
  );
});

Deno.test("defineAsset rejects a self-dependency", () => {
  const error = invalid(
    () => defineAsset({ key: "loop", deps: ["loop"], materialize: noop }),
    "definition.invalid_asset",
    "Asset 'loop'",
    "depends on itself",
  );
  assert.equal(error.assetKey, "loop");
});

Deno.test("defineAsset rejects a dependency listed twice", () => {
  invalid(
    () => defineAsset({ key: "b", deps: ["a", "a"], materialize: noop }),
    "definition.invalid_asset",
    "Asset 'b'",
    "listed twice",
  );
});

Deno.test("defineAsset rejects dependsOnPast without partitions", () => {
  invalid(
    () => defineAsset({ key: "p", dependsOnPast: true, materialize: noop }),
    "definition.invalid_asset",
    "Asset 'p'",
    "dependsOnPast needs partitions",
  );
  // With partitions it is fine.
  const ok = defineAsset({
    key: "p",
    dependsOnPast: true,
    partitions: dailyPartitions("2024-01-01"),
    materialize: noop,
  });
  assert.equal(ok.dependsOnPast, true);
});

Deno.test("defineAsset rejects bad group and tag names", () => {
  for (const group of ["", "has space", "9lives", "a/b"]) {
    invalid(
      () => defineAsset({ key: "a", group, materialize: noop }),
      "definition.invalid_asset",
      "Asset 'a'",
      `group '${group}'`,
    );
  }
  for (const tag of ["", "x y", "-dash", "a/b"]) {
    invalid(
      () => defineAsset({ key: "a", tags: ["fine", tag], materialize: noop }),
      "definition.invalid_asset",
      "Asset 'a'",
      `tag '${tag}'`,
    );
  }
  // Dots and dashes inside a name are allowed.
  assert.deepEqual(
    defineAsset({ key: "a", group: "g.v-1", tags: ["t.v-2"], materialize: noop }).tags,
    ["t.v-2"],
  );
});

Deno.test("defineAsset rejects a bad retry policy, naming the asset and the field", () => {
  invalid(
    () => defineAsset({ key: "r", retry: { maxAttempts: 0 }, materialize: noop }),
    "definition.invalid_asset",
    "Asset 'r'",
    "retry.maxAttempts",
  );
  invalid(
    () => defineAsset({ key: "r", retry: { maxAttempts: 2, jitter: 2 }, materialize: noop }),
    "definition.invalid_asset",
    "Asset 'r'",
    "retry.jitter",
  );
  invalid(
    () => defineAsset({ key: "r", retry: { delayMs: -5 }, materialize: noop }),
    "definition.invalid_asset",
    "retry.delayMs",
  );
});

Deno.test("defineAsset rejects two checks with the same name", () => {
  invalid(
    () =>
      defineAsset({
        key: "c",
        checks: [{ name: "rows", run: () => true }, { name: "rows", run: () => false }],
        materialize: noop,
      }),
    "definition.invalid_asset",
    "Asset 'c'",
    "two checks share a name",
  );
});

Deno.test("defineAsset rejects a check with a malformed name", () => {
  const error = invalid(
    () =>
      defineAsset({ key: "c", checks: [{ name: "not ok", run: () => true }], materialize: noop }),
    "definition.invalid_check",
    "'not ok'",
    "'c'",
  );
  assert.equal(error.assetKey, "c");
});

Deno.test("defineAsset rejects a materialize that is not a function", () => {
  invalid(
    () => defineAsset({ key: "m", materialize: "nope" as unknown as () => void }),
    "definition.invalid_asset",
    "Asset 'm'",
    "materialize must be a function",
  );
});

Deno.test("defineAsset fills defaults and freezes the definition", () => {
  const asset = defineAsset({ key: "plain", materialize: () => ({ rows: 1 }) });
  assert.equal(asset.key, "plain");
  assert.deepEqual(asset.deps, []);
  assert.equal(asset.group, "default");
  assert.deepEqual(asset.tags, []);
  assert.equal(asset.description, "");
  assert.equal(asset.partitions, undefined);
  assert.equal(asset.dependsOnPast, false);
  assert.deepEqual(asset.retry, NO_RETRY);
  assert.equal(asset.retry.maxAttempts, 1);
  assert.equal(asset.codeVersion, null);
  assert.deepEqual(asset.resources, []);
  assert.deepEqual(asset.checks, []);
  assert.deepEqual(asset.metadata, {});
  assert.ok(Object.isFrozen(asset));
  assert.ok(Object.isFrozen(asset.deps));
  assert.ok(Object.isFrozen(asset.metadata));
});

Deno.test("defineAsset keeps what the spec declares, copied", () => {
  const deps = ["up"];
  const places = staticPartitions(["billings", "bozeman"]);
  const asset = defineAsset({
    key: "marts/full",
    deps,
    group: "marts",
    tags: ["daily", "gold"],
    description: "All of it",
    partitions: places,
    retry: { maxAttempts: 3, backoff: "linear", delayMs: 10 },
    codeVersion: "v2",
    metadata: { owner: "data" },
    checks: [{
      name: "rows",
      description: "has rows",
      severity: "warn",
      blocking: true,
      run: () => true,
    }],
    materialize: noop,
  });
  deps.push("other");
  assert.deepEqual(asset.deps, ["up"]);
  assert.equal(asset.group, "marts");
  assert.deepEqual(asset.tags, ["daily", "gold"]);
  assert.equal(asset.description, "All of it");
  assert.equal(asset.partitions, places);
  assert.deepEqual(asset.retry, { ...NO_RETRY, maxAttempts: 3, backoff: "linear", delayMs: 10 });
  assert.equal(asset.codeVersion, "v2");
  assert.deepEqual(asset.metadata, { owner: "data" });
  assert.equal(asset.checks.length, 1);
  const [check] = asset.checks;
  assert.equal(check?.assetKey, "marts/full");
  assert.equal(check?.name, "rows");
  assert.equal(check?.description, "has rows");
  assert.equal(check?.severity, "warn");
  assert.equal(check?.blocking, true);
});

Deno.test("check defaults: severity error, not blocking, no description", () => {
  const check = buildCheck("a", { name: "ok", run: () => true }, []);
  assert.equal(check.severity, "error");
  assert.equal(check.blocking, false);
  assert.equal(check.description, "");
  assert.deepEqual(check.resources, []);
  assert.ok(Object.isFrozen(check));
});

Deno.test("materialize keeps `this` bound to the spec", async () => {
  const spec = {
    key: "bound",
    rows: 7,
    materialize(this: { rows: number }) {
      return { rows: this.rows };
    },
  };
  const asset = defineAsset(spec);
  assert.deepEqual(await asset.materialize(buildAssetContext()), { rows: 7 });
});

Deno.test("checkFactory validates the asset key and keeps resources", () => {
  const check = checkFactory<{ db: string }>();
  const def = check({
    asset: "marts/x",
    name: "unique_id",
    resources: ["db"],
    run: (ctx) => ctx.resources.db === "ok",
  });
  assert.equal(def.assetKey, "marts/x");
  assert.deepEqual(def.resources, ["db"]);
  invalid(
    () => check({ asset: "bad key", name: "n", run: () => true }),
    "definition.invalid_key",
    "'bad key'",
  );
});

interface AppResources {
  db: string;
  lake: number;
}

Deno.test("assetFactory types ctx.resources by the declared keys only", async () => {
  const asset = assetFactory<AppResources>();
  const def = asset({
    key: "typed",
    resources: ["db"],
    materialize: (ctx) => {
      const db: string = ctx.resources.db;
      // @ts-expect-error `lake` was not declared by this asset
      const lake = ctx.resources.lake;
      return { db, lake: lake ?? null };
    },
  });
  assert.deepEqual(def.resources, ["db"]);
  const ctx = buildAssetContext({ resources: { db: "pg" } });
  assert.deepEqual(await def.materialize(ctx), { db: "pg", lake: null });

  const both = asset({
    key: "both",
    resources: ["db", "lake"],
    checks: [{
      name: "lake_positive",
      run: (ctx) => {
        const n: number = ctx.resources.lake;
        return n > 0;
      },
    }],
    materialize: (ctx) => ({ db: ctx.resources.db, lake: ctx.resources.lake }),
  });
  assert.deepEqual(both.resources, ["db", "lake"]);
  assert.deepEqual(both.checks[0]?.resources, ["db", "lake"]);

  const none = asset({
    key: "none",
    materialize: (ctx) => {
      // @ts-expect-error an asset that declares nothing sees no resources
      return { db: ctx.resources.db ?? null };
    },
  });
  assert.deepEqual(none.resources, []);

  // @ts-expect-error `warehouse` is not a resource of the application
  asset({ key: "unknown_resource", resources: ["warehouse"], materialize: noop });

  // @ts-expect-error defineAsset declares no resources at all
  defineAsset({ key: "no_resources", resources: ["db"], materialize: noop });
});
