/**
 * Loads a dbt project and compiles it: reads every file, renders each model
 * twice (once to learn its refs and config, once with real relation names),
 * inlines ephemeral models as CTEs, and turns schema.yml tests into SQL.
 *
 * Governance: a model without a schema.yml entry, or whose entry has no
 * description, is refused with the model file named.
 *
 * @module
 */

import { closest } from "../../core/definitions.ts";
import { digest, listSources, type ProjectSource } from "./_files.ts";
import { parseYaml, type YamlFile } from "./_yaml.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { CACHE_FILE, ParseCache } from "./_cache.ts";
import {
  type CompiledTemplate,
  envVarOf,
  JinjaEnv,
  raiseInRender,
  Relation,
  type RenderScope,
} from "./jinja.ts";
import { folderConfig, type ProjectFile, readProjectFile } from "./project.ts";
import { readTarget, type Target } from "./profiles.ts";
import {
  type ColumnProperties,
  genericTestsOf,
  type GenericTestSpec,
  type ModelProperties,
  type PropertiesFile,
  PropertiesFileSchema,
} from "./schema_yml.ts";
import { compileGenericTest, type TestRelation } from "./tests.ts";

/** How a model is built. */
export type Materialized = "view" | "table" | "incremental" | "ephemeral";

const MATERIALIZED = new Set<Materialized>(["view", "table", "incremental", "ephemeral"]);

/** How an incremental model merges new rows. */
export type IncrementalStrategy = "append" | "delete+insert" | "merge";

/** A model's resolved config (project folders < schema.yml < `config()` in the file). */
export interface ModelConfig {
  /** How it is built. */
  readonly materialized: Materialized;
  /** Custom schema (`+schema`), before `generate_schema_name`. */
  readonly schema: string | undefined;
  /** Name of the relation, when not the model's name. */
  readonly alias: string | undefined;
  /** Key(s) an incremental model merges on. */
  readonly unique_key: string | readonly string[] | undefined;
  /** How an incremental model adds rows. */
  readonly incremental_strategy: IncrementalStrategy | undefined;
  /** Tags (selectable as `tag:` in the asset graph). */
  readonly tags: readonly string[];
  /** Every config value as resolved, for the manifest. */
  readonly all: Readonly<Record<string, unknown>>;
}

