/**
 * Data tests compiled to SQL that returns failing rows: the four built-in
 * generic tests (not_null, unique, accepted_values, relationships), custom
 * generic tests written as `{% test name(model, column_name) %}` in the
 * project or a package (`package.test_name` in YAML), and singular tests
 * (SQL files, whose `{{ config(severity=...) }}` counts). Thresholds
 * (`warn_if`, `error_if`, `fail_calc`, `limit`, `store_failures`) are
 * resolved here and applied when the test runs.
 *
 * @module
 */

import {
  type GenericTestNames,
  genericTestNames,
  isTestArgument,
  testHashInput,
  testIdHash,
  type TestTarget,
} from "./test_names.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import {
  type CompiledTemplate,
  type JinjaEnv,
  QueryNeeded,
  type RenderScope,
} from "../jinja/env.ts";
import { pyRepr } from "../jinja/py_repr.ts";
import type { TestNode, TestThresholds } from "../nodes.ts";
import { quote, Relation } from "../relation.ts";
import { parseRefText } from "./ref_text.ts";
import type { GenericTestSpec } from "../project/schema_yml.ts";
import type { YamlFile } from "../project/yaml.ts";

/** The generic tests built in. */
export const GENERIC_TESTS = ["not_null", "unique", "accepted_values", "relationships"] as const;

/** A relation a test reads: its SQL name and how to wrap SQL with its ephemeral CTEs. */
export interface TestRelation {
  /** Unique id of the node or source. */
  readonly uniqueId: string;
  /** The relation. */
  readonly relation: Relation;
  /** Adds the CTEs the relation needs (ephemeral models) in front of `sql`. */
  readonly prelude: (sql: string) => string;
}

/** What test compilation needs from the loader. */
export interface TestContext {
  /** Root project name. */
  readonly projectName: string;
  /** The Jinja environment (custom generic tests are macros). */
  readonly jinja: JinjaEnv;
  /** Resolves `ref('x')`. */
  readonly resolveRef: (name: string) => TestRelation | undefined;
  /** Resolves `source('s', 't')`. */
  readonly resolveSource: (source: string, table: string) => TestRelation | undefined;
  /** A compile-flavour scope whose `ref`/`source` record what the test reads. */
  readonly scope: (packageName: string, reads: Set<string>) => RenderScope;
  /** Config of `tests:`/`data_tests:` in dbt_project.yml for a test at this fqn path. */
  readonly projectConfig: (
    packageName: string,
    fqnPath: readonly string[],
  ) => Record<string, unknown>;
  /** Audit schema (`<target schema>_dbt_test__audit`). */
  readonly auditSchema: string;
  /** Database name. */
  readonly database: string;
  /**
   * The folders of a package's file below its resource path
   * (`models/staging/schema.yml` -> `["staging"]`): a test's fqn is its
   * package, these folders and its name, as in dbt.
   */
  readonly foldersOf: (packageName: string, file: string) => readonly string[];
  /**
   * `jinja.findMacro` of a test macro (`test_<name>`, in `namespace`), asked
   * once per name in a load rather than once per test.
   */
  readonly testMacro?: (
    name: string,
    namespace: string | undefined,
  ) => { readonly file: string; readonly packageName: string } | undefined;
}

/** What {@linkcode compileGenericTest} needs about one declaration. */
export interface GenericTestInput {
  /** The test as declared. */
  readonly spec: GenericTestSpec;
  /** Package declaring it. */
  readonly packageName: string;
  /** The node (or source) tested. */
  readonly subject: {
    readonly name: string;
    readonly relation: TestRelation;
    readonly target: TestTarget;
  };
  /** The YAML file declaring it, for line numbers. */
  readonly yaml: YamlFile<unknown>;
}

/** dbt's thresholds of a test whose config sets none (most tests): one shared, frozen object. */
const DEFAULT_THRESHOLDS: TestThresholds = Object.freeze({
  warnIf: "!= 0",
  errorIf: "!= 0",
  failCalc: "count(*)",
  limit: null,
  storeFailures: null,
});

