/**
 * Every data test of the project: generic tests of models, seeds, snapshots
 * and sources, then singular tests, with duplicate names refused.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { JinjaEnv } from "../jinja/env.ts";
import type { TestNode } from "../nodes.ts";
import { folderConfig } from "../project/project_file.ts";
import type { ReadProject } from "../project/read.ts";
import { genericTestsOf, type GenericTestSpec } from "../project/schema_yml.ts";
import { isDisabled } from "./configs.ts";
import type { CompiledNodes } from "./renderer.ts";
import type { Scopes } from "./scopes.ts";
import { stem } from "./parse.ts";
import type { Properties } from "./properties.ts";
import {
  compileGenericTest,
  compileSingularTest,
  GENERIC_TESTS,
  type TestContext,
  type TestRelation,
} from "./tests.ts";

/**
 * The generic tests of a properties entry, kept for a reload in the same
 * process: the entry object is the same while its file is unchanged
 * (project/yaml.ts keeps validated files), and the key holds everything else
 * their SQL reads (the relations of the node and of `relationships` parents,
 * the package).
 */
const ENTRY_TESTS = new WeakMap<object, { key: string; project: object; tests: TestNode[] }>();

/**
 * The memo key of an entry's tests, or undefined when they cannot be kept:
 * a custom generic test (a macro: it may read anything) or an ephemeral
 * node (its SQL inlines other nodes' compiled SQL).
 */
function entryMemoKey(
  specs: readonly GenericTestSpec[],
  nodeName: string,
  relationOf: (ref: string) => TestRelation | undefined,
  ctx: TestContext,
): string | undefined {
  const subject = relationOf(nodeName);
  if (!subject || subject.relation.cte !== undefined) return undefined;
  const parts = [subject.uniqueId, subject.relation.toString(), ctx.auditSchema, ctx.database];
  for (const spec of specs) {
    if (!(GENERIC_TESTS as readonly string[]).includes(spec.testName)) return undefined;
    const override = ctx.jinja.findMacro(`test_${spec.testName}`);
    if (override && override.packageName !== "dbt") return undefined; // the project's own version
    if (spec.testName !== "relationships") continue;
    const to = typeof spec.kwargs.to === "string" ? spec.kwargs.to : "";
    const parent = /^\s*ref\(\s*['"]([^'"]+)['"]/.exec(to)?.[1];
    if (!parent) return undefined; // a source: cheap, and not worth tracking
    const target = relationOf(parent);
    if (!target || target.relation.cte !== undefined) return undefined;
    parts.push(`${parent}=${target.relation}`);
  }
  return parts.join("|");
}

/** Compiles every data test. */
export function compileAllTests(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  _scopes: Scopes,
  compiled: CompiledNodes,
): TestNode[] {
  const relationOf = (ref: string): TestRelation | undefined => {
    const node = compiled.nodes.get(ref);
    if (!node) return undefined;
    return {
      uniqueId: node.uniqueId,
      relation: node.relation,
      prelude: (inner: string) => compiled.withCtes(inner, [ref]),
    };
  };
  const sourceRelationOf = (sourceName: string, table: string): TestRelation | undefined => {
    const src = [...props.sources.values()].find((s) =>
      s.sourceName === sourceName && s.name === table
    );
    return src && { uniqueId: src.uniqueId, relation: src.relation, prelude: (s) => s };
  };
  const testSections = (tree: Record<string, unknown>) => Object.keys(tree).length > 0 ? tree : {};
  // No tests:/data_tests: section in dbt_project.yml (the usual case): nothing to look up per test.
  const noProjectConfig = Object.keys(read.projectFile.tests).length === 0 &&
    Object.keys(read.projectFile.data_tests).length === 0;
  const ctx: TestContext = {
    projectName: read.projectFile.name,
    jinja,
    resolveRef: relationOf,
    resolveSource: sourceRelationOf,
    scope: (packageName, reads) => compiled.scope(packageName, reads),
    projectConfig: (packageName, fqnPath) =>
      noProjectConfig ? {} : ({
        ...folderConfig(testSections(read.projectFile.tests), packageName, fqnPath),
        ...folderConfig(testSections(read.projectFile.data_tests), packageName, fqnPath),
      }),
    auditSchema: `${read.target.schema}_dbt_test__audit`,
    database: read.target.database,
  };
  const tests: TestNode[] = [];
  for (const node of compiled.nodes.values()) {
    const entry = props.entryOf(node.resourceType, node.name);
    if (!entry) continue;
    // Read once: the memo key and the tests both walk the entry's specs.
    const specs = genericTestsOf(entry.props, entry.path);
    const memoKey = entryMemoKey(specs, node.name, relationOf, ctx);
    const memo = memoKey === undefined ? undefined : ENTRY_TESTS.get(entry.props);
    if (memo && memo.key === memoKey && memo.project === read.projectFile) {
      tests.push(...memo.tests);
      continue;
    }
    const own: TestNode[] = [];
    for (const spec of specs) {
      if (isDisabled(spec.config.enabled)) continue;
      own.push(compileGenericTest({
        spec,
        packageName: entry.packageName,
        subject: { name: node.name, relation: relationOf(node.name) as TestRelation },
        yaml: entry.yaml,
      }, ctx));
    }
    if (memoKey !== undefined) {
      ENTRY_TESTS.set(entry.props, { key: memoKey, project: read.projectFile, tests: own });
    }
    tests.push(...own);
  }
  for (const { spec, source, yaml } of props.sourceTests) {
    if (isDisabled(spec.config.enabled)) continue;
    tests.push(compileGenericTest({
      spec,
      packageName: source.packageName,
      subject: {
        name: `source_${source.sourceName}_${source.name}`,
        relation: { uniqueId: source.uniqueId, relation: source.relation, prelude: (s) => s },
      },
      yaml,
    }, ctx));
  }
  for (const pkg of read.packages) {
    for (const file of pkg.tests) {
      if (/\{%-?\s*test\s/.test(file.text) || file.path.startsWith("generic/")) continue;
      const name = stem(file.path);
      const yamlProps = props.singular.get(name);
      const test = compileSingularTest(
        {
          name,
          packageName: pkg.name,
          file: file.file,
          path: file.path,
          text: file.text,
          template: jinja.compile(file.text, file.file),
          yamlConfig: yamlProps?.config ?? {},
          description: yamlProps?.description ?? "",
        },
        ctx,
        compiled.withCtes,
      );
      if (isDisabled((yamlProps?.config ?? {}).enabled)) continue;
      tests.push(test);
    }
  }
  const ids = new Set<string>();
  for (const test of tests) {
    if (ids.has(test.uniqueId)) {
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `test '${test.name}' is declared twice; remove the duplicate`,
        { file: test.file, line: test.line },
      );
    }
    ids.add(test.uniqueId);
  }
  return tests;
}
