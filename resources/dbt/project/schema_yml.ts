/**
 * The shapes of dbt property files (schema.yml, sources.yml) as zod schemas,
 * and the generic tests they declare, turned into plain test specs.
 *
 * Both `data_tests:` (dbt 1.8+) and `tests:` are read; a generic test's
 * arguments may sit beside its config or under `arguments:` (dbt 1.10+).
 *
 * @module
 */

import { z } from "zod";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { type YamlFile, yamlNumber } from "./yaml.ts";

/** `severity`, `where` and friends of a test's `config:`. */
export const TestConfigSchema = z.looseObject({
  severity: z.string().transform((s) => s.toLowerCase()).pipe(z.enum(["warn", "error"]))
    .optional(),
  where: z.string().optional(),
  enabled: z.union([z.boolean(), z.string()]).optional(),
  warn_if: z.string().optional(),
  error_if: z.string().optional(),
  fail_calc: z.string().optional(),
  limit: yamlNumber(z.number().int().positive()).optional(),
  store_failures: z.boolean().optional(),
  tags: z.union([z.string(), z.array(z.string())]).optional(),
});

/** A test as written in YAML: `unique`, or `{ accepted_values: { values: [...] } }`. */
export const TestEntrySchema = z.union([
  z.string().min(1),
  z.record(z.string(), z.union([z.record(z.string(), z.unknown()), z.null()])).refine(
    (entry) => Object.keys(entry).length === 1,
    { message: "a test entry must have exactly one key, the test name" },
  ),
]);

const tests = z.array(TestEntrySchema).optional();

/** A column of a model or source table. */
export const ColumnSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  data_type: z.string().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  constraints: z.array(z.looseObject({ type: z.string(), expression: z.string().optional() }))
    .optional(),
  data_tests: tests,
  tests,
});

/** A model entry in a schema.yml. */
export const ModelPropertiesSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  columns: z.array(ColumnSchema).optional(),
  data_tests: tests,
  tests,
});

/**
 * A `warn_after`/`error_after` of a freshness rule: dbt's `Time` (a whole count of minutes, hours
 * or days, nothing else), so `period: hours` or `count: 1.5` is refused here as dbt refuses it,
 * not written into a manifest that breaks manifest v12.
 */
const FreshnessTimeSchema = z.strictObject({
  count: yamlNumber(z.number().int().nullable()).optional(),
  period: z.enum(["minute", "hour", "day"]).nullable().optional(),
});

/** `freshness:` of a source or table. */
export const FreshnessSchema = z.looseObject({
  warn_after: FreshnessTimeSchema.nullable().optional(),
  error_after: FreshnessTimeSchema.nullable().optional(),
  filter: z.string().optional(),
}).nullable();

/** A table of a source. */
export const SourceTableSchema = z.looseObject({
  name: z.string().min(1),
  identifier: z.string().optional(),
  quoting: z.record(z.string(), z.unknown()).optional(),
  loaded_at_field: z.string().optional(),
  freshness: FreshnessSchema.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  description: z.string().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  tags: z.union([z.string(), z.array(z.string())]).optional(),
  columns: z.array(ColumnSchema).optional(),
  data_tests: tests,
  tests,
});

/** A source: a schema of tables loaded outside dbt. */
export const SourceSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  schema: z.string().optional(),
  database: z.string().optional(),
  quoting: z.record(z.string(), z.unknown()).optional(),
  loader: z.string().optional(),
  loaded_at_field: z.string().optional(),
  freshness: FreshnessSchema.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  tags: z.union([z.string(), z.array(z.string())]).optional(),
  tables: z.array(SourceTableSchema).default([]),
});

/** A singular test's properties (under `data_tests:` in a file in the test paths). */
export const SingularTestPropertiesSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  config: TestConfigSchema.optional(),
});

/** An `analyses:` entry: documentation and config of an analysis (no tests: it never runs). */
export const AnalysisPropertiesSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  columns: z.array(ColumnSchema).optional(),
});

/** A `groups:` entry: a named owner that models join with `group:` (dbt's access checks). */
export const GroupSchema = z.looseObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier"),
  owner: z.looseObject({
    name: z.string().optional(),
    email: z.union([z.string(), z.array(z.string())]).optional(),
  }).refine((o) => o.name !== undefined || o.email !== undefined, {
    message: "a group's owner needs a name or an email",
  }),
  description: z.string().optional(),
  config: z.looseObject({ meta: z.record(z.string(), z.unknown()).optional() }).optional(),
});

/** Rows of a unit test's `given` or `expect`. */
export const UnitRowsSchema = z.looseObject({
  input: z.string().optional(),
  rows: z.union([z.array(z.record(z.string(), z.unknown())), z.string()]).optional(),
  format: z.enum(["dict", "csv", "sql"]).default("dict"),
  fixture: z.string().optional(),
});