/** The tags of a test that sets none: one shared, frozen list. */
const NO_TAGS: readonly string[] = Object.freeze([]);

function isEmpty(value: object): boolean {
  for (const _ in value) return false;
  return true;
}

/** Thresholds from a test's resolved config. */
export function thresholdsOf(
  config: Readonly<Record<string, unknown>>,
  file: string,
): TestThresholds {
  if (
    config.warn_if === undefined && config.error_if === undefined &&
    config.fail_calc === undefined && config.limit === undefined &&
    config.store_failures === undefined
  ) return DEFAULT_THRESHOLDS;
  const condition = (key: string): string => {
    const value = config[key] ?? "!= 0";
    const text = String(value).trim();
    if (!/^(=|==|!=|<>|>=|<=|>|<)\s*-?\d+(\.\d+)?$/.test(text)) {
      throw new DbtError(
        DbtErrorCode.invalidYaml,
        `${key}: ${shown(value)} is not a condition on the failure count (e.g. '>10', '!= 0')`,
        { file },
      );
    }
    return text;
  };
  const limit = config.limit;
  return {
    warnIf: condition("warn_if"),
    errorIf: condition("error_if"),
    // A macro's config() may pass a block set's text (`{% set calc %}...{% endset %}`).
    failCalc: config.fail_calc === undefined || config.fail_calc === null
      ? "count(*)"
      : String(config.fail_calc),
    limit: typeof limit === "number" && Number.isInteger(limit) && limit > 0 ? limit : null,
    storeFailures: typeof config.store_failures === "boolean" ? config.store_failures : null,
  };
}

/**
 * A YAML value as dbt (Python) would print it: String() made a mapping
 * '[object Object]' in the messages below.
 */
function shown(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : pyRepr(value);
}

function severityOf(value: unknown, file: string): "warn" | "error" {
  if (value === undefined || value === null) return "error";
  const text = String(value).toLowerCase();
  if (text === "warn" || text === "error") return text;
  throw new DbtError(
    DbtErrorCode.invalidYaml,
    `severity ${shown(value)} must be warn or error`,
    { file },
  );
}

/**
 * Compiles one generic test to a {@linkcode TestNode}. Throws `dbt.invalid_yaml`
 * naming the YAML line for an unknown test, a missing column or argument, or
 * a `to:` that names no model or source.
 */
