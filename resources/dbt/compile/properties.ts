/**
 * The properties YAML of the project and its packages, collected: entries
 * of models, seeds and snapshots, sources, singular test properties, unit
 * tests, exposures, YAML snapshots, selectors, and the raw entries of
 * semantic models, metrics and saved queries (parsed in ./semantic.ts once
 * the models are known).
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { BuildKind, ColumnDoc, ExposureNode, GroupNode, SourceNode } from "../nodes.ts";
import { packageVars, type ReadProject } from "../project/read.ts";
import {
  type AnalysisProperties,
  type ColumnProperties,
  genericTestsOf,
  type GenericTestSpec,
  type ModelProperties,
  type PropertiesFile,
  type UnitTestProperties,
} from "../project/schema_yml.ts";
import type { YamlFile } from "../project/yaml.ts";
import { propertiesPath, sourceFqnPath, sourceProjectConfig } from "./source_config.ts";
import { quotingOf, Relation } from "../relation.ts";
import { externalSourceSql } from "../adapters/duckdb.ts";
import { renderString } from "../jinja/env.ts";
import { expandModelVersions, type ModelVersions, versionedRef } from "./versions.ts";
import { parseRefText } from "./ref_text.ts";
import type { SemanticEntry } from "./semantic.ts";
import { toError } from "../../../core/errors.ts";

/** A properties entry of a model, seed or snapshot. */
export interface PropertiesEntry {
  /** The entry. */
  readonly props: ModelProperties;
  /** Its file. */
  readonly yaml: YamlFile<PropertiesFile>;
  /** Its path in the file. */
  readonly path: readonly (string | number)[];
  /** Package of the file. */
  readonly packageName: string;
}

/** A generic test declared on a source table. */
export interface SourceTestDecl {
  /** The test. */
  readonly spec: GenericTestSpec;
  /** The source table. */
  readonly source: SourceNode;
  /** The YAML file. */
  readonly yaml: YamlFile<unknown>;
}

/** Everything collected. */
export interface Properties {
  /** Model entries by name (a versioned model has one per version, by its node name). */
  readonly models: ReadonlyMap<string, PropertiesEntry>;
  /** Versioned models by the name refs write. */
  readonly modelVersions: ModelVersions;
  /** Entry of a node of any kind. */
  entryOf(kind: BuildKind, name: string): PropertiesEntry | undefined;
  /** Sources by unique id. */
  readonly sources: ReadonlyMap<string, SourceNode>;
  /** dbt's fqn of every source table, disabled ones too (for dbt_project.yml's unused paths). */
  readonly sourceFqns: readonly (readonly string[])[];
  /** Tests declared on sources. */
  readonly sourceTests: readonly SourceTestDecl[];
  /** Singular test properties by test name. */
  readonly singular: ReadonlyMap<string, { config: Record<string, unknown>; description: string }>;
  /** Unit tests with their file. */
  readonly unitTests: readonly {
    props: UnitTestProperties;
    yaml: YamlFile<PropertiesFile>;
    index: number;
    packageName: string;
  }[];
  /** YAML snapshots (`relation:`). */
  readonly yamlSnapshots: readonly {
    name: string;
    relation: string;
    file: string;
    packageName: string;
  }[];
  /** `analyses:` entries by analysis name. */
  readonly analyses: ReadonlyMap<string, { props: AnalysisProperties; file: string }>;
  /** `groups:` entries by group name. */
  readonly groups: ReadonlyMap<string, GroupNode>;
  /** `semantic_models:`, `metrics:` and `saved_queries:` entries as written. */
  readonly semanticEntries: readonly SemanticEntry[];
  /** Exposures, once node ids are known. */
  exposures(idOf: (name: string) => string | undefined): ExposureNode[];
  /** `doc('name')` text resolver (set once docs are read). */
  docText: (text: string) => string;
  /** selectors.yml. */
  readonly selectors: Readonly<Record<string, unknown>>;
  /** The selectors.yml selector with `default: true`. */
  readonly defaultSelector?: string;
  /** Notes that do not stop loading. */
  readonly warnings: readonly string[];
}