/** A column documented in schema.yml. */
export interface ColumnDoc {
  /** Column name. */
  readonly name: string;
  /** Its description, or "". */
  readonly description: string;
  /** Declared type, if any. */
  readonly data_type: string | null;
  /** Free metadata. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** A model of the project, compiled. */
export interface ModelNode {
  /** `model.<project>.<name>`. */
  readonly uniqueId: string;
  /** Model name (the file stem). */
  readonly name: string;
  /** File relative to the project, e.g. `models/marts/fct.sql`. */
  readonly file: string;
  /** File relative to its model path, e.g. `marts/fct.sql`. */
  readonly path: string;
  /** `[project, ...folders, name]`. */
  readonly fqn: readonly string[];
  /** The SQL as written. */
  readonly rawCode: string;
  /** sha256 of the SQL as written. */
  readonly checksum: string;
  /** Resolved config. */
  readonly config: ModelConfig;
  /** Where it is built (for ephemeral models: the CTE it prints as). */
  readonly relation: Relation;
  /** Names of the models it refs, in order of first use. */
  readonly refs: readonly string[];
  /** Unique ids of the sources it reads. */
  readonly sources: readonly string[];
  /** Unique ids of its parents (models and sources). */
  readonly dependsOn: readonly string[];
  /** Macros of the project it calls, by name. */
  readonly macros: readonly string[];
  /** From schema.yml. */
  readonly description: string;
  /** From schema.yml, by name. */
  readonly columns: Readonly<Record<string, ColumnDoc>>;
  /** The schema.yml file that documents it. */
  readonly patchPath: string;
  /** Free metadata from schema.yml (`meta:` and `config.meta`). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The SQL compiled for a full build, ephemeral parents inlined. */
  readonly compiledCode: string;
}

/** A source table. */
export interface SourceNode {
  /** `source.<project>.<source>.<table>`. */
  readonly uniqueId: string;
  /** Source name, e.g. `raw`. */
  readonly sourceName: string;
  /** Table name as referenced. */
  readonly name: string;
  /** The YAML file declaring it. */
  readonly file: string;
  /** Relation read. */
  readonly relation: Relation;
  /** Table description. */
  readonly description: string;
  /** Source description. */
  readonly sourceDescription: string;
  /** `meta` of the table over that of the source (`asset:` maps it to an asset). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Loader as declared, or "". */
  readonly loader: string;
  /** Documented columns. */
  readonly columns: Readonly<Record<string, ColumnDoc>>;
}

/** A data test (generic from schema.yml, or singular from the test paths). */
export interface TestNode {
  /** `test.<project>.<name>[.<hash>]`. */
  readonly uniqueId: string;
  /** Test name, e.g. `not_null_stg_sleep_user_id`. */
  readonly name: string;
  /** `generic` (schema.yml) or `singular` (a SQL file). */
  readonly kind: "generic" | "singular";
  /** For generic tests: `not_null`, `unique`, `accepted_values`, `relationships`. */
  readonly testName: string | undefined;
  /** File declaring it. */
  readonly file: string;
  /** Line declaring it (1-based), when known. */
  readonly line: number | undefined;
  /** Unique id of the node it is about: a model, or a source for source tests. */
  readonly attachedTo: string | undefined;
  /** Column tested, if any. */
  readonly columnName: string | undefined;
  /** Test arguments. */
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** `warn` only reports; `error` fails (and blocks downstream assets). */
  readonly severity: "warn" | "error";
  /** Description, or "". */
  readonly description: string;
  /** Unique ids of the nodes it reads. */
  readonly dependsOn: readonly string[];
  /** Raw code: the SQL file, or the generic test call. */
  readonly rawCode: string;
  /** SQL returning the failing rows. */
  readonly compiledCode: string;
}

/** A compiled project. */
export interface DbtProject {
  /** Absolute or working-directory-relative project folder. */
  readonly dir: string;
  /** Project name from dbt_project.yml. */
  readonly name: string;
  /** The parsed dbt_project.yml. */
  readonly projectFile: ProjectFile;
  /** Profile name. */
  readonly profile: string;
  /** The target built in. */
  readonly target: Target;
  /** Vars (project vars overridden by the caller's). */
  readonly vars: Readonly<Record<string, unknown>>;
  /** Models by name, in topological order. */
  readonly models: ReadonlyMap<string, ModelNode>;
  /** Sources by unique id. */
  readonly sources: ReadonlyMap<string, SourceNode>;
  /** Every test. */
  readonly tests: readonly TestNode[];
  /** Macro names by file. */
  readonly macros: ReadonlyMap<string, readonly string[]>;
  /** Things worth a look that do not stop loading (e.g. a schema.yml entry for no model). */
  readonly warnings: readonly string[];
  /**
   * Compiles a model again for a run: `isIncremental` renders the
   * `{% if is_incremental() %}` branches.
   */
  compileModel(name: string, options: { readonly isIncremental: boolean }): string;
}

/** Options of {@linkcode loadProject}. */
export interface LoadProjectOptions {
  /**
   * Target of profiles.yml to use.
   * @default {the profile's `target:` (DBT_TARGET, else embedded)}
   */
  readonly target?: string | undefined;
  /** Vars overriding dbt_project.yml's (like `dbt run --vars`). */
  readonly vars?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Reads environment variables for `env_var()`.
   * @default {Deno.env.get}
   */
  readonly env?: ((name: string) => string | undefined) | undefined;
  /**
   * Folder of profiles.yml.
   * @default {the project folder}
   */
  readonly profilesDir?: string | undefined;
  /**
   * Keep compiled Jinja and parsed YAML in `target/partial_parse.json` so the
   * next load skips the Jinja compiler and the YAML parser for unchanged
   * files (dbt's partial parsing, in spirit).
   * @default {true}
   */
  readonly cache?: boolean | undefined;
}

interface PropertiesEntry {
  readonly props: ModelProperties;
  readonly yaml: YamlFile<PropertiesFile>;
  readonly path: readonly (string | number)[];
}

interface ParsedModel {
  readonly source: ProjectSource;
  readonly name: string;
  readonly template: CompiledTemplate;
  readonly refs: string[];
  readonly sources: string[];
  readonly inline: Record<string, unknown>;
  readonly macros: Set<string>;
}

/**
 * Loads and compiles the dbt project in `dir`. Throws a {@linkcode DbtError}
 * naming file and line for: invalid YAML, a Jinja syntax error, an unknown
 * ref or source, a model without a schema.yml entry or description, a
 * duplicate model, a cycle, an unknown generic test.
 *
 * @example
 * ```ts ignore
 * import { loadProject } from "./compile.ts";
 * const project = await loadProject("dbt");
 * console.log(project.models.get("fct_weather_daily")?.compiledCode);
 * ```
 */
export async function loadProject(
  dir: string,
  options: LoadProjectOptions = {},
): Promise<DbtProject> {
  const projectFile = await readProjectFile(dir);
  const name = projectFile.name;
  const profile = projectFile.profile ?? name;
  const env = options.env ?? ((key: string) => Deno.env.get(key));
  const target = await readTarget(dir, profile, {
    target: options.target,
    env,
    profilesDir: options.profilesDir,
  });
  const vars: Record<string, unknown> = { ...projectFile.vars, ...(options.vars ?? {}) };
  const targetContext = {
    name: target.name,
    schema: target.schema,
    type: target.type,
    database: target.database,
  };
  const warnings: string[] = [];
  const targetPath = `${dir}/${projectFile["target-path"]}`;
  const cache = options.cache === false
    ? ParseCache.empty()
    : await ParseCache.read(`${targetPath}/${CACHE_FILE}`);

  const [modelFiles, macroFiles, testFiles] = await Promise.all([
    listAll(dir, projectFile["model-paths"], [".sql", ".yml", ".yaml"]),
    listAll(dir, projectFile["macro-paths"], [".sql"]),
    listAll(dir, projectFile["test-paths"], [".sql", ".yml", ".yaml"]),
  ]);

  // Property files (schema.yml, sources.yml) from model and test paths.
  const yamlFiles = [...modelFiles, ...testFiles].filter((f) => !f.file.endsWith(".sql"))
    .map((f) => parseYaml(f.text, f.file, PropertiesFileSchema, cache));
  const properties = new Map<string, PropertiesEntry>();
  const singularProps = new Map<string, { severity?: "warn" | "error"; description?: string }>();
  const sources = new Map<string, SourceNode>();
  const sourceTests: { spec: GenericTestSpec; source: SourceNode; yaml: YamlFile<unknown> }[] = [];
  for (const yaml of yamlFiles) {
    (yaml.value.models ?? []).forEach((props, i) => {
      const previous = properties.get(props.name);
      if (previous) {
        throw new DbtError(
          DbtErrorCode.invalidYaml,
          `model '${props.name}' is documented twice (also in ${previous.yaml.file}); keep one entry`,
          { file: yaml.file, line: yaml.lineOf(["models", i, "name"]) },
        );
      }
      properties.set(props.name, { props, yaml, path: ["models", i] });
    });
    for (const test of [...(yaml.value.data_tests ?? []), ...(yaml.value.tests ?? [])]) {
      singularProps.set(test.name, {
        ...(test.config?.severity ? { severity: test.config.severity } : {}),
        ...(test.description ? { description: test.description } : {}),
      });
    }
    (yaml.value.sources ?? []).forEach((src, s) => {
      src.tables.forEach((table, t) => {
        const uniqueId = `source.${name}.${src.name}.${table.name}`;
        const node: SourceNode = {
          uniqueId,
          sourceName: src.name,
          name: table.name,
          file: yaml.file,
          relation: new Relation(
            src.database ?? target.database,
            src.schema ?? src.name,
            table.identifier ?? table.name,
          ),
          description: table.description ?? "",
          sourceDescription: src.description ?? "",
          meta: { ...(src.meta ?? {}), ...(table.meta ?? {}) },
          loader: src.loader ?? "",
          columns: columnDocs(table.columns),
        };
        sources.set(uniqueId, node);
        for (
          const spec of genericTestsOf(
            { name: table.name, columns: table.columns, data_tests: table.data_tests },
            ["sources", s, "tables", t],
          )
        ) sourceTests.push({ spec, source: node, yaml });
      });
    });
  }

  // Macros: globals of the Jinja environment.
  const jinja = new JinjaEnv(cache);
  const varOf = (key: string, fallback: unknown, hasDefault: boolean): unknown => {
    if (Object.hasOwn(vars, key)) return vars[key];
    if (hasDefault) return fallback;
    return raiseInRender(
      DbtErrorCode.renderFailed,
      `var('${key}') is not defined: add it under 'vars:' in dbt_project.yml or give a default`,
    );
  };
  const baseScope = (): RenderScope => ({
    ref: (model) =>
      raiseInRender(DbtErrorCode.renderFailed, `ref('${model}') cannot be used outside a model`),
    source: (s, t) =>
      raiseInRender(DbtErrorCode.renderFailed, `source('${s}', '${t}') cannot be used here`),
    config: () => {},
    var: varOf,
    envVar: (key, fallback) => envVarOf(env, key, fallback),
    isIncremental: () => false,
    self: undefined,
    target: targetContext,
  });
  const macros = new Map<string, readonly string[]>();
  for (const file of macroFiles) {
    macros.set(file.file, jinja.loadMacros(file.text, file.file, baseScope()));
  }

  // Models: names from the files, then a parse render for refs and config.
  const sqlModels = modelFiles.filter((f) => f.file.endsWith(".sql"));
  const modelNames = new Map<string, ProjectSource>();
  for (const source of sqlModels) {
    const modelName = stem(source.path);
    const previous = modelNames.get(modelName);
    if (previous) {
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `model name '${modelName}' is also used by ${previous.file}; model names must be unique`,
        { file: source.file },
      );
    }
    modelNames.set(modelName, source);
  }
  const sourceIdOf = (sourceName: string, table: string): string => {
    const id = `source.${name}.${sourceName}.${table}`;
    if (sources.has(id)) return id;
    const known = [...sources.values()].map((s) => `${s.sourceName}.${s.name}`);
    const near = closest(`${sourceName}.${table}`, known);
    return raiseInRender(
      DbtErrorCode.unknownSource,
      `source('${sourceName}', '${table}') is not declared in any sources.yml` +
        (near ? ` (did you mean '${near}'?)` : ""),
    );
  };
  const unknownRef = (model: string): never => {
    const near = closest(model, modelNames.keys());
    return raiseInRender(
      DbtErrorCode.unknownRef,
      `ref('${model}') names no model of this project` + (near ? ` (did you mean '${near}'?)` : ""),
    );
  };
  const usedMacros = (text: string) => new Set(jinja.macros.filter((m) => text.includes(`${m}(`)));