export function compileGenericTest(input: GenericTestInput, ctx: TestContext): TestNode {
  const { spec, subject, yaml } = input;
  // Lines are worked out only when read (an error, a description): see project/yaml.ts.
  const line = () => yaml.lineOf(spec.yamlPath);
  const fail = (message: string, code: string = DbtErrorCode.invalidYaml): never => {
    throw new DbtError(code, `test '${spec.testName}' on '${subject.name}': ${message}`, {
      file: yaml.file,
      line: line(),
    });
  };
  const dot = spec.testName.lastIndexOf(".");
  const namespace = dot > 0 ? spec.testName.slice(0, dot) : undefined;
  const shortName = dot > 0 ? spec.testName.slice(dot + 1) : spec.testName;
  const custom = ctx.testMacro
    ? ctx.testMacro(shortName, namespace)
    : ctx.jinja.findMacro(`test_${shortName}`, namespace);
  const builtin = namespace === undefined &&
    (GENERIC_TESTS as readonly string[]).includes(shortName);
  if (!custom && !builtin) {
    fail(
      namespace
        ? `no {% test ${shortName} %} in package '${namespace}' (is it installed? run deps)`
        : `unknown generic test; built in: ${GENERIC_TESTS.join(", ")}; ` +
          `or write {% test ${shortName}(model, column_name) %} in the macros`,
    );
  }
  const column = spec.columnName;
  const where = typeof spec.config.where === "string" ? spec.config.where : undefined;
  const from = where
    ? `(select * from ${subject.relation.relation} where ${where}) dbt_subquery`
    : subject.relation.relation.toString();
  const dependsOn = [subject.relation.uniqueId];
  let prelude = subject.relation.prelude;
  // Whether an ephemeral model's SQL is rendered into the test (as CTEs).
  let ephemeral = subject.relation.relation.cte !== undefined;
  // The SQL text of a built-in test is written on first use (30k tests of a big project are
  // mostly never printed); everything that can fail is checked here, at load.
  let sql: () => string;
  let renderSql: TestNode["renderSql"];
  const macroConfig: Record<string, unknown> = {};
  if (custom && !(builtin && custom.packageName === "dbt")) {
    const reads = new Set<string>();
    const model = where
      ? {
        toString: () => from,
        schema: subject.relation.relation.schema,
        identifier: subject.relation.relation.identifier,
      }
      : subject.relation.relation;
    // `{{ config(fail_calc=...) }}` in the test's macro (dbt_utils' equal_rowcount, equality,
    // fewer_rows_than) configures the test, as dbt's parse of the macro records it.
    const scope = {
      ...ctx.scope(input.packageName, reads),
      config: (values: Readonly<Record<string, unknown>>) => {
        Object.assign(macroConfig, values);
      },
    };
    // The macro gets the test's arguments only, as dbt calls it: a custom `name:` is not one
    // (Jinja2 refuses a keyword the macro does not declare).
    const kwargs = Object.fromEntries(
      Object.entries(spec.kwargs).filter(([key]) => isTestArgument(key)).map(([key, value]) => [
        key,
        testArgument(value, ctx, reads, scope, yaml.file),
      ]),
    );
    const macroArgs = {
      ...kwargs,
      model,
      ...(column === undefined ? {} : { column_name: column }),
    };
    const macroName = `test_${shortName}`;
    let rendered: string;
    try {
      rendered = ctx.jinja.callMacroWith(macroName, namespace, macroArgs, {
        ...scope,
        answers: [],
      });
    } catch (error) {
      if (!(error instanceof QueryNeeded)) throw error;
      // The macro reads the warehouse (the model's columns...): it is rendered again when the
      // test runs, with the answers; until then, its SQL as dbt's parse gives it.
      rendered = ctx.jinja.callMacroWith(macroName, namespace, macroArgs, {
        ...scope,
        execute: false,
      });
      const runScope = scope;
      renderSql = async (query) =>
        prelude(
          (await ctx.jinja.callMacroAsync(macroName, namespace, macroArgs, runScope, query)).trim(),
        );
    }
    sql = () => rendered;
    for (const id of reads) if (!dependsOn.includes(id)) dependsOn.push(id);
    for (const id of reads) {
      const parent = id.startsWith("source.")
        ? undefined
        : ctx.resolveRef(id.split(".").at(-1) ?? "");
      if (parent && parent.uniqueId !== subject.relation.uniqueId) {
        ephemeral ||= parent.relation.cte !== undefined;
        const inner = prelude;
        prelude = (s) => parent.prelude(inner(s));
      }
    }
  } else {
    const named = column ?? fail("no column: declare it under a column or set column_name");
    const col = spec.columnQuote ? quote(named) : quoteColumn(named);
    switch (shortName) {
      case "not_null":
        sql = () => `select *\nfrom ${from}\nwhere ${col} is null`;
        break;
      case "unique":
        sql = () =>
          `select ${col} as unique_field, count(*) as n_records\nfrom ${from}\n` +
          `where ${col} is not null\ngroup by ${col}\nhaving count(*) > 1`;
        break;
      case "accepted_values": {
        const values = spec.kwargs.values;
        if (!Array.isArray(values) || values.length === 0) {
          return fail("needs 'values:', a non-empty list");
        }
        const quoteValues = spec.kwargs.quote !== false;
        const list = values.map((v) => quoteValues ? literal(String(v)) : String(v)).join(", ");
        sql = () =>
          `with all_values as (\n  select ${col} as value_field, count(*) as n_records\n` +
          `  from ${from}\n  group by ${col}\n)\nselect *\nfrom all_values\n` +
          `where value_field not in (${list})`;
        break;
      }
      default: {
        const to = spec.kwargs.to;
        const field = spec.kwargs.field;
        if (typeof to !== "string") return fail("needs 'to:', e.g. ref('parent_model')");
        if (typeof field !== "string") return fail("needs 'field:', the parent's column");
        const parent = parseTo(to, ctx, yaml.file) ??
          fail(`'to: ${to}' names no model or source of this project`, DbtErrorCode.unknownRef);
        if (!dependsOn.includes(parent.uniqueId)) dependsOn.push(parent.uniqueId);
        ephemeral ||= parent.relation.cte !== undefined;
        const inner = prelude;
        prelude = (s) => parent.prelude(inner(s));
        sql = () =>
          `with child as (\n  select ${col} as from_field\n  from ${from}\n` +
          `  where ${col} is not null\n),\nparent as (\n  select ${
            quoteColumn(field)
          } as to_field\n` +
          `  from ${parent.relation}\n)\nselect from_field\nfrom child\n` +
          `left join parent on child.from_field = parent.to_field\nwhere parent.to_field is null`;
      }
    }
  }
  const names = genericTestNames({
    testName: shortName,
    namespace,
    target: subject.target,
    columnName: column,
    kwargs: spec.kwargs,
  });
  const name = names.name;
  // concat: an exact-size array (a spread literal keeps ~130 bytes of slack per test, for life).
  const fqn = [input.packageName].concat(ctx.foldersOf(input.packageName, yaml.file), name);
  const projectConfig = ctx.projectConfig(input.packageName, fqn.slice(1));
  // The macro's config() calls come after the YAML's config, as in dbt's parse.
  const config: Readonly<Record<string, unknown>> = isEmpty(projectConfig) && isEmpty(macroConfig)
    ? spec.config
    : { ...projectConfig, ...spec.config, ...macroConfig };
  let compiledCode: string | undefined;
  if (ephemeral) {
    // An ephemeral model's SQL is rendered into the test: its Jinja errors belong to the load.
    compiledCode = prelude(sql().trim());
  }
  return new GenericTestNode({
    names,
    fqn,
    packageName: input.packageName,
    testName: shortName,
    testNamespace: namespace ?? null,
    file: yaml.file,
    line,
    attachedTo: subject.relation.uniqueId,
    columnName: column,
    severity: severityOf(config.severity, yaml.file),
    thresholds: thresholdsOf(config, yaml.file),
    tags: testTags(spec.columnTags, config.tags),
    dependsOn,
    sql: () => prelude(sql().trim()),
    renderSql,
    compiledCode,
    database: ctx.database,
    auditSchema: ctx.auditSchema,
  });
}