/** Column docs of a properties entry. */
export function columnDocs(
  columns: readonly ColumnProperties[] | undefined,
  docText: (text: string) => string = (t) => t,
): Record<string, ColumnDoc> {
  const out: Record<string, ColumnDoc> = {};
  for (const column of columns ?? []) {
    out[column.name] = {
      name: column.name,
      description: docText(column.description ?? ""),
      data_type: column.data_type ?? null,
      meta: column.meta ?? {},
      constraints: (column.constraints ?? []).map((c) => ({
        type: c.type,
        expression: c.expression,
      })),
      granularity: typeof column.granularity === "string" ? column.granularity : null,
      quote: typeof column.quote === "boolean" ? column.quote : null,
      tags: [column.tags ?? []].flat().filter((t) => typeof t === "string"),
      extra: Object.fromEntries(
        Object.entries(column).filter(([key]) => !KNOWN_COLUMN_KEYS.has(key)),
      ),
    };
  }
  return out;
}

/** The keys of a column entry dbt reads (UnparsedColumn); others are kept as its extras. */
const KNOWN_COLUMN_KEYS = new Set([
  "name",
  "description",
  "data_type",
  "meta",
  "constraints",
  "quote",
  "tags",
  "granularity",
  "tests",
  "data_tests",
  "config",
  "docs",
  "policy_tags",
]);