  const placeholder = new Relation(target.database, "__parse__", "__parse__");
  const parsed = new Map<string, ParsedModel>();
  for (const [modelName, source] of modelNames) {
    const template = jinja.compile(source.text, source.file);
    const refs: string[] = [];
    const refSources: string[] = [];
    const inline: Record<string, unknown> = {};
    jinja.render(template, {
      ...baseScope(),
      ref: (model) => {
        if (!modelNames.has(model)) unknownRef(model);
        if (!refs.includes(model)) refs.push(model);
        return placeholder;
      },
      source: (s, t) => {
        const id = sourceIdOf(s, t);
        if (!refSources.includes(id)) refSources.push(id);
        return sources.get(id)?.relation ?? placeholder;
      },
      config: (values) => Object.assign(inline, values),
      self: placeholder,
    });
    parsed.set(modelName, {
      source,
      name: modelName,
      template,
      refs,
      sources: refSources,
      inline,
      macros: usedMacros(source.text),
    });
  }

  // Disabled models (`enabled: false` in dbt_project.yml, schema.yml or config()) leave the project.
  for (const model of [...parsed.values()]) {
    const enabled = {
      ...folderConfig(projectFile.models, name, [...folders(model.source.path), model.name]),
      ...(properties.get(model.name)?.props.config ?? {}),
      ...model.inline,
    }.enabled;
    if (enabled === false || enabled === "false") parsed.delete(model.name);
  }
  for (const model of parsed.values()) {
    const disabled = model.refs.find((ref) => !parsed.has(ref));
    if (disabled !== undefined) {
      const lines = model.source.text.split("\n");
      const at = lines.findIndex((l) => new RegExp(`ref\\(\\s*['"]${disabled}['"]`).test(l));
      throw new DbtError(
        DbtErrorCode.unknownRef,
        `ref('${disabled}') names a disabled model; enable it or remove the ref`,
        { file: model.source.file, line: at >= 0 ? at + 1 : undefined },
      );
    }
  }