/**
 * A generic test's `raw_code`, one string per test name: made per test, each
 * of a big project's 30k tests kept a concatenation of its own (two string
 * objects, ~64 bytes, for the life of the project).
 */
function rawCodeOf(testName: string): string {
  let text = RAW_CODES.get(testName);
  if (text === undefined) {
    text = `{{ test_${testName}(**_dbt_generic_test_kwargs) }}`;
    RAW_CODES.set(testName, text);
  }
  return text;
}

const RAW_CODES = new Map<string, string>();

/** What {@linkcode GenericTestNode} is made from. */
interface GenericTestInit {
  readonly names: GenericTestNames;
  readonly fqn: readonly string[];
  readonly packageName: string;
  readonly testName: string;
  readonly testNamespace: string | null;
  readonly file: string;
  readonly line: () => number | undefined;
  readonly attachedTo: string;
  readonly columnName: string | undefined;
  readonly severity: "warn" | "error";
  readonly thresholds: TestThresholds;
  readonly tags: readonly string[];
  readonly dependsOn: readonly string[];
  /** Its SQL with the CTEs it needs, when first read. */
  readonly sql: () => string;
  /** Its SQL when made at load already (an ephemeral parent). */
  readonly compiledCode: string | undefined;
  /** Renders its SQL at run time (its macro reads the warehouse). */
  readonly renderSql: TestNode["renderSql"];
  readonly database: string;
  readonly auditSchema: string;
}