/** Collects the properties of every package. */
export function collectProperties(read: ReadProject): Properties {
  const entries = {
    model: new Map<string, PropertiesEntry>(),
    seed: new Map<string, PropertiesEntry>(),
    snapshot: new Map<string, PropertiesEntry>(),
  };
  const sources = new Map<string, SourceNode>();
  const sourceTests: SourceTestDecl[] = [];
  const sourceFqns: string[][] = [];
  const singular = new Map<string, { config: Record<string, unknown>; description: string }>();
  const unitTests: Properties["unitTests"][number][] = [];
  const yamlSnapshots: Properties["yamlSnapshots"][number][] = [];
  const exposures: { props: Record<string, unknown>; file: string; packageName: string }[] = [];
  const analyses = new Map<string, { props: AnalysisProperties; file: string }>();
  const groups = new Map<string, GroupNode>();
  const warnings: string[] = [];
  const semanticEntries: SemanticEntry[] = [];
  for (const pkg of read.packages) {
    for (const yaml of pkg.properties) {
      const value = yaml.value;
      for (
        const [kind, list] of [["model", value.models], ["seed", value.seeds], [
          "snapshot",
          value.snapshots,
        ]] as const
      ) {
        (list ?? []).forEach((props, i) => {
          const key = kind === "model" ? "models" : kind === "seed" ? "seeds" : "snapshots";
          const relation = (props as { relation?: unknown }).relation;
          if (kind === "snapshot" && typeof relation === "string") {
            yamlSnapshots.push({
              name: props.name,
              relation,
              file: yaml.file,
              packageName: pkg.name,
            });
          }
          const previous = entries[kind].get(props.name);
          if (previous) {
            throw new DbtError(
              DbtErrorCode.invalidYaml,
              `${kind} '${props.name}' is documented twice (also in ${previous.yaml.file}); keep one entry`,
              { file: yaml.file, line: yaml.lineOf([key, i, "name"]) },
            );
          }
          entries[kind].set(props.name, { props, yaml, path: [key, i], packageName: pkg.name });
        });
      }
      for (const test of [...(value.data_tests ?? []), ...(value.tests ?? [])]) {
        singular.set(test.name, {
          config: (test.config ?? {}) as Record<string, unknown>,
          description: test.description ?? "",
        });
      }
      for (const props of value.analyses ?? []) {
        analyses.set(props.name, { props, file: yaml.file });
      }
      (value.groups ?? []).forEach((props, i) => {
        const previous = groups.get(props.name);
        if (previous) {
          throw new DbtError(
            DbtErrorCode.invalidYaml,
            `group '${props.name}' is declared twice (also in ${previous.file}); keep one entry`,
            { file: yaml.file, line: yaml.lineOf(["groups", i, "name"]) },
          );
        }
        groups.set(props.name, {
          uniqueId: `group.${pkg.name}.${props.name}`,
          name: props.name,
          packageName: pkg.name,
          file: yaml.file,
          owner: props.owner as Record<string, unknown>,
          description: props.description ?? null,
          meta: props.config?.meta ?? {},
        });
      });
      (value.unit_tests ?? []).forEach((props, index) =>
        unitTests.push({ props, yaml, index, packageName: pkg.name })
      );
      for (const exposure of value.exposures ?? []) {
        exposures.push({
          props: exposure as Record<string, unknown>,
          file: yaml.file,
          packageName: pkg.name,
        });
      }
      for (
        const [key, kind] of [
          ["semantic_models", "semantic_model"],
          ["metrics", "metric"],
          ["saved_queries", "saved_query"],
        ] as const
      ) {
        (value[key] ?? []).forEach((props, i) =>
          semanticEntries.push({
            kind,
            props,
            file: yaml.file,
            line: yaml.lineOf([key, i]),
            packageName: pkg.name,
          })
        );
      }
      collectSources(value, yaml, pkg.name, read, sources, sourceTests, sourceFqns);
    }
  }
  let docText = (text: string) => text;
  const modelVersions = expandModelVersions(entries.model);
  const props: Properties = {
    models: entries.model,
    modelVersions,
    entryOf: (kind, name) => entries[kind].get(name),
    sources,
    sourceTests,
    sourceFqns,
    singular,
    unitTests,
    yamlSnapshots,
    analyses,
    groups,
    semanticEntries,
    exposures: (idOf) =>
      // `config: {enabled: false}` leaves the exposure out, as dbt does.
      exposures.filter(({ props }) => sourceConfig(recordOf(props.config), "enabled") !== false)
        .map(({ props, file, packageName }) => {
          const name = String(props.name);
          const config = recordOf(props.config);
          const refName = (ref: string, version: string | undefined): string => {
            try {
              return versionedRef(modelVersions, ref, version);
            } catch (e) {
              if (!(e instanceof RangeError)) throw e;
              throw new DbtError(DbtErrorCode.unknownRef, `exposure '${name}': ${e.message}`, {
                file,
              });
            }
          };
          const dependsOn = ((props.depends_on ?? []) as string[]).map((dep) => {
            const ref = parseRefText(dep);
            const src = /source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/.exec(dep);
            const id = ref
              ? idOf(refName(ref.name, ref.version))
              : src
              ? [...sources.values()].find((s) => s.sourceName === src[1] && s.name === src[2])
                ?.uniqueId
              : undefined;
            if (!id) {
              throw new DbtError(
                DbtErrorCode.unknownRef,
                `exposure '${name}': '${dep}' names no node`,
                { file },
              );
            }
            return id;
          });
          const own = read.packages.find((p) => p.name === packageName);
          const inPackage = own && file.startsWith(own.prefix)
            ? file.slice(own.prefix.length)
            : file;
          const path = propertiesPath(read, packageName, file);
          return {
            uniqueId: `exposure.${packageName}.${name}`,
            name,
            file,
            packageName,
            originalFilePath: inPackage,
            path: path.join("/"),
            fqn: [packageName, ...path.slice(0, -1), name],
            type: String(props.type),
            owner: (props.owner ?? {}) as Record<string, unknown>,
            description: docText(String(props.description ?? "")),
            dependsOn,
            url: typeof props.url === "string" ? props.url : null,
            maturity: typeof props.maturity === "string" ? props.maturity : null,
            label: typeof props.label === "string" ? props.label : null,
            // As dbt: `tags:` and `config.tags` add up, `config.meta` over `meta:`.
            tags: [
              ...new Set(
                [props.tags, config.tags].flatMap((t) =>
                  t === undefined || t === null ? [] : [t].flat()
                ).map(String),
              ),
            ],
            meta: { ...recordOf(props.meta), ...recordOf(config.meta) },
          };
        }),
    get docText() {
      return docText;
    },
    set docText(fn) {
      docText = fn;
    },
    selectors: read.selectors,
    ...(read.defaultSelector === undefined ? {} : { defaultSelector: read.defaultSelector }),
    warnings,
  };
  return props;
}