  // Governance: every model has a documented schema.yml entry.
  for (const model of parsed.values()) {
    const entry = properties.get(model.name);
    if (!entry) {
      throw new DbtError(
        DbtErrorCode.missingSchemaEntry,
        `model '${model.name}' has no schema.yml entry; the project refuses undocumented models. ` +
          `Add it under 'models:' in a .yml file of the model paths, with a description, ` +
          `its columns and tests`,
        { file: model.source.file, line: 1 },
      );
    }
    if (!entry.props.description?.trim()) {
      throw new DbtError(
        DbtErrorCode.missingSchemaEntry,
        `model '${model.name}' has no description; write one in its entry`,
        { file: entry.yaml.file, line: entry.yaml.lineOf(entry.path) },
      );
    }
  }
  for (const [modelName, entry] of properties) {
    if (!modelNames.has(modelName)) {
      warnings.push(
        `${entry.yaml.file}:${entry.yaml.lineOf(entry.path) ?? 1}: ` +
          `entry '${modelName}' documents no model (no ${modelName}.sql in the model paths)`,
      );
    }
  }

  const order = topologicalOrder(parsed);

  // Configs and relations.
  const configs = new Map<string, ModelConfig>();
  const relations = new Map<string, Relation>();
  for (const modelName of order) {
    const model = parsed.get(modelName) as ParsedModel;
    const entry = properties.get(modelName) as PropertiesEntry;
    const fqnPath = [...folders(model.source.path), modelName];
    const config = resolveConfig(
      {
        ...folderConfig(projectFile.models, name, fqnPath),
        ...(entry.props.config ?? {}),
        ...model.inline,
      },
      model.source.file,
    );
    configs.set(modelName, config);
    const schema = schemaName(jinja, config.schema, target, baseScope());
    const identifier = config.alias ?? modelName;
    relations.set(
      modelName,
      new Relation(
        target.database,
        schema,
        identifier,
        config.materialized === "ephemeral" ? `__dbt__cte__${modelName}` : undefined,
      ),
    );
  }