/**
 * A generic test. A class rather than an object literal with getters: a
 * big project makes 30k of them per load, and a literal with accessors is
 * built property by property with new closures each time (measured: 30k
 * such literals 360-460 ms, 30k instances 60-200 ms, at load 8). The unique
 * id (dbt's md5, ~5 µs), the SQL, the line and the audit relation are
 * worked out when first read, and so is the identity (the md5's input):
 * most of 30k tests need none of them at load.
 */
class GenericTestNode implements TestNode {
  readonly name: string;
  readonly alias: string;
  readonly fqn: readonly string[];
  readonly packageName: string;
  readonly kind = "generic";
  readonly testName: string;
  readonly testNamespace: string | null;
  readonly file: string;
  readonly attachedTo: string;
  readonly columnName: string | undefined;
  readonly severity: "warn" | "error";
  readonly thresholds: TestThresholds;
  readonly tags: readonly string[];
  readonly description = "";
  readonly dependsOn: readonly string[];
  readonly rawCode: string;
  readonly renderSql: TestNode["renderSql"];
  readonly #init: GenericTestInit;
  #identity: string | undefined;
  #kwargs: Readonly<Record<string, unknown>> | undefined;
  #uniqueId: string | undefined;
  #compiledCode: string | undefined;
  #auditRelation: Relation | undefined;

  constructor(init: GenericTestInit) {
    this.#init = init;
    this.name = init.names.name;
    this.alias = init.names.alias;
    this.fqn = init.fqn;
    this.packageName = init.packageName;
    this.testName = init.testName;
    this.testNamespace = init.testNamespace;
    this.file = init.file;
    this.attachedTo = init.attachedTo;
    this.columnName = init.columnName;
    this.severity = init.severity;
    this.thresholds = init.thresholds;
    this.tags = init.tags;
    this.dependsOn = init.dependsOn;
    this.rawCode = rawCodeOf(init.testName);
    this.#compiledCode = init.compiledCode;
    this.renderSql = init.renderSql;
  }

