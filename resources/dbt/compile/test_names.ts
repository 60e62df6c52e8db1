/**
 * dbt's names for generic tests, so unique ids, fqns and aliases match what
 * dbt-core writes (and `state:modified` against a dbt manifest, selection by
 * folder and dagster-dbt check names line up):
 *
 * - name: `<test>_<model>_<args>` where the arguments (sorted by name, the
 *   model left out, lists and dicts flattened) are cleaned to `[0-9a-zA-Z_]`
 *   and joined by `__`; a source's test is `source_<test>_<source>_<table>_...`
 *   and a package's `<package>_<test>_...`; a `name:` given in the YAML wins;
 * - alias (the compiled file and the relation of stored failures): the name,
 *   or when the name has 64 characters or more, its first 30 identifying
 *   characters and the md5 of the full name;
 * - unique id: `test.<package>.<name>.<hash>`, the hash being the last 10
 *   hex digits of md5(name + Python's repr of the test's metadata with every
 *   leaf turned into a string), as dbt-core's schema test parser computes it.
 *
 * @module
 */

import { digest } from "../_files.ts";
import { pyStr, reprString } from "../jinja/py_repr.ts";
import { TEST_CONFIG_ARGS } from "../project/schema_yml.ts";

/** Keys written beside a test's arguments that dbt reads as its config, not as arguments. */
const CONFIG_ARGS: ReadonlySet<string> = new Set([
  ...TEST_CONFIG_ARGS,
  "config",
  "description",
  "name",
]);

/**
 * Whether a key of a test's entry is an argument of its macro (dbt's
 * test_metadata.kwargs): not `name:`, `description:`, `config:` nor a config key.
 */
export function isTestArgument(key: string): boolean {
  return !CONFIG_ARGS.has(key);
}

/** What a generic test is declared on. */
export type TestTarget =
  | { readonly kind: "model"; readonly name: string }
  | { readonly kind: "source"; readonly sourceName: string; readonly table: string };

/** A generic test as declared, for {@linkcode genericTestNames}. */
export interface TestDeclaration {
  /** The test's own name (`not_null`, `accepted_range`). */
  readonly testName: string;
  /** Its package namespace (`dbt_utils`), when written `dbt_utils.accepted_range`. */
  readonly namespace: string | undefined;
  /** What it is declared on. */
  readonly target: TestTarget;
  /** The column it is declared under (or names with `column_name`). */
  readonly columnName: string | undefined;
  /** Its arguments as written in the YAML (configs may be among them). */
  readonly kwargs: Readonly<Record<string, unknown>>;
}

/** dbt's names of one generic test. */
export interface GenericTestNames {
  /** Node name (and last fqn part). */
  readonly name: string;
  /** Alias: the name, or its hashed short form when it has 64 characters or more. */
  readonly alias: string;
  /** What the names were made from: with the name, what its unique id hashes ({@linkcode testHashInput}). */
  readonly declaration: TestDeclaration;
}

/** The names dbt-core gives `test` (see the module doc). */
export function genericTestNames(test: TestDeclaration): GenericTestNames {
  const { target, kwargs, columnName } = test;
  const targetName = target.kind === "model" ? target.name : `${target.sourceName}_${target.table}`;
  const custom = kwargs.name;
  let name: string;
  let alias: string;
  if (typeof custom === "string" && custom !== "") {
    name = alias = custom;
  } else {
    // The keys of testArgs(test) but `model`, sorted, read without building that object: a
    // load names 30k tests, and their arguments are only needed again for the hash.
    const keys: string[] = [];
    for (const key of Object.keys(kwargs)) {
      if (!CONFIG_ARGS.has(key) && key !== "model") keys.push(key);
    }
    if (columnName !== undefined && !Object.hasOwn(kwargs, "column_name")) {
      keys.push("column_name");
    }
    const flat: string[] = [];
    for (const key of keys.sort()) {
      const value = key === "column_name" && columnName !== undefined ? columnName : kwargs[key];
      const parts = Array.isArray(value)
        ? value
        : typeof value === "object" && value !== null
        ? Object.values(value)
        : [value];
      for (const part of parts) flat.push(pyStr(part).replace(/[^0-9a-zA-Z_]+/g, "_"));
    }
    const type = `${test.namespace === undefined ? "" : `${test.namespace}_`}${
      target.kind === "source" ? "source_" : ""
    }${test.testName}`;
    const identifier = `${type}_${targetName}`;
    name = `${identifier}_${flat.join("__")}`;
    alias = name.length >= 64 ? `${identifier.slice(0, 30)}_${digest(name, "md5")}` : name;
  }
  return { name, alias, declaration: test };
}

/** dbt's arguments of a test: its kwargs but config keys, its column, and `model`. */
function testArgs(test: TestDeclaration): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(test.kwargs)) {
    if (isTestArgument(key)) args[key] = value;
  }
  if (test.columnName !== undefined) args.column_name = test.columnName;
  const { target } = test;
  args.model = `{{ get_where_subquery(${
    target.kind === "model"
      ? `ref('${target.name}')`
      : `source('${target.sourceName}', '${target.table}')`
  }) }}`;
  return args;
}

/**
 * The string whose md5 gives a test's unique id ({@linkcode testIdHash}):
 * its name followed by the repr of dbt's metadata of it (its arguments with
 * `model` and `column_name`, its name and namespace), which starts with `{`.
 * Built when asked for: a load of 30k tests needs none of them unless two
 * tests share a name (compile/compile_tests.ts).
 */
export function testHashInput(names: GenericTestNames): string {
  const test = names.declaration;
  // hashableRepr({ kwargs, name, namespace }) with its keys in their sorted order, written out.
  return `${names.name}{'kwargs': ${hashableRepr(testArgs(test))}, 'name': ${
    hashableRepr(test.testName)
  }, 'namespace': ${hashableRepr(test.namespace ?? null)}}`;
}

/** The 10 hex digits a generic test's unique id ends with. */
export function testIdHash(hashInput: string): string {
  return digest(hashInput, "md5").slice(-10);
}

/**
 * repr() of dbt-core's `get_hashable_md`: dicts sorted by key, every leaf made
 * a str. Concatenated in place (no array of parts per list and dict): 30k
 * test ids are hashed when the manifest is written.
 */
function hashableRepr(value: unknown): string {
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      // A hole prints as nothing, as Array#map + join printed it.
      out += (i === 0 ? "" : ", ") + (i in value ? hashableRepr(value[i]) : "");
    }
    return out + "]";
  }
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort();
    let out = "{";
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      out += `${i === 0 ? "" : ", "}${reprString(key)}: ${
        hashableRepr((value as Record<string, unknown>)[key])
      }`;
    }
    return out + "}";
  }
  return reprString(typeof value === "string" ? value : pyStr(value));
}