  // Compile: real relations; ephemeral parents become CTEs.
  const renderModel = (modelName: string, isIncremental: boolean): string => {
    const model = parsed.get(modelName);
    if (!model) throw new RangeError(`Cannot compile '${modelName}': no such model`);
    return jinja.render(model.template, {
      ...baseScope(),
      ref: (ref) => relations.get(ref) ?? unknownRef(ref),
      source: (s, t) => sources.get(sourceIdOf(s, t))?.relation ?? placeholder,
      isIncremental: () => isIncremental,
      self: relations.get(modelName),
    });
  };
  const bare = new Map<string, string>();
  for (const modelName of order) bare.set(modelName, renderModel(modelName, false));
  const ephemeralClosure = (refs: readonly string[], seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const ref of refs) {
      if (seen.has(ref) || configs.get(ref)?.materialized !== "ephemeral") continue;
      seen.add(ref);
      out.push(...ephemeralClosure(parsed.get(ref)?.refs ?? [], seen), ref);
    }
    return out;
  };
  const withCtes = (sql: string, refs: readonly string[]): string =>
    injectCtes(
      sql,
      ephemeralClosure(refs).map((ref) => ({
        name: `__dbt__cte__${ref}`,
        sql: bare.get(ref) ?? "",
      })),
    );

  const models = new Map<string, ModelNode>();
  for (const modelName of order) {
    const model = parsed.get(modelName) as ParsedModel;
    const entry = properties.get(modelName) as PropertiesEntry;
    const config = configs.get(modelName) as ModelConfig;
    const entryMeta = (entry.props.meta ?? {}) as Record<string, unknown>;
    const configMeta = (config.all.meta ?? {}) as Record<string, unknown>;
    models.set(modelName, {
      uniqueId: `model.${name}.${modelName}`,
      name: modelName,
      file: model.source.file,
      path: model.source.path,
      fqn: [name, ...folders(model.source.path), modelName],
      rawCode: model.source.text,
      checksum: digest(model.source.text),
      config,
      relation: relations.get(modelName) as Relation,
      refs: model.refs,
      sources: model.sources,
      dependsOn: [...model.refs.map((r) => `model.${name}.${r}`), ...model.sources],
      macros: [...model.macros],
      description: entry.props.description ?? "",
      columns: columnDocs(entry.props.columns),
      patchPath: `${name}://${entry.yaml.file}`,
      meta: { ...configMeta, ...entryMeta },
      compiledCode: withCtes(bare.get(modelName) ?? "", model.refs),
    });
  }

  // Tests.
  const tests: TestNode[] = [];
  const relationOf = (ref: string): TestRelation | undefined => {
    const relation = relations.get(ref);
    const model = models.get(ref);
    if (!relation || !model) return undefined;
    return {
      uniqueId: model.uniqueId,
      sql: relation.toString(),
      prelude: (inner: string) => withCtes(inner, [ref]),
    };
  };
  const sourceRelationOf = (sourceName: string, table: string): TestRelation | undefined => {
    const src = sources.get(`source.${name}.${sourceName}.${table}`);
    if (!src) return undefined;
    return { uniqueId: src.uniqueId, sql: src.relation.toString(), prelude: (s) => s };
  };
  for (const [modelName, entry] of properties) {
    const model = models.get(modelName);
    if (!model) continue;
    for (const spec of genericTestsOf(entry.props, entry.path)) {
      tests.push(compileGenericTest({
        spec,
        projectName: name,
        subject: { name: modelName, relation: relationOf(modelName) as TestRelation },
        yaml: entry.yaml,
        resolveRef: relationOf,
        resolveSource: sourceRelationOf,
      }));
    }
  }
  for (const { spec, source, yaml } of sourceTests) {
    tests.push(compileGenericTest({
      spec,
      projectName: name,
      subject: {
        name: `source_${source.sourceName}_${source.name}`,
        relation: { uniqueId: source.uniqueId, sql: source.relation.toString(), prelude: (s) => s },
      },
      yaml,
      resolveRef: relationOf,
      resolveSource: sourceRelationOf,
    }));
  }
  const position = new Map(order.map((m, i) => [m, i]));
  for (const file of testFiles.filter((f) => f.file.endsWith(".sql"))) {
    const testName = stem(file.path);
    const template = jinja.compile(file.text, file.file);
    const refs: string[] = [];
    const refSources: string[] = [];
    const sql = jinja.render(template, {
      ...baseScope(),
      ref: (ref) => {
        const relation = relations.get(ref) ?? unknownRef(ref);
        if (!refs.includes(ref)) refs.push(ref);
        return relation;
      },
      source: (s, t) => {
        const id = sourceIdOf(s, t);
        if (!refSources.includes(id)) refSources.push(id);
        return sources.get(id)?.relation ?? placeholder;
      },
    });
    // The check goes on the most downstream model the test reads.
    const attached = [...refs].sort((a, b) => (position.get(b) ?? 0) - (position.get(a) ?? 0))[0];
    const props = singularProps.get(testName) ?? {};
    tests.push({
      uniqueId: `test.${name}.${testName}`,
      name: testName,
      kind: "singular",
      testName: undefined,
      file: file.file,
      line: 1,
      attachedTo: attached ? `model.${name}.${attached}` : refSources[0],
      columnName: undefined,
      kwargs: {},
      severity: props.severity ?? "error",
      description: props.description ?? "",
      dependsOn: [...refs.map((r) => `model.${name}.${r}`), ...refSources],
      rawCode: file.text,
      compiledCode: withCtes(sql.trim(), refs),
    });
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

  if (options.cache !== false) await cache.write(targetPath);

  return {
    dir,
    name,
    projectFile,
    profile,
    target,
    vars,
    models,
    sources,
    tests,
    macros,
    warnings,
    compileModel(modelName, { isIncremental }) {
      const model = models.get(modelName);
      if (!model) throw new RangeError(`Cannot compile '${modelName}': no such model`);
      if (!isIncremental) return model.compiledCode;
      return withCtes(renderModel(modelName, true), model.refs);
    },
  };
}