  /** Its arguments as written, with its column. */
  get kwargs(): Readonly<Record<string, unknown>> {
    const column = this.columnName;
    return this.#kwargs ??= column === undefined
      ? { ...this.#init.names.declaration.kwargs }
      : { ...this.#init.names.declaration.kwargs, column_name: column };
  }

  get identity(): string {
    return this.#identity ??= testHashInput(this.#init.names);
  }

  get uniqueId(): string {
    return this.#uniqueId ??= `test.${this.packageName}.${this.name}.${testIdHash(this.identity)}`;
  }

  get line(): number | undefined {
    return this.#init.line();
  }

  get compiledCode(): string {
    return this.#compiledCode ??= this.#init.sql();
  }

  /** Made when read (store_failures): most of 30k tests never need it. */
  get auditRelation(): Relation {
    return this.#auditRelation ??= new Relation(
      this.#init.database,
      this.#init.auditSchema,
      this.alias,
    );
  }
}

/** What a singular test file compiles to, before its node is made. */
export interface SingularTestInput {
  /** Test name (the file stem). */
  readonly name: string;
  /** Package. */
  readonly packageName: string;
  /** File. */
  readonly file: string;
  /** Path under the test path. */
  readonly path: string;
  /** Its SQL as written. */
  readonly text: string;
  /** The compiled template. */
  readonly template: CompiledTemplate;
  /** Properties from YAML (`data_tests:` entries): severity, description... */
  readonly yamlConfig: Readonly<Record<string, unknown>>;
  /** Description from YAML. */
  readonly description: string;
}

/**
 * Compiles a singular test. Its config comes from dbt_project.yml, then its
 * YAML entry, then `{{ config(...) }}` in the file (which wins, as in dbt).
 */
export function compileSingularTest(
  input: SingularTestInput,
  ctx: TestContext,
  ctes: (sql: string, refs: readonly string[]) => string,
): TestNode {
  const reads = new Set<string>();
  const inline: Record<string, unknown> = {};
  const refs: string[] = [];
  const base = ctx.scope(input.packageName, reads);
  const scope: RenderScope = {
    ...base,
    ref: (name, pkg) => {
      if (!refs.includes(name)) refs.push(name);
      return base.ref(name, pkg);
    },
    config: (values) => Object.assign(inline, values),
    configGet: (key) => inline[key],
  };
  let sql: string;
  let renderSql: TestNode["renderSql"];
  try {
    sql = ctx.jinja.render(input.template, { ...scope, answers: [] });
  } catch (error) {
    if (!(error instanceof QueryNeeded)) throw error;
    // It reads the warehouse (run_query, a relation's columns): rendered again when it runs.
    sql = ctx.jinja.render(input.template, { ...scope, execute: false });
    renderSql = async (query) =>
      ctes((await ctx.jinja.renderAsync(input.template, scope, query)).trim(), refs);
  }
  const config = {
    ...ctx.projectConfig(input.packageName, [...input.path.split("/").slice(0, -1), input.name]),
    ...input.yamlConfig,
    ...inline,
  };
  return {
    uniqueId: `test.${input.packageName}.${input.name}`,
    identity: `test.${input.packageName}.${input.name}`,
    name: input.name,
    alias: input.name,
    fqn: [input.packageName, ...input.path.split("/").slice(0, -1), input.name],
    packageName: input.packageName,
    kind: "singular",
    testName: undefined,
    testNamespace: null,
    file: input.file,
    line: 1,
    attachedTo: undefined,
    columnName: undefined,
    kwargs: {},
    severity: severityOf(config.severity, input.file),
    thresholds: thresholdsOf(config, input.file),
    tags: config.tags === undefined ? [] : [config.tags].flat().map(String),
    description: input.description,
    dependsOn: [...reads],
    rawCode: input.text,
    compiledCode: ctes(sql.trim(), refs),
    renderSql,
    auditRelation: new Relation(ctx.database, ctx.auditSchema, input.name),
  };
}

/**
 * A generic test's argument as dbt passes it to the test macro: a string
 * that is a `ref(...)` or `source(...)` call becomes that relation (as in
 * `compare_model: ref('orders')`, which the test then depends on); a string
 * with Jinja is rendered; anything else is passed as written.
 */
function testArgument(
  value: unknown,
  ctx: TestContext,
  reads: Set<string>,
  scope: RenderScope,
  file: string,
): unknown {
  if (typeof value !== "string") return value;
  if (/^\s*(ref|source)\(/.test(value)) {
    const target = parseTo(value, ctx, file);
    if (!target) {
      throw new DbtError(
        DbtErrorCode.unknownRef,
        `test argument '${value}' names no model, seed, snapshot or source of this project`,
        { file },
      );
    }
    reads.add(target.uniqueId);
    return target.relation;
  }
  if (!value.includes("{{") && !value.includes("{%")) return value;
  return ctx.jinja.render(ctx.jinja.compile(value, file), scope);
}

function parseTo(to: string, ctx: TestContext, file: string): TestRelation | undefined {
  const ref = parseRefText(to);
  if (ref) {
    try {
      return ctx.resolveRef(ctx.jinja.resolveRef(ref.name, ref.version));
    } catch (e) {
      // A version the model does not have: say which it has, in the test's file.
      if (!(e instanceof RangeError)) throw e;
      throw new DbtError(DbtErrorCode.unknownRef, `'${to}': ${e.message}`, { file });
    }
  }
  const source = /^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(to);
  if (source?.[1] && source[2]) return ctx.resolveSource(source[1], source[2]);
  return undefined;
}

/** A test's tags: its column's (dbt's parse_test block tags), then its config's. */
function testTags(
  columnTags: readonly string[] | undefined,
  configTags: unknown,
): readonly string[] {
  if (columnTags === undefined) {
    return configTags === undefined ? NO_TAGS : [configTags].flat().map(String);
  }
  return [...new Set([...columnTags, ...[configTags ?? []].flat().map(String)])];
}

/**
 * A column name as dbt passes it to a test: as written (`EMAIL` folds to email on Postgres, as
 * in dbt; quoting it looked for a column "EMAIL"), unless it cannot be an identifier or an
 * expression (`order-id`), where dbt's SQL would not parse either.
 */
function quoteColumn(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) || /[()\s]/.test(name) ? name : quote(name);
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
