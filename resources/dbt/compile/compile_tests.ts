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
import { genericTestsOf } from "../project/schema_yml.ts";
import { isDisabled } from "./configs.ts";
import type { CompiledNodes, Scopes } from "./load.ts";
import { stem } from "./parse.ts";
import type { Properties } from "./properties.ts";
import {
  compileGenericTest,
  compileSingularTest,
  type TestContext,
  type TestRelation,
} from "./tests.ts";

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
  const ctx: TestContext = {
    projectName: read.projectFile.name,
    jinja,
    resolveRef: relationOf,
    resolveSource: sourceRelationOf,
    scope: (packageName, reads) => compiled.scope(packageName, reads),
    projectConfig: (packageName, fqnPath) => ({
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
    for (const spec of genericTestsOf(entry.props, entry.path)) {
      if (isDisabled(spec.config.enabled)) continue;
      tests.push(compileGenericTest({
        spec,
        packageName: entry.packageName,
        subject: { name: node.name, relation: relationOf(node.name) as TestRelation },
        yaml: entry.yaml,
      }, ctx));
    }
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