async function listAll(
  dir: string,
  roots: readonly string[],
  extensions: readonly string[],
): Promise<ProjectSource[]> {
  return (await Promise.all(roots.map((root) => listSources(dir, root, extensions)))).flat();
}

function stem(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.slice(0, base.lastIndexOf("."));
}

function folders(path: string): string[] {
  return path.split("/").slice(0, -1);
}

function columnDocs(columns: readonly ColumnProperties[] | undefined): Record<string, ColumnDoc> {
  const out: Record<string, ColumnDoc> = {};
  for (const column of columns ?? []) {
    out[column.name] = {
      name: column.name,
      description: column.description ?? "",
      data_type: column.data_type ?? null,
      meta: column.meta ?? {},
    };
  }
  return out;
}

function resolveConfig(all: Record<string, unknown>, file: string): ModelConfig {
  const materialized = String(all.materialized ?? "view") as Materialized;
  if (!MATERIALIZED.has(materialized)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `materialized='${materialized}' is not supported; use view, table, incremental or ephemeral`,
      { file },
    );
  }
  const strategy = all.incremental_strategy;
  if (
    strategy !== undefined && strategy !== "append" && strategy !== "delete+insert" &&
    strategy !== "merge"
  ) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `incremental_strategy='${String(strategy)}' is not supported; ` +
        "use append, delete+insert or merge",
      { file },
    );
  }
  const key = all.unique_key;
  const tags = all.tags === undefined ? [] : [all.tags].flat().map(String);
  return {
    materialized,
    schema: typeof all.schema === "string" && all.schema.length > 0 ? all.schema : undefined,
    alias: typeof all.alias === "string" && all.alias.length > 0 ? all.alias : undefined,
    unique_key: typeof key === "string" || Array.isArray(key)
      ? key as string | string[]
      : undefined,
    incremental_strategy: strategy,
    tags,
    all: { ...all, materialized, tags },
  };
}