const PERIOD_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

function afterMs(rule: unknown): number | null {
  if (typeof rule !== "object" || rule === null) return null;
  const { count, period } = rule as { count?: unknown; period?: unknown };
  if (typeof count !== "number" || typeof period !== "string") return null;
  const unit = PERIOD_MS[period];
  return unit === undefined ? null : count * unit;
}

function collectSources(
  value: PropertiesFile,
  yaml: YamlFile<PropertiesFile>,
  packageName: string,
  read: ReadProject,
  sources: Map<string, SourceNode>,
  sourceTests: SourceTestDecl[],
  sourceFqns: string[][],
): void {
  (value.sources ?? []).forEach((src, s) => {
    src.tables.forEach((table, t) => {
      // `config: {enabled: false}` on the source or the table: dbt leaves the table out, so a
      // `source()` of it fails as one of an unknown table.
      // dbt_project.yml's `sources:` block (`+enabled`, `+event_time`, `+meta`) under the YAML.
      const project = sourceProjectConfig(read, packageName, yaml.file, src.name, table.name);
      sourceFqns.push([
        packageName,
        ...sourceFqnPath(read, packageName, yaml.file, src.name, table.name),
      ]);
      const ownEnabled = [
        sourceConfig(src.config, "enabled"),
        sourceConfig(table.config, "enabled"),
      ];
      if (ownEnabled.includes(false)) return;
      if (ownEnabled.every((e) => e === undefined) && sourceConfig(project, "enabled") === false) {
        return;
      }
      const uniqueId = `source.${packageName}.${src.name}.${table.name}`;
      const freshness = table.freshness === undefined ? src.freshness : table.freshness;
      const meta = {
        ...recordOf(project.meta),
        ...(src.meta ?? {}),
        ...recordOf(src.config?.meta),
        ...(table.meta ?? {}),
        ...recordOf(table.config?.meta),
      };
      const tags = [
        ...new Set(
          [src.tags, src.config?.tags, table.tags, table.config?.tags]
            .flatMap((list) => list === undefined || list === null ? [] : [list].flat())
            .map(String),
        ),
      ];
      // dbt renders these with `var()`, `env_var()` and `target` (`schema: "{{ var('raw') }}"`).
      const database = jinjaProperty(src.database, read, yaml.file, packageName) ??
        read.target.database;
      const schema = jinjaProperty(src.schema, read, yaml.file, packageName) ?? src.name;
      const identifier = jinjaProperty(table.identifier, read, yaml.file, packageName) ??
        table.name;
      const node: SourceNode = {
        uniqueId,
        packageName,
        sourceName: src.name,
        name: table.name,
        file: yaml.file,
        relation: new Relation(
          database,
          schema,
          identifier,
          undefined,
          externalLocation(read, meta, {
            name: table.name,
            identifier,
            schema,
            database,
          }, yaml.file),
          quotingOf(read.projectFile.quoting, src.quoting, table.quoting),
        ),
        description: table.description ?? "",
        sourceDescription: src.description ?? "",
        meta,
        loader: src.loader ?? "",
        columns: columnDocs(table.columns),
        loadedAtField: table.loaded_at_field ?? src.loaded_at_field ?? null,
        external: externalTable((table as { external?: unknown }).external),
        eventTime: sourceEventTime(table.config, src.config, project, yaml.file, uniqueId),
        freshness: freshness
          ? {
            warnAfterMs: afterMs(freshness.warn_after),
            errorAfterMs: afterMs(freshness.error_after),
            raw: freshness,
            filter: freshness.filter ?? null,
          }
          : null,
        tags,
      };
      sources.set(uniqueId, node);
      for (
        const spec of genericTestsOf(
          {
            name: table.name,
            columns: table.columns,
            data_tests: table.data_tests,
            tests: table.tests,
          },
          ["sources", s, "tables", t],
          yaml,
        )
      ) sourceTests.push({ spec, source: node, yaml });
    });
  });
}

