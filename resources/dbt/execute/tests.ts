/**
 * Running data tests and unit tests: a data test counts its failing rows
 * with its `fail_calc`, then `error_if` / `warn_if` decide (dbt's rule: an
 * error-severity test errors when `error_if` holds, else warns when
 * `warn_if` holds, else passes; a warn-severity test never errors). With
 * `store_failures`, the failing rows are kept in the audit schema.
 *
 * @module
 */

import { type Clock, systemClock } from "../../../core/clock.ts";
import type { Warehouse } from "../../warehouse/types.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { TestNode, UnitTestNode } from "../nodes.ts";
import { quote } from "../relation.ts";
import { adapterOf } from "../adapters/adapter_for.ts";
import { isPyNumber } from "../jinja/py_number.ts";
import { queryRunner } from "./materialize.ts";
import { toError } from "../../../core/errors.ts";

/** Outcome of running one test. */
export interface TestOutcome {
  /** dbt status: `pass`, `fail`, `warn`, or `error` (bad SQL). */
  readonly status: "pass" | "fail" | "warn" | "error";
  /** Failures as `fail_calc` counts them (null when the SQL failed). */
  readonly failures: number | null;
  /** Why it failed, or null. */
  readonly message: string | null;
  /** Wall time in milliseconds. */
  readonly durationMs: number;
  /** The SQL run, when rendered at run time (a test whose macro reads the warehouse). */
  readonly compiledCode?: string;
}

/** Whether `count` satisfies a condition like `>10` or `!= 0`. */
export function holds(condition: string, count: number): boolean {
  const match = /^(=|==|!=|<>|>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)$/.exec(condition.trim());
  if (!match) throw new RangeError(`Cannot read the condition '${condition}'`);
  const n = Number(match[2]);
  switch (match[1]) {
    case "=":
    case "==":
      return count === n;
    case "!=":
    case "<>":
      return count !== n;
    case ">=":
      return count >= n;
    case "<=":
      return count <= n;
    case ">":
      return count > n;
    default:
      return count < n;
  }
}

/** The status dbt gives `failures` under a test's severity and thresholds. */
export function statusOf(test: TestNode, failures: number): "pass" | "fail" | "warn" {
  if (test.severity === "error" && holds(test.thresholds.errorIf, failures)) return "fail";
  if (holds(test.thresholds.warnIf, failures)) return "warn";
  return "pass";
}

/**
 * Runs a test. Never throws for a failing test or bad SQL; returns the
 * status dbt would report.
 */
export async function runTest(
  warehouse: Warehouse,
  test: TestNode,
  clock: Pick<Clock, "now"> = systemClock,
  storeFailuresFlag = false,
  warnError = false,
): Promise<TestOutcome> {
  const started = clock.now();
  const { failCalc, limit } = test.thresholds;
  // The test's own config wins; a test that says nothing follows --store-failures.
  const storeFailures = test.thresholds.storeFailures ?? storeFailuresFlag;
  let compiled = test.compiledCode;
  try {
    if (test.renderSql) compiled = await test.renderSql(queryRunner(warehouse));
    const inner = limit === null ? compiled : `${compiled}\nlimit ${limit}`;
    if (storeFailures) {
      const audit = test.auditRelation;
      await warehouse.ensureSchema(audit.schema);
      await warehouse.transaction(async (tx) => {
        await tx.execute(`drop table if exists ${audit}`);
        await tx.execute(`create table ${audit} as (\n${inner}\n)`);
      });
    }
    const from = storeFailures ? test.auditRelation.toString() : `(\n${inner}\n) dbt_internal_test`;
    const [row] = await warehouse.query<{ failures: number | bigint | string | null }>(
      `select ${failCalc} as failures from ${from}`,
    );
    const failures = Number(row?.failures ?? 0);
    const judged = statusOf(test, failures);
    // dbt's --warn-error: the test fails, its message still says the warn_if that was met.
    const status = warnError && judged === "warn" ? "fail" : judged;
    return {
      status,
      failures,
      message: status === "pass" ? null : `Got ${failures} result${failures === 1 ? "" : "s"}, ` +
        `configured to ${
          judged === "fail"
            ? `fail if ${test.thresholds.errorIf}`
            : `warn if ${test.thresholds.warnIf}`
        }` +
        (storeFailures ? `; failing rows in ${test.auditRelation}` : ""),
      durationMs: clock.now() - started,
      ...(test.renderSql ? { compiledCode: compiled } : {}),
    };
  } catch (error) {
    const wrapped = new DbtError(
      DbtErrorCode.testFailed,
      `test '${test.name}' could not run: ${toError(error).message}`,
      { file: test.file, line: test.line },
      error,
    );
    return {
      status: "error",
      failures: null,
      message: wrapped.message,
      durationMs: clock.now() - started,
    };
  }
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  // A YAML float with an integral value (`amount: 10.0`) is a boxed PyFloat: a number, written
  // as dbt writes it (`10.0`), not the text '10.0' (which no integer column casts).
  if (isPyNumber(value) || typeof value === "boolean") return String(value);
  return `'${String(value).replaceAll("'", "''")}'`;
}

