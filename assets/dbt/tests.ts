/**
 * dbt data tests: the four generic tests (not_null, unique, accepted_values,
 * relationships) compiled to SQL that returns failing rows, and running any
 * test (generic or singular) to count its failures.
 *
 * @module
 */

import type { WarehouseSession } from "../../resources/warehouse/mod.ts";
import { digest } from "./_files.ts";
import type { YamlFile } from "./_yaml.ts";
import type { TestNode } from "./compile.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { quote } from "./jinja.ts";
import type { GenericTestSpec } from "./schema_yml.ts";

/** The generic tests this runner knows. */
export const GENERIC_TESTS = ["not_null", "unique", "accepted_values", "relationships"] as const;

/** A relation a test reads: its SQL name and how to wrap SQL with its ephemeral CTEs. */
export interface TestRelation {
  /** Unique id of the model or source. */
  readonly uniqueId: string;
  /** How it prints in SQL. */
  readonly sql: string;
  /** Adds the CTEs the relation needs (ephemeral models) in front of `sql`. */
  readonly prelude: (sql: string) => string;
}

/** What {@linkcode compileGenericTest} needs. */
export interface GenericTestInput {
  /** The test as declared. */
  readonly spec: GenericTestSpec;
  /** Project name, for unique ids. */
  readonly projectName: string;
  /** The model (or source) tested. */
  readonly subject: { readonly name: string; readonly relation: TestRelation };
  /** The YAML file declaring it, for line numbers. */
  readonly yaml: YamlFile<unknown>;
  /** Resolves a `ref('x')` in `to:`. */
  readonly resolveRef: (name: string) => TestRelation | undefined;
  /** Resolves a `source('s', 't')` in `to:`. */
  readonly resolveSource: (source: string, table: string) => TestRelation | undefined;
}

/**
 * Compiles one generic test to a {@linkcode TestNode}. Throws `dbt.invalid_yaml`
 * naming the YAML line for an unknown test, a missing column or argument, or
 * a `to:` that names no model or source.
 */
export function compileGenericTest(input: GenericTestInput): TestNode {
  const { spec, subject, yaml } = input;
  const line = yaml.lineOf(spec.yamlPath);
  const fail = (message: string, code: string = DbtErrorCode.invalidYaml): never => {
    throw new DbtError(code, `test '${spec.testName}' on '${subject.name}': ${message}`, {
      file: yaml.file,
      line,
    });
  };
  if (!(GENERIC_TESTS as readonly string[]).includes(spec.testName)) {
    fail(`unknown generic test; this runner supports ${GENERIC_TESTS.join(", ")}`);
  }
  const column = spec.columnName ?? fail("no column: declare it under a column or set column_name");
  const col = quoteColumn(column);
  const from = spec.config.where
    ? `(select * from ${subject.relation.sql} where ${spec.config.where}) dbt_subquery`
    : subject.relation.sql;
  const dependsOn = [subject.relation.uniqueId];
  let sql: string;
  let suffix = "";
  let prelude = subject.relation.prelude;
  switch (spec.testName) {
    case "not_null":
      sql = `select *\nfrom ${from}\nwhere ${col} is null`;
      break;
    case "unique":
      sql = `select ${col} as unique_field, count(*) as n_records\nfrom ${from}\n` +
        `where ${col} is not null\ngroup by ${col}\nhaving count(*) > 1`;
      break;
    case "accepted_values": {
      const values = spec.kwargs.values;
      if (!Array.isArray(values) || values.length === 0) {
        return fail("needs 'values:', a non-empty list");
      }
      const quoteValues = spec.kwargs.quote !== false;
      const list = values.map((v) => quoteValues ? literal(String(v)) : String(v)).join(", ");
      sql = `with all_values as (\n  select ${col} as value_field, count(*) as n_records\n` +
        `  from ${from}\n  group by ${col}\n)\nselect *\nfrom all_values\n` +
        `where value_field not in (${list})`;
      suffix = `__${values.map(String).join("__")}`;
      break;
    }
    case "relationships": {
      const to = spec.kwargs.to;
      const field = spec.kwargs.field;
      if (typeof to !== "string") return fail("needs 'to:', e.g. ref('parent_model')");
      if (typeof field !== "string") return fail("needs 'field:', the parent's column");
      const parent = parseTo(to, input) ??
        fail(`'to: ${to}' names no model or source of this project`, DbtErrorCode.unknownRef);
      dependsOn.push(parent.uniqueId);
      const inner = prelude;
      prelude = (s) => parent.prelude(inner(s));
      sql = `with child as (\n  select ${col} as from_field\n  from ${from}\n` +
        `  where ${col} is not null\n),\nparent as (\n  select ${
          quoteColumn(field)
        } as to_field\n` +
        `  from ${parent.sql}\n)\nselect from_field\nfrom child\n` +
        `left join parent on child.from_field = parent.to_field\nwhere parent.to_field is null`;
      suffix = `__${field}__${to.replace(/[^A-Za-z0-9_]+/g, "_")}`;
      break;
    }
    default:
      return fail("unknown generic test");
  }
  const name = testName(`${spec.testName}_${subject.name}_${column}${suffix}`);
  return {
    uniqueId: `test.${input.projectName}.${name}.${
      digest(`${yaml.file}:${name}`, "md5").slice(0, 10)
    }`,
    name,
    kind: "generic",
    testName: spec.testName,
    file: yaml.file,
    line,
    attachedTo: subject.relation.uniqueId,
    columnName: column,
    kwargs: { ...spec.kwargs, column_name: column },
    severity: spec.config.severity ?? "error",
    description: "",
    dependsOn,
    rawCode: `{{ test_${spec.testName}(**_dbt_generic_test_kwargs) }}`,
    compiledCode: prelude(sql),
  };
}

