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
import type { CompiledNodes } from "./renderer.ts";
import type { Scopes } from "./scopes.ts";
import { stem } from "./parse.ts";
import type { Properties } from "./properties.ts";
import {
  compileGenericTest,
  compileSingularTest,
  type TestContext,
  type TestRelation,
} from "./tests.ts";

/** The project config of a test when dbt_project.yml configures no tests. */
const NO_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({});

/** Compiles every data test. */
export function compileAllTests(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  _scopes: Scopes,
  compiled: CompiledNodes,
): TestNode[] {
  // One per node, asked for by each of its tests and by each test pointing at it.
  const relations = new Map<string, TestRelation | undefined>();
  const relationOf = (ref: string): TestRelation | undefined => {
    let relation = relations.get(ref);
    if (relation !== undefined || relations.has(ref)) return relation;
    const node = compiled.nodes.get(ref);
    relation = node && {
      uniqueId: node.uniqueId,
      relation: node.relation,
      prelude: (inner: string) => compiled.withCtes(inner, [ref]),
    };
    relations.set(ref, relation);
    return relation;
  };
  const macros = new Map<string, ReturnType<JinjaEnv["findMacro"]>>();
  const testMacro = (name: string, namespace: string | undefined) => {
    const key = namespace === undefined ? name : `${namespace}.${name}`;
    let found = macros.get(key);
    if (found === undefined && !macros.has(key)) {
      found = jinja.findMacro(`test_${name}`, namespace);
      macros.set(key, found);
    }
    return found;
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
  const prefixes = new Map(read.packages.map((p) => [p.name, p.prefix]));
  let lastFolders = { packageName: "", file: "", folders: [] as readonly string[] };
  const ctx: TestContext = {
    projectName: read.projectFile.name,
    jinja,
    resolveRef: relationOf,
    resolveSource: sourceRelationOf,
    scope: (packageName, reads) => compiled.scope(packageName, reads),
    projectConfig: (packageName, fqnPath) =>
      noProjectConfig ? NO_CONFIG : ({
        ...folderConfig(testSections(read.projectFile.tests), packageName, fqnPath),
        ...folderConfig(testSections(read.projectFile.data_tests), packageName, fqnPath),
      }),
    auditSchema: `${read.target.schema}_dbt_test__audit`,
    database: read.target.database,
    foldersOf: (packageName, file) => {
      // Asked by each test, in runs of one file.
      if (packageName === lastFolders.packageName && file === lastFolders.file) {
        return lastFolders.folders;
      }
      const prefix = prefixes.get(packageName) ?? "";
      const relative = file.startsWith(prefix) ? file.slice(prefix.length) : file;
      const folders = relative.split("/").slice(1, -1);
      lastFolders = { packageName, file, folders };
      return folders;
    },
    testMacro,
  };
  const tests: TestNode[] = [];
  for (const node of compiled.nodes.values()) {
    const entry = props.entryOf(node.resourceType, node.name);
    if (!entry) continue;
    for (const spec of genericTestsOf(entry.props, entry.path, entry.yaml)) {
      if (isDisabled(spec.config.enabled)) continue;
      tests.push(compileGenericTest({
        spec,
        packageName: entry.packageName,
        subject: {
          name: node.name,
          relation: relationOf(node.name) as TestRelation,
          target: { kind: "model", name: node.name },
        },
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
        target: { kind: "source", sourceName: source.sourceName, table: source.name },
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
  refuseDuplicates(tests);
  return tests;
}

/**
 * Refuses two tests with one unique id (one declared twice), naming the
 * second. A generic test's id is made of its name followed by its metadata's
 * repr, which starts with `{` (compile/test_names.ts), and a singular test's
 * is its identity: so ids can be equal only when names (singular: identities)
 * are, or one has a `{`. Only then are the ids' inputs built and compared:
 * 30k of them cost ~100 ms of a 10k-model load.
 */
function refuseDuplicates(tests: readonly TestNode[]): void {
  const keys = new Set<string>();
  let clash = false;
  for (const test of tests) {
    const key = test.kind === "generic" ? test.name : test.identity;
    if (keys.has(key) || key.includes("{")) {
      clash = true;
      break;
    }
    keys.add(key);
  }
  if (!clash) return;
  const ids = new Set<string>();
  for (const test of tests) {
    if (ids.has(test.identity)) {
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `test '${test.name}' is declared twice; remove the duplicate`,
        { file: test.file, line: test.line },
      );
    }
    ids.add(test.identity);
  }
}
