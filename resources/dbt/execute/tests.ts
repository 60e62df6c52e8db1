/**
 * Running data tests and unit tests: a data test counts its failing rows
 * with its `fail_calc`, then `error_if` / `warn_if` decide (dbt's rule: an
 * error-severity test errors when `error_if` holds, else warns when
 * `warn_if` holds, else passes; a warn-severity test never errors). With
 * `store_failures`, the failing rows are kept in the audit schema.
 *
 * @module
 */

import type { Clock } from "../../../core/clock.ts";
import type { Warehouse } from "../../warehouse/types.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { TestNode, UnitTestNode } from "../nodes.ts";

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
  clock: Pick<Clock, "now"> = { now: () => Date.now() },
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

/**
 * Runs a unit test: the rows of its actual SQL and of its expected rows must
 * be the same multiset. Fails with the differing rows in the message.
 */
export async function runUnitTest(
  warehouse: Warehouse,
  test: UnitTestNode,
  clock: Pick<Clock, "now"> = { now: () => Date.now() },
): Promise<TestOutcome> {
  const started = clock.now();
  try {
    const diff = await warehouse.query<Record<string, unknown>>(
      `with actual as (\n${test.actualSql}\n), expected as (\n${test.expectedSql}\n),
       missing as (select 'expected' as dbt_unit_side, * from (select * from expected except all select * from actual) m),
       extra as (select 'actual' as dbt_unit_side, * from (select * from actual except all select * from expected) e)
       select * from missing union all select * from extra limit 20`,
    );
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
        `unit test '${test.name}' of '${test.model}': actual rows differ from expected (${shown})`,
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