/** A unit test entry (`unit_tests:`). */
export const UnitTestSchema = z.looseObject({
  name: z.string().min(1),
  model: z.string().min(1),
  description: z.string().optional(),
  // dbt: every `given` names its `input` (ref(...)/source(...)); manifest v12 requires it.
  given: z.array(UnitRowsSchema.extend({ input: z.string().min(1) })).default([]),
  expect: UnitRowsSchema,
  overrides: z.looseObject({
    vars: z.record(z.string(), z.unknown()).optional(),
    macros: z.record(z.string(), z.unknown()).optional(),
    env_vars: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  /** Which versions of a versioned model it tests (`include` / `exclude` lists). */
  versions: z.looseObject({
    include: z.array(z.union([z.string(), yamlNumber()])).optional(),
    exclude: z.array(z.union([z.string(), yamlNumber()])).optional(),
  }).optional(),
});

/**
 * An exposure entry, with dbt's rules: `type` and `maturity` from dbt's lists, an `owner` with a
 * `name` or an `email` (dbt refuses an exposure without one; manifest v12 requires `owner`).
 */
export const ExposureSchema = z.looseObject({
  name: z.string().min(1),
  type: z.enum(["dashboard", "notebook", "analysis", "ml", "application"]),
  owner: z.looseObject({
    name: z.string().optional(),
    email: z.union([z.string(), z.array(z.string())]).optional(),
  }).refine((o) => o.name !== undefined || o.email !== undefined, {
    message: "an exposure's owner needs a name or an email",
  }),
  description: z.string().optional(),
  depends_on: z.array(z.string()).default([]),
  url: z.string().optional(),
  maturity: z.enum(["low", "medium", "high"]).optional(),
  label: z.string().optional(),
  tags: z.union([z.string(), z.array(z.string())]).optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
});

/** A whole property file. */
export const PropertiesFileSchema = z.looseObject({
  version: z.union([yamlNumber(), z.string()]).optional(),
  models: z.array(ModelPropertiesSchema).optional(),
  seeds: z.array(ModelPropertiesSchema).optional(),
  snapshots: z.array(ModelPropertiesSchema).optional(),
  unit_tests: z.array(UnitTestSchema).optional(),
  exposures: z.array(ExposureSchema).optional(),
  semantic_models: z.array(z.unknown()).optional(),
  metrics: z.array(z.unknown()).optional(),
  saved_queries: z.array(z.unknown()).optional(),
  sources: z.array(SourceSchema).optional(),
  data_tests: z.array(SingularTestPropertiesSchema).optional(),
  tests: z.array(SingularTestPropertiesSchema).optional(),
  analyses: z.array(AnalysisPropertiesSchema).optional(),
  groups: z.array(GroupSchema).optional(),
});

/**
 * Characters of property YAML from which {@linkcode propertiesFileSchema} gives
 * the compiled schema: compiling costs 70-110 ms in a new process, and saves
 * 250-300 ms of validation per 2.5 MB (10k generated models: runtime zod
 * 380-460 ms cold, compiled 120-170 ms), so it pays from about 1 MB.
 */
export const COMPILE_MIN_CHARS = 1024 * 1024;

let compiled: typeof PropertiesFileSchema | undefined;

/**
 * The schema to validate `chars` characters of property files with: at
 * {@linkcode COMPILE_MIN_CHARS} or more (and once compiled, always),
 * {@linkcode PropertiesFileSchema} compiled by zod itself (`z.compile`: code
 * generated from the schema for the accepted case, zod's own parser for
 * anything the generated code rejects), so the values and the errors are
 * zod's either way (tests/resources/dbt/project/schema_yml_test.ts checks
 * both on generated and broken files).
 */
export function propertiesFileSchema(chars: number): typeof PropertiesFileSchema {
  if (compiled === undefined && chars >= COMPILE_MIN_CHARS) {
    compiled = z.compile(PropertiesFileSchema);
  }
  return compiled ?? PropertiesFileSchema;
}

/** A parsed property file. */
export type PropertiesFile = z.output<typeof PropertiesFileSchema>;
/** A model entry of a property file. */
export type ModelProperties = z.output<typeof ModelPropertiesSchema>;
/** A source entry of a property file. */
export type SourceProperties = z.output<typeof SourceSchema>;
/** A unit test entry. */
export type UnitTestProperties = z.output<typeof UnitTestSchema>;
/** An `analyses:` entry. */
export type AnalysisProperties = z.output<typeof AnalysisPropertiesSchema>;
/** A `groups:` entry. */
export type GroupProperties = z.output<typeof GroupSchema>;
/** A column entry of a property file. */
export type ColumnProperties = z.output<typeof ColumnSchema>;
/** A test entry as written. */
export type TestEntry = z.output<typeof TestEntrySchema>;

/** A generic test declared on a model (or one of its columns). */
export interface GenericTestSpec {
  /** `not_null`, `unique`, `accepted_values`, `relationships`. */
  readonly testName: string;
  /** Column tested, when the test is on a column or names `column_name`. */
  readonly columnName: string | undefined;
  /** The tags of the column it is declared under (dbt adds them to the test's). */
  readonly columnTags?: readonly string[];
  /** The column's `quote: true`: dbt passes its name to the test quoted. */
  readonly columnQuote?: boolean;
  /** Arguments (`values`, `to`, `field`, `quote`...). */
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** `severity`, `where`... */
  readonly config: z.output<typeof TestConfigSchema>;
  /** Path of the entry inside the YAML file, for line numbers. */
  readonly yamlPath: readonly (string | number)[];
}

/**
 * The generic tests of one model entry: its own `data_tests` and those of its
 * columns, in file order. `basePath` is the entry's path in the YAML file.
 */
export function genericTestsOf(
  entry: ModelProperties,
  basePath: readonly (string | number)[],
  yaml: Pick<YamlFile<unknown>, "file" | "lineOf">,
): GenericTestSpec[] {
  const out: GenericTestSpec[] = [];
  const add = (
    list: readonly TestEntry[] | undefined,
    key: string,
    column: string | undefined,
    path: readonly (string | number)[],
  ) => {
    // concat, not a spread literal: V8 grows a spread literal's array as it pushes, leaving
    // ~130 bytes of slack in each of a big project's 30k+ paths, kept as long as the test.
    (list ?? []).forEach((item, i) => out.push(toSpec(item, column, path.concat(key, i), yaml)));
  };
  add(entry.data_tests, "data_tests", undefined, basePath);
  add(entry.tests, "tests", undefined, basePath);
  (entry.columns ?? []).forEach((column, c) => {
    const path = basePath.concat("columns", c);
    const first = out.length;
    add(column.data_tests, "data_tests", column.name, path);
    add(column.tests, "tests", column.name, path);
    // dbt gives a column's tests the column's tags (parse_test: tags=column.tags).
    const tags = [column.tags ?? []].flat().filter((t): t is string => typeof t === "string");
    const quote = column.quote === true;
    if (tags.length === 0 && !quote) return;
    for (let i = first; i < out.length; i++) {
      out[i] = {
        ...out[i]!,
        ...(tags.length > 0 ? { columnTags: tags } : {}),
        ...(quote ? { columnQuote: true } : {}),
      };
    }
  });
  return out;
}

/**
 * Config keys dbt takes from beside a test's arguments (dbt-core's TestBuilder.CONFIG_ARGS):
 * read as the test's config here, and left out of its arguments and its name.
 */
export const TEST_CONFIG_ARGS = [
  "severity",
  "tags",
  "enabled",
  "where",
  "limit",
  "warn_if",
  "error_if",
  "fail_calc",
  "store_failures",
  "store_failures_as",
  "meta",
  "database",
  "schema",
  "alias",
] as const;

/** The arguments and config of a test written as its bare name (most tests): shared, frozen. */
const NONE: Readonly<Record<string, never>> = Object.freeze({});

/**
 * A test's `config:`, validated; a bad value (`severity: warning`) names its file, line and
 * key. It escaped as a bare ZodError with a stack trace (exit 1).
 */
function testConfig(
  config: unknown,
  path: readonly (string | number)[],
  yaml: Pick<YamlFile<unknown>, "file" | "lineOf">,
): z.output<typeof TestConfigSchema> {
  const parsed = TestConfigSchema.safeParse(config);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  const at = path.concat(
    (issue?.path ?? []).filter((p): p is string | number => typeof p !== "symbol"),
  );
  throw new DbtError(
    DbtErrorCode.invalidYaml,
    `at ${at.join(".")}: ${issue?.message ?? "unexpected shape"}`,
    { file: yaml.file, line: yaml.lineOf(at) },
  );
}

function toSpec(
  item: TestEntry,
  column: string | undefined,
  yamlPath: readonly (string | number)[],
  yaml: Pick<YamlFile<unknown>, "file" | "lineOf">,
): GenericTestSpec {
  if (typeof item === "string") {
    return { testName: item, columnName: column, kwargs: NONE, config: NONE, yamlPath };
  }
  const [testName = "", body] = Object.entries(item)[0] ?? [];
  const { config, arguments: args, column_name: columnName, ...rest } = body ?? {};
  const kwargs: Record<string, unknown> = {
    ...rest,
    ...(typeof args === "object" && args !== null ? args as Record<string, unknown> : {}),
  };
  // Most entries have no config: an empty one is valid, and skipping zod for it counts at 30k tests.
  const parsedConfig = config === undefined || config === null
    ? {}
    : testConfig(config, yamlPath.concat(testName, "config"), yaml);
  // dbt reads its config keys written beside the arguments (`where:`, `severity:`, ...) as
  // config (TestBuilder.CONFIG_ARGS); `config:` wins where both say one. Before, only
  // `severity` was: a `where:` there was an argument the test ignored.
  let beside: Record<string, unknown> | undefined;
  for (const key of TEST_CONFIG_ARGS) {
    if (!Object.hasOwn(kwargs, key)) continue;
    const value = kwargs[key];
    delete kwargs[key];
    if (value === undefined || value === null || Object.hasOwn(parsedConfig, key)) continue;
    (beside ??= {})[key] = value;
  }
  return {
    testName,
    columnName: typeof columnName === "string" ? columnName : column,
    kwargs,
    config: beside === undefined
      ? parsedConfig
      : testConfig({ ...parsedConfig, ...beside }, yamlPath.concat(testName), yaml),
    yamlPath,
  };
}
