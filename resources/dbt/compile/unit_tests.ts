/**
 * Unit tests (`unit_tests:`): the model's SQL compiled with each `given`
 * input replaced by its rows, compared with the `expect` rows.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { JinjaEnv } from "../jinja/env.ts";
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
    const expected = rowsOf(test.expect, yaml.file, test.name);
    if (typeof expected === "string") {
      return fail("expect rows in sql format are not supported; use dict or csv");
    }
    const columns = [...new Set(expected.flatMap((r) => Object.keys(r)))];
    const cteRelation = (cte: string) => new Relation("", "", cte, cte);
    const base = scopes.base(packageName, model.name);
    const overrides = test.overrides?.vars ?? {};
    const modelSql = jinja.render(jinja.compile(model.rawCode, model.file), {
      ...base,
      ref: (name) =>
        cteRelation(
          byKey.get(`ref:${name}`) ?? fail(`the model refs '${name}', which has no 'given' rows`),
        ),
      source: (s, t) =>
        cteRelation(
          byKey.get(`source:${s}.${t}`) ??
            fail(`the model reads source('${s}', '${t}'), which has no 'given' rows`),
        ),
      var: (name, fallback, hasDefault) =>
        Object.hasOwn(overrides, name) ? overrides[name] : base.var(name, fallback, hasDefault),
      isIncremental: () => false,
      self: model.relation,
      execute: true,
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
      columns,
      actualSql: modelSql.trim(),
      dependsOn: [model.uniqueId],
      raw: test as Record<string, unknown>,
    });
  }
  return out;
}