/** dbt's default `generate_schema_name`, or the project's macro of that name. */
function schemaName(
  jinja: JinjaEnv,
  custom: string | undefined,
  target: Target,
  scope: RenderScope,
): string {
  if (jinja.hasMacro("generate_schema_name")) {
    return jinja.callMacro("generate_schema_name", [custom ?? null, null], scope).trim();
  }
  return custom === undefined ? target.schema : `${target.schema}_${custom.trim()}`;
}

/**
 * Puts `ctes` in front of `sql`: into its own leading `WITH` when it has one
 * (after any leading comments), else as a new `with ... ` prefix.
 *
 * @example
 * ```ts
 * import { injectCtes } from "./compile.ts";
 * injectCtes("select * from __dbt__cte__a", [{ name: "__dbt__cte__a", sql: "select 1" }]);
 * // "with __dbt__cte__a as (\nselect 1\n)\nselect * from __dbt__cte__a"
 * ```
 */
export function injectCtes(sql: string, ctes: readonly { name: string; sql: string }[]): string {
  if (ctes.length === 0) return sql;
  const list = ctes.map((cte) => `${cte.name} as (\n${cte.sql.trim()}\n)`).join(", ");
  const lead = /^(\s*(?:--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)\s*)*/.exec(sql)?.[0] ?? "";
  const rest = sql.slice(lead.length);
  const withMatch = /^with\s+(?!recursive\b)/i.exec(rest);
  if (withMatch) return `${lead}with ${list},\n${rest.slice(withMatch[0].length)}`;
  return `with ${list}\n${sql}`;
}

function topologicalOrder(models: ReadonlyMap<string, ParsedModel>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    const seen = state.get(name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name];
      const model = models.get(name);
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `models form a cycle: ${cycle.join(" -> ")}; break it by removing one ref()`,
        { file: model?.source.file ?? name },
      );
    }
    state.set(name, "visiting");
    for (const ref of models.get(name)?.refs ?? []) visit(ref, [...path, name]);
    state.set(name, "done");
    order.push(name);
  };
  for (const name of models.keys()) visit(name, []);
  return order;
}