interface TypedColumn {
  readonly name: string;
  readonly type: string | null;
}

/** Rows as `select cast(v as type) as c, ... union all ...`; missing columns are typed nulls. */
/**
 * The type of a given column whose relation does not exist yet (a unit test's
 * `input: this` before the model's first build), read from its values: all
 * whole numbers, all numbers, booleans, dates, timestamps; else none.
 */
function inferredType(
  rows: readonly Readonly<Record<string, unknown>>[],
  name: string,
): string | null {
  const values = rows.map((r) => r[name]).filter((v) => v !== null && v !== undefined);
  if (values.length === 0) return null;
  const all = (test: (v: unknown) => boolean) => values.every(test);
  const text = (v: unknown) => typeof v === "string" ? v : isPyNumber(v) ? String(v) : "";
  if (all((v) => typeof v === "boolean")) return "boolean";
  if (all((v) => /^-?\d{1,18}$/.test(text(v)))) return "bigint";
  if (all((v) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text(v)))) return "numeric";
  if (all((v) => v instanceof Date || /^\d{4}-\d{2}-\d{2}$/.test(text(v)))) return "date";
  if (all((v) => v instanceof Date || /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}/.test(text(v)))) {
    return "timestamp";
  }
  return null;
}

function rowsSql(
  rows: readonly Readonly<Record<string, unknown>>[],
  columns: readonly TypedColumn[],
): string {
  const types = new Map(columns.map((c) => [c.name, c.type ?? inferredType(rows, c.name)]));
  const value = (c: TypedColumn, v: unknown) => {
    const type = types.get(c.name);
    return type ? `cast(${literal(v)} as ${type})` : literal(v);
  };
  const select = (row: Readonly<Record<string, unknown>> | undefined) =>
    `select ${
      columns.map((c) => `${value(c, row?.[c.name] ?? null)} as ${quote(c.name)}`).join(", ")
    }`;
  if (rows.length === 0) return `${select(undefined)} where false`;
  return rows.map(select).join("\nunion all\n");
}

/**
 * Runs a unit test: each given input takes the columns and types of the
 * real relation it stands for (missing columns are null), the model runs
 * over them, and its rows must be the same multiset as the expected rows
 * (cast to the model's column types). Fails listing the differing rows.
 */