function parseTo(to: string, input: GenericTestInput): TestRelation | undefined {
  const ref = /^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(to);
  if (ref?.[1]) return input.resolveRef(ref[1]);
  const source = /^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(to);
  if (source?.[1] && source[2]) return input.resolveSource(source[1], source[2]);
  return undefined;
}

/** A column name as written: quoted unless it is a plain lowercase identifier or an expression. */
function quoteColumn(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) || /[()\s]/.test(name) ? name : quote(name);
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** dbt-style test name: safe characters, long ones shortened with a hash. */
function testName(full: string): string {
  const safe = full.replace(/[^A-Za-z0-9_]+/g, "_");
  return safe.length <= 63 ? safe : `${safe.slice(0, 40)}_${digest(safe, "md5").slice(0, 12)}`;
}

/** Outcome of running one test. */
export interface TestOutcome {
  /** dbt status: `pass`, `fail` (error severity), `warn` (warn severity) or `error` (bad SQL). */
  readonly status: "pass" | "fail" | "warn" | "error";
  /** Failing rows (0 when it passes; null when the SQL failed). */
  readonly failures: number | null;
  /** Why it failed, or null. */
  readonly message: string | null;
  /** Wall time in milliseconds. */
  readonly durationMs: number;
}

/**
 * Runs a test: counts the rows its SQL returns. Never throws for a failing
 * test or bad SQL; returns the status dbt would report.
 */
export async function runTest(warehouse: WarehouseSession, test: TestNode): Promise<TestOutcome> {
  const started = performance.now();
  try {
    const [row] = await warehouse.query<{ failures: number | bigint | string }>(
      `select count(*) as failures from (\n${test.compiledCode}\n) dbt_internal_test`,
    );
    const failures = Number(row?.failures ?? 0);
    const status = failures === 0 ? "pass" : test.severity === "warn" ? "warn" : "fail";
    return {
      status,
      failures,
      message: failures === 0
        ? null
        : `Got ${failures} result${failures === 1 ? "" : "s"}, configured to ${
          test.severity === "warn" ? "warn" : "fail"
        } if != 0`,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    const wrapped = new DbtError(
      DbtErrorCode.testFailed,
      `test '${test.name}' could not run: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { file: test.file, line: test.line },
      error,
    );
    return {
      status: "error",
      failures: null,
      message: wrapped.message,
      durationMs: performance.now() - started,
    };
  }
}