/**
 * A source table's `external:` as dbt's ExternalTable serialises it: its five
 * known keys (null when not written) and whatever else was written; a
 * partition written as a mapping gets ExternalPartition's defaults.
 */
function externalTable(value: unknown): Record<string, unknown> | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const raw = value as Record<string, unknown>;
  const partitions = Array.isArray(raw.partitions)
    ? raw.partitions.map((p) =>
      typeof p === "object" && p !== null && !Array.isArray(p)
        ? { name: "", description: "", data_type: "", meta: {}, ...p }
        : p
    )
    : raw.partitions ?? null;
  return {
    location: null,
    file_format: null,
    row_format: null,
    tbl_properties: null,
    ...raw,
    partitions,
  };
}

/**
 * `event_time` of a source table's `config:`, else its source's, else
 * dbt_project.yml's `sources:` block's (a column name).
 */
function sourceEventTime(
  table: Readonly<Record<string, unknown>> | undefined,
  source: Readonly<Record<string, unknown>> | undefined,
  project: Readonly<Record<string, unknown>>,
  file: string,
  uniqueId: string,
): string | undefined {
  const value = table?.event_time ?? source?.event_time ?? project.event_time;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `${uniqueId}: config 'event_time' must be the name of a column (a string), not ` +
        JSON.stringify(value),
      { file },
    );
  }
  return value;
}

/** `enabled` of a source's or table's `config:`, a boolean or YAML's "false" text. */
function sourceConfig(config: Readonly<Record<string, unknown>> | undefined, key: "enabled") {
  const value = config?.[key];
  return typeof value === "string" ? value.trim().toLowerCase() !== "false" : value;
}

function recordOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/** A source's name property with its Jinja rendered (`{{ target.schema }}`, `var()`, `env_var()`). */
function jinjaProperty(
  raw: string | undefined,
  read: ReadProject,
  file: string,
  packageName: string,
): string | undefined {
  if (raw === undefined || (!raw.includes("{{") && !raw.includes("{%"))) return raw;
  return renderString(raw, {
    env: read.env,
    file,
    vars: packageVars(read, packageName),
    target: {
      name: read.target.name,
      type: read.target.type,
      schema: read.target.schema,
      database: read.target.database,
    },
  });
}

/**
 * A DuckDB source's `meta.external_location` (dbt-duckdb): the file or table
 * function it reads in place. Other adapters keep `meta` as free metadata.
 */
function externalLocation(
  read: ReadProject,
  meta: Record<string, unknown>,
  names: Record<string, string>,
  file: string,
): string | undefined {
  const raw = meta.external_location;
  if (read.target.type !== "duckdb" || raw === undefined || raw === null) return undefined;
  // `{{ var(...) }}` / `{{ env_var(...) }}` first (the lake's root differs per deployment),
  // then dbt-duckdb's own `{name}` formatting.
  const location = typeof raw === "string" && raw.includes("{{")
    ? renderString(raw, {
      env: read.env,
      file,
      vars: read.vars,
      target: { name: read.target.name, type: read.target.type, schema: read.target.schema },
    })
    : raw;
  if (typeof location !== "string" || location.trim() === "") {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `source '${names.name}': meta.external_location must be a path or a table function`,
      { file },
    );
  }
  try {
    return externalSourceSql(
      location,
      { ...meta, ...names },
      typeof meta.formatter === "string" ? meta.formatter : undefined,
    );
  } catch (error) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `source '${names.name}': ${toError(error).message}`,
      { file },
      error,
    );
  }
}