export async function runUnitTest(
  warehouse: Warehouse,
  test: UnitTestNode,
  clock: Pick<Clock, "now"> = systemClock,
): Promise<TestOutcome> {
  const started = clock.now();
  try {
    const diff = await warehouse.transaction(async (tx) => {
      const ctes: string[] = [];
      const bodies: [string, string][] = [];
      for (const input of test.inputs) {
        if (input.sql !== null) {
          ctes.push(`${input.cte} as (\n${input.sql}\n)`);
          bodies.push([input.cte, input.sql]);
          continue;
        }
        const real = input.relation
          ? await tx.columns(input.relation.schema, input.relation.identifier)
          : [];
        const columns: TypedColumn[] = real.length > 0
          ? real.map((c) => ({ name: c.name, type: c.type }))
          : [...new Set(input.rows.flatMap((r) => Object.keys(r)))].map((name) => ({
            name,
            type: null,
          }));
        const unknown = input.rows.flatMap((r) => Object.keys(r)).find((k) =>
          !columns.some((c) => c.name === k)
        );
        if (unknown !== undefined) {
          throw new RangeError(`given column '${unknown}' is not a column of ${input.relation}`);
        }
        ctes.push(`${input.cte} as (\n${rowsSql(input.rows, columns)}\n)`);
        bodies.push([input.cte, rowsSql(input.rows, columns)]);
      }
      const withInputs = ctes.length > 0 ? `with ${ctes.join(",\n")}\n` : "";
      const view = `__dbt_unit_${crypto.randomUUID().replaceAll("-", "")}`;
      // `expect: {format: sql}`: its columns are the compared ones.
      let compared = test.columns;
      if (test.expectedSql !== null) {
        await tx.execute(`create temporary view ${view}_expected as ${test.expectedSql}`);
        compared = (await adapterOf(tx).tempColumns(tx, `${view}_expected`)).map((c) => c.name);
      }
      // A model rendered now asks its questions (run_query...) about the given rows: each
      // input is a temporary view under its CTE's name while it renders.
      if (test.renderSql) {
        for (const [name, body] of bodies) {
          await tx.execute(`create temporary view ${name} as ${body}`);
        }
      }
      const modelSql = test.renderSql
        ? (await test.renderSql(async (sql) => {
          const rows = await tx.query<Record<string, unknown>>(sql);
          const columns = rows[0] ? Object.keys(rows[0]) : [];
          return { columns, rows: rows.map((row) => columns.map((c) => row[c])) };
        })).trim()
        : test.modelSql;
      await tx.execute(
        `create temporary view ${view} as ${withInputs}select ${
          compared.map(quote).join(", ")
        } from (\n${modelSql}\n) __dbt__unit_model`,
      );
      // The adapter's own catalogue query (pg_attribute on Postgres, duckdb_columns() on DuckDB).
      const types = await adapterOf(tx).tempColumns(tx, view);
      const expected = test.expectedSql !== null
        ? `select ${
          types.map((t) => `cast(${quote(t.name)} as ${t.type}) as ${quote(t.name)}`).join(", ")
        } from ${view}_expected`
        : rowsSql(
          test.expected,
          test.columns.map((name) => ({
            name,
            type: types.find((t) => t.name === name)?.type ?? null,
          })),
        );
      const rows = await tx.query<Record<string, unknown>>(
        `with actual as (select * from ${view}), expected as (\n${expected}\n)
         select 'missing' as dbt_unit_diff, * from (select * from expected except all select * from actual) m
         union all
         select 'unexpected' as dbt_unit_diff, * from (select * from actual except all select * from expected) e
         limit 20`,
      );
      await tx.execute(`drop view ${view}`);
      if (test.renderSql) {
        for (const [name] of bodies) await tx.execute(`drop view ${name}`);
      }
      if (test.expectedSql !== null) await tx.execute(`drop view ${view}_expected`);
      return rows;
    });
    if (diff.length === 0) {
      return { status: "pass", failures: 0, message: null, durationMs: clock.now() - started };
    }
    const shown = diff.map((r) =>
      JSON.stringify(r, (_, v) => typeof v === "bigint" ? String(v) : v)
    ).join("; ");
    return {
      status: "fail",
      failures: diff.length,
      message:
        `unit test '${test.name}' of '${test.model}': actual rows differ from expected: ${shown}`,
      durationMs: clock.now() - started,
    };
  } catch (error) {
    return {
      status: "error",
      failures: null,
      message: `unit test '${test.name}' (${test.file}) could not run: ${toError(error).message}`,
      durationMs: clock.now() - started,
    };
  }
}
