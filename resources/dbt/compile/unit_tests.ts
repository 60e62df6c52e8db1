/**
 * Unit tests (`unit_tests:`): the model's SQL compiled with each `given`
 * input replaced by its rows, compared with the `expect` rows.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { JinjaEnv } from "../jinja/env.ts";
import type { UnitTestNode } from "../nodes.ts";
import { quote, Relation } from "../relation.ts";
import type { Scopes } from "./load.ts";
import type { CompiledNodes } from "./load.ts";
import type { Properties } from "./properties.ts";

function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `'${String(value).replaceAll("'", "''")}'`;
}

function csvRows(text: string): Record<string, unknown>[] {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const header = (lines[0] ?? "").split(",").map((h) => h.trim());
  return lines.slice(1).map((line) => {
    const cells = line.split(",").map((c) => c.trim());
    return Object.fromEntries(header.map((h, i) => [h, cells[i] === "" ? null : cells[i]]));
  });
}

/**
 * The rows as SQL: `select 1 as a, 'x' as b union all ...`; columns the
 * rows leave out are null, cast to the column's type when `types` knows it.
 */
function rowsSql(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
  types: ReadonlyMap<string, string>,
): string {
  const cast = (column: string, value: unknown) => {
    const type = types.get(column);
    return type ? `cast(${literal(value)} as ${type})` : literal(value);
  };
  if (rows.length === 0) {
    return `select ${columns.map((c) => `${cast(c, null)} as ${quote(c)}`).join(", ")} where false`;
  }
  return rows.map((row) =>
    `select ${columns.map((c) => `${cast(c, row[c] ?? null)} as ${quote(c)}`).join(", ")}`
  ).join("\nunion all\n");
}

function rowsOf(
  given: { rows?: unknown; format: string },
  file: string,
  name: string,
): Record<string, unknown>[] | string {
  if (given.format === "sql") return String(given.rows ?? "");
  if (given.format === "csv") return csvRows(String(given.rows ?? ""));
  if (given.rows === undefined) return [];
  if (!Array.isArray(given.rows)) {
    throw new DbtError(DbtErrorCode.invalidYaml, `unit test '${name}': rows must be a list`, {
      file,
    });
  }
  return given.rows as Record<string, unknown>[];
}

/** Compiles every unit test. Column types of inputs come from their declared columns. */
export function compileUnitTests(
  props: Properties,
  jinja: JinjaEnv,
  scopes: Scopes,
  compiled: CompiledNodes,
): UnitTestNode[] {
  const out: UnitTestNode[] = [];
  for (const { props: test, yaml, index, packageName } of props.unitTests) {
    const line = yaml.lineOf(["unit_tests", index]);
    const fail = (message: string): never => {
      throw new DbtError(DbtErrorCode.invalidYaml, `unit test '${test.name}': ${message}`, {
        file: yaml.file,
        line,
      });
    };
    const model = compiled.nodes.get(test.model) ?? fail(`model '${test.model}' does not exist`);
    // Each input becomes a CTE; the model is rendered with ref/source pointing at them.
    const ctes: { name: string; sql: string }[] = [];
    const inputs = new Map<string, string>();
    test.given.forEach((given, i) => {
      const cte = `__dbt__unit_input_${i}`;
      const input = given.input ?? fail("every 'given' needs 'input: ref(...)' or source(...)");
      const ref = /ref\(\s*['"]([^'"]+)['"]\s*\)/.exec(input);
      const src = /source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/.exec(input);
      const key = ref?.[1]
        ? `ref:${ref[1]}`
        : src
        ? `source:${src[1]}.${src[2]}`
        : fail(`input '${input}' is not ref() or source()`);
      inputs.set(key, cte);
      const parentColumns = ref?.[1]
        ? Object.values(compiled.nodes.get(ref[1])?.columns ?? {})
        : Object.values(
          [...props.sources.values()].find((s) => `source:${s.sourceName}.${s.name}` === key)
            ?.columns ?? {},
        );
      const types = new Map(
        parentColumns.filter((c) => c.data_type).map((c) => [c.name, c.data_type as string]),
      );
      const rows = rowsOf(given, yaml.file, test.name);
      const columns = typeof rows === "string"
        ? []
        : [...new Set(rows.flatMap((r) => Object.keys(r)))];
      ctes.push({
        name: cte,
        sql: typeof rows === "string" ? rows : rowsSql(rows, columns, types),
      });
    });
    const expectedRows = rowsOf(test.expect, yaml.file, test.name);
    if (typeof expectedRows === "string") {
      return fail("expect rows in sql format are not supported; use dict or csv");
    }
    const columns = [...new Set(expectedRows.flatMap((r) => Object.keys(r)))];
    const cteRelation = (cte: string) => new Relation("", "", cte, cte);
    const base = scopes.base(packageName, model.name);
    const template = jinja.compile(model.rawCode, model.file);
    const sql = jinja.render(template, {
      ...base,
      ref: (name) => {
        const cte = inputs.get(`ref:${name}`);
        if (cte) return cteRelation(cte);
        return fail(`the model refs '${name}', which has no 'given' rows`);
      },
      source: (s, t) => {
        const cte = inputs.get(`source:${s}.${t}`);
        if (cte) return cteRelation(cte);
        return fail(`the model reads source('${s}', '${t}'), which has no 'given' rows`);
      },
      var: (name, fallback, hasDefault) => {
        const vars = test.overrides?.vars ?? {};
        return Object.hasOwn(vars, name) ? vars[name] : base.var(name, fallback, hasDefault);
      },
      isIncremental: () => false,
      self: model.relation,
      execute: true,
    });
    const types = new Map(
      Object.values(model.columns).filter((c) => c.data_type).map((
        c,
      ) => [c.name, c.data_type as string]),
    );
    const actualSql = `with ${
      ctes.map((c) => `${c.name} as (\n${c.sql}\n)`).join(",\n")
    }${ctes.length ? ",\n" : ""}` +
      `__dbt__unit_model as (\n${sql.trim()}\n)\nselect ${
        columns.map(quote).join(", ")
      } from __dbt__unit_model`;
    out.push({
      uniqueId: `unit_test.${packageName}.${model.name}.${test.name}`,
      name: test.name,
      model: model.name,
      file: yaml.file,
      line,
      description: test.description ?? "",
      actualSql,
      expectedSql: rowsSql(expectedRows, columns, types),
      columns,
      dependsOn: [model.uniqueId],
      raw: test as Record<string, unknown>,
    });
  }
  return out;
}
