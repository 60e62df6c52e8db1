/**
 * Unit tests (`unit_tests:`): the model's SQL compiled with each `given`
 * input replaced by its rows, compared with the `expect` rows.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import { type JinjaEnv, QueryNeeded, type RenderScope } from "../jinja/env.ts";
import type { UnitTestInput, UnitTestNode } from "../nodes.ts";
import { Relation } from "../relation.ts";
import type { Scopes } from "./scopes.ts";
import type { CompiledNodes } from "./renderer.ts";
import type { Properties } from "./properties.ts";

function csvRows(text: string): Record<string, unknown>[] {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const header = (lines[0] ?? "").split(",").map((h) => h.trim());
  return lines.slice(1).map((line) => {
    const cells = line.split(",").map((c) => c.trim());
    return Object.fromEntries(header.map((h, i) => [h, cells[i] === "" ? null : cells[i]]));
  });
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

/** Compiles every unit test: the model's SQL over one CTE per given input. */
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
    const inputs: UnitTestInput[] = [];
    const byKey = new Map<string, string>();
    test.given.forEach((given, i) => {
      const cte = `__dbt__unit_input_${i}`;
      const input = given.input ?? fail("every 'given' needs 'input: ref(...)' or source(...)");
      // `input: this`: the model's own table, read by its incremental branch.
      if (input.trim() === "this") {
        byKey.set("this", cte);
        const rows = rowsOf(given, yaml.file, test.name);
        inputs.push({
          cte,
          relation: model.relation,
          rows: typeof rows === "string" ? [] : rows,
          sql: typeof rows === "string" ? rows : null,
        });
        return;
      }
      const ref = /ref\(\s*['"]([^'"]+)['"]\s*\)/.exec(input);
      const src = /source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/.exec(input);
      let relation: Relation | null;
      if (ref?.[1]) {
        const parent = compiled.nodes.get(ref[1]) ?? fail(`input ${input} names no node`);
        byKey.set(`ref:${ref[1]}`, cte);
        relation = parent.config.materialized === "ephemeral" ? null : parent.relation;
      } else if (src) {
        const source = [...props.sources.values()].find((s) =>
          s.sourceName === src[1] && s.name === src[2]
        ) ?? fail(`input ${input} names no declared source`);
        byKey.set(`source:${src[1]}.${src[2]}`, cte);
        relation = source.relation;
      } else return fail(`input '${input}' is not ref() or source()`);
      const rows = rowsOf(given, yaml.file, test.name);
      inputs.push({
        cte,
        relation,
        rows: typeof rows === "string" ? [] : rows,
        sql: typeof rows === "string" ? rows : null,
      });
    });
    const expectedRows = rowsOf(test.expect, yaml.file, test.name);
    const expected = typeof expectedRows === "string" ? [] : expectedRows;
    const columns = [...new Set(expected.flatMap((r) => Object.keys(r)))];
    // Overridden macros: is_incremental (the incremental branch under test); any other is
    // refused by name rather than left running its real body.
    const macroOverrides = test.overrides?.macros ?? {};
    for (const name of Object.keys(macroOverrides)) {
      if (name !== "is_incremental") {
        fail(
          `overrides.macros.${name} is not supported (only is_incremental); ` +
            "give the model's inputs rows instead",
        );
      }
    }
    const incremental = macroOverrides.is_incremental;
    if (incremental !== undefined && typeof incremental !== "boolean") {
      fail("overrides.macros.is_incremental must be true or false");
    }
    if (incremental === true && !byKey.has("this")) {
      fail(
        "overrides.macros.is_incremental is true: give the model's current rows as 'input: this'",
      );
    }
    const envOverrides = test.overrides?.env_vars ?? {};
    const cteRelation = (cte: string) => new Relation("", "", cte, cte);
    // Prints as the CTE of the given rows; its schema and name are the real relation's, which
    // introspection (adapter.get_columns_in_relation) reads.
    const standIn = (cte: string) => {
      const real = inputs.find((input) => input.cte === cte)?.relation;
      return real
        ? new Relation(real.database, real.schema, real.identifier, cte)
        : cteRelation(cte);
    };
    const base = scopes.base(packageName, model.name);
    const overrides = test.overrides?.vars ?? {};
    // A model that asks the warehouse while it compiles (dbt_utils.star, run_query) is
    // rendered when the test runs, its questions answered about the real relations the given
    // rows stand for (as dbt does); with no answers allowed here, it stops instead of
    // introspecting nothing.
    let renderSql: UnitTestNode["renderSql"];
    const render = (scope: RenderScope): string => {
      const compiledModel = jinja.compile(model.rawCode, model.file);
      try {
        return jinja.render(compiledModel, scope);
      } catch (error) {
        if (!(error instanceof QueryNeeded)) throw error;
        renderSql = (query) => jinja.renderAsync(compiledModel, scope, query);
        return "";
      }
    };
    const modelSql = render({
      ...base,
      ref: (name) =>
        standIn(
          byKey.get(`ref:${name}`) ?? fail(`the model refs '${name}', which has no 'given' rows`),
        ),
      source: (s, t) =>
        standIn(
          byKey.get(`source:${s}.${t}`) ??
            fail(`the model reads source('${s}', '${t}'), which has no 'given' rows`),
        ),
      var: (name, fallback, hasDefault) =>
        Object.hasOwn(overrides, name) ? overrides[name] : base.var(name, fallback, hasDefault),
      envVar: (name, fallback) =>
        Object.hasOwn(envOverrides, name)
          ? String(envOverrides[name])
          : base.envVar(name, fallback),
      isIncremental: () => incremental === true,
      self: byKey.has("this") ? cteRelation(byKey.get("this") as string) : model.relation,
      execute: true,
      answers: [],
    });
    out.push({
      uniqueId: `unit_test.${packageName}.${model.name}.${test.name}`,
      name: test.name,
      model: model.name,
      file: yaml.file,
      line,
      description: test.description ?? "",
      inputs,
      modelSql: modelSql.trim(),
      expected,
      expectedSql: typeof expectedRows === "string" ? expectedRows : null,
      ...(renderSql ? { renderSql } : {}),
      columns,
      actualSql: modelSql.trim(),
      dependsOn: [model.uniqueId],
      raw: test as Record<string, unknown>,
    });
  }
  return out;
}
