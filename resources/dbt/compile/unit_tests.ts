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
import { parseRefText } from "./ref_text.ts";
import { versionedRef } from "./versions.ts";
import type { UnitTestProperties } from "../project/schema_yml.ts";
import type { ProjectSource } from "../_files.ts";
import { parseCsv } from "../execute/seeds.ts";

/** CSV rows as dbt reads them (RFC 4180, so a quoted "a, b" is one cell); an empty cell is null. */
function csvRows(text: string, fail: (message: string) => never): Record<string, unknown>[] {
  let table: string[][];
  try {
    table = parseCsv(text.trim()).filter((r) => r.some((c) => c.trim() !== ""));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return fail(`its csv rows do not parse: ${error.message}`);
  }
  const header = (table[0] ?? []).map((h) => h.trim());
  return table.slice(1).map((cells) =>
    Object.fromEntries(
      header.map((h, i) => {
        const cell = cells[i]?.trim() ?? "";
        return [h, cell === "" ? null : cell];
      }),
    )
  );
}

/** Unit test fixture files of a package (`<test path>/fixtures/**.{csv,sql}`). */
export type FixtureFiles = (packageName: string) => readonly ProjectSource[];

function rowsOf(
  given: { rows?: unknown; format: string; fixture?: string | undefined },
  where: string,
  fixtures: readonly ProjectSource[],
  fail: (message: string) => never,
): Record<string, unknown>[] | string {
  let text: string | undefined;
  if (given.fixture !== undefined) {
    if (given.rows !== undefined) fail(`${where}: give rows or fixture, not both`);
    if (given.format === "dict") {
      fail(`${where}: fixture '${given.fixture}' needs format: csv or format: sql`);
    }
    const ext = `.${given.format}`;
    const found = fixtures.filter((f) =>
      f.path.slice(f.path.lastIndexOf("/") + 1) === `${given.fixture}${ext}`
    );
    if (found.length !== 1) {
      fail(
        found.length === 0
          ? `${where}: no fixture file ${given.fixture}${ext} under the test paths' fixtures/ folder`
          : `${where}: fixture ${given.fixture}${ext} is ambiguous (${
            found.map((f) => f.file).join(", ")
          })`,
      );
    }
    text = (found[0] as ProjectSource).text;
  }
  if (given.format === "sql") return String(text ?? given.rows ?? "");
  if (given.format === "csv") return csvRows(String(text ?? given.rows ?? ""), fail);
  if (given.rows === undefined) return [];
  if (!Array.isArray(given.rows)) return fail(`${where}: rows must be a list`);
  return given.rows as Record<string, unknown>[];
}

/** Compiles every unit test: the model's SQL over one CTE per given input. */
export function compileUnitTests(
  props: Properties,
  jinja: JinjaEnv,
  scopes: Scopes,
  compiled: CompiledNodes,
  fixtureFiles: FixtureFiles = () => [],
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
    const fixtures = fixtureFiles(packageName);
    const model = compiled.nodes.get(unitTestModel(test, props, fail)) ??
      fail(`model '${test.model}' does not exist`);
    const inputs: UnitTestInput[] = [];
    const byKey = new Map<string, string>();
    test.given.forEach((given, i) => {
      const cte = `__dbt__unit_input_${i}`;
      const input = given.input ?? fail("every 'given' needs 'input: ref(...)' or source(...)");
      // `input: this`: the model's own table, read by its incremental branch.
      if (input.trim() === "this") {
        byKey.set("this", cte);
        const rows = rowsOf(given, `given ${input}`, fixtures, fail);
        inputs.push({
          cte,
          relation: model.relation,
          rows: typeof rows === "string" ? [] : rows,
          sql: typeof rows === "string" ? rows : null,
        });
        return;
      }
      const refText = parseRefText(input);
      const src = /source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/.exec(input);
      let relation: Relation | null;
      if (refText) {
        // `ref('dim', v=2)` is that version's node, `ref('dim')` the latest, as the model reads.
        let nodeName: string;
        try {
          nodeName = versionedRef(props.modelVersions, refText.name, refText.version);
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          return fail(`input ${input}: ${error.message}`);
        }
        const parent = compiled.nodes.get(nodeName) ?? fail(`input ${input} names no node`);
        byKey.set(`ref:${nodeName}`, cte);
        relation = parent.config.materialized === "ephemeral" ? null : parent.relation;
      } else if (src) {
        const source = [...props.sources.values()].find((s) =>
          s.sourceName === src[1] && s.name === src[2]
        ) ?? fail(`input ${input} names no declared source`);
        byKey.set(`source:${src[1]}.${src[2]}`, cte);
        relation = source.relation;
      } else return fail(`input '${input}' is not ref() or source()`);
      const rows = rowsOf(given, `given ${input}`, fixtures, fail);
      inputs.push({
        cte,
        relation,
        rows: typeof rows === "string" ? [] : rows,
        sql: typeof rows === "string" ? rows : null,
      });
    });
    const expectedRows = rowsOf(test.expect, "expect", fixtures, fail);
    const expected = typeof expectedRows === "string" ? [] : expectedRows;
    const columns = [...new Set(expected.flatMap((r) => Object.keys(r)))];
    // Overridden macros: is_incremental (the incremental branch under test), and any macro of
    // the project or its packages (by name or `package.name`), which returns the given value.
    const macroOverrides = test.overrides?.macros ?? {};
    for (const name of Object.keys(macroOverrides)) {
      if (name === "is_incremental") continue;
      const dot = name.lastIndexOf(".");
      const known = dot > 0
        ? jinja.hasMacro(name.slice(dot + 1), name.slice(0, dot))
        : jinja.macros.some(([, macro]) => macro === name);
      if (!known) {
        fail(
          `overrides.macros.${name} names no macro of the project or its packages ` +
            "(write it as it is called: 'name' or 'package.name')",
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
      macroOverrides,
      self: byKey.has("this") ? cteRelation(byKey.get("this") as string) : model.relation,
      execute: true,
      answers: [],
    });
    out.push({
      uniqueId: `unit_test.${packageName}.${test.model}.${test.name}`,
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

/**
 * The node a unit test's `model:` names. For a versioned model dbt tests every
 * version (or those `versions: {include, exclude}` keep); this runner tests
 * one node per unit test, so anything but exactly one version is refused by
 * name rather than silently testing only the latest.
 */
function unitTestModel(
  test: UnitTestProperties,
  props: Properties,
  fail: (message: string) => never,
): string {
  const set = props.modelVersions.get(test.model);
  if (set === undefined) return test.model;
  const include = test.versions?.include?.map(String) ?? [...set.nodes.keys()];
  const exclude = new Set(test.versions?.exclude?.map(String) ?? []);
  const kept = include.filter((v) => !exclude.has(v));
  for (const v of kept) {
    if (!set.nodes.has(v)) {
      fail(
        `versions: model '${test.model}' has no version ${v} (it has ${
          [...set.nodes.keys()].join(", ")
        })`,
      );
    }
  }
  if (kept.length !== 1) {
    return fail(
      `model '${test.model}' has versions ${[...set.nodes.keys()].join(", ")}: this runner ` +
        "unit-tests one version per unit test; name it with versions: {include: [<v>]}",
    );
  }
  return set.nodes.get(kept[0] as string) as string;
}
