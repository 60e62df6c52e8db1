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
): Promise<TestOutcome> {
  const started = clock.now();
  const { failCalc, limit, storeFailures } = test.thresholds;
  const inner = limit === null ? test.compiledCode : `${test.compiledCode}\nlimit ${limit}`;
  try {
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
    const status = statusOf(test, failures);
    return {
      status,
      failures,
      message: status === "pass" ? null : `Got ${failures} result${failures === 1 ? "" : "s"}, ` +
        `configured to ${
          status === "fail"
            ? `fail if ${test.thresholds.errorIf}`
            : `warn if ${test.thresholds.warnIf}`
        }` +
        (storeFailures ? `; failing rows in ${test.auditRelation}` : ""),
      durationMs: clock.now() - started,
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
      durationMs: clock.now() - started,
    };
  }
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `'${String(value).replaceAll("'", "''")}'`;
}

interface TypedColumn {
  readonly name: string;
  readonly type: string | null;
}

/** Rows as `select cast(v as type) as c, ... union all ...`; missing columns are typed nulls. */
function rowsSql(
  rows: readonly Readonly<Record<string, unknown>>[],
  columns: readonly TypedColumn[],
): string {
  const value = (c: TypedColumn, v: unknown) =>
    c.type ? `cast(${literal(v)} as ${c.type})` : literal(v);
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
      for (const input of test.inputs) {
        if (input.sql !== null) {
          ctes.push(`${input.cte} as (\n${input.sql}\n)`);
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
      }
      const withInputs = ctes.length > 0 ? `with ${ctes.join(",\n")}\n` : "";
      const view = `__dbt_unit_${crypto.randomUUID().replaceAll("-", "")}`;
      await tx.execute(
        `create temporary view ${view} as ${withInputs}select ${
          test.columns.map(quote).join(", ")
        } from (\n${test.modelSql}\n) __dbt__unit_model`,
      );
      const types = await tx.query<{ name: string; type: string }>(
        `select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type
         from pg_catalog.pg_attribute a where a.attrelid = to_regclass($1) and a.attnum > 0
         and not a.attisdropped order by a.attnum`,
        [view],
      );
      const expected = rowsSql(
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
      message: `unit test '${test.name}' (${test.file}) could not run: ${
        error instanceof Error ? error.message : String(error)
      }`,
      durationMs: clock.now() - started,
    };
  }
}
