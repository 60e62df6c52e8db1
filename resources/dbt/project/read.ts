/**
 * Reading a project from disk: dbt_project.yml, the target of profiles.yml,
 * vars, and the files of the project and of each installed package (models,
 * macros, tests, seeds, snapshots, docs, property YAML). No Jinja runs here
 * except what dbt_project.yml and profiles.yml values need.
 *
 * @module
 */

import { z } from "zod";
import {
  FolderListing,
  knownText,
  listPaths,
  listSources,
  type ProjectSource,
  readSourceText,
  rememberText,
} from "../_files.ts";
import { CACHE_FILE, ParseCache } from "../_cache.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { type ProjectFile, readProjectFile } from "./project_file.ts";
import { checkProjectKeys, checkRequiredDbtVersion } from "./project_keys.ts";
import { readTarget, type Target } from "./profiles.ts";
import { parseYaml, type YamlFile } from "./yaml.ts";
import { type PropertiesFile, propertiesFileSchema } from "./schema_yml.ts";
import { type YamlRead, YamlWorker } from "./yaml_pool.ts";

/** The files of one package (the root project is a package too). */
export interface PackageFiles {
  /** Package (project) name. */
  readonly name: string;
  /** Folder on disk. */
  readonly dir: string;
  /** Prefix of its files relative to the root project (`""` or `dbt_packages/x/`). */
  readonly prefix: string;
  /** Its dbt_project.yml. */
  readonly projectFile: ProjectFile;
  /** `.sql` files of the model paths. */
  readonly models: readonly ProjectSource[];
  /** `.sql` files of the macro paths. */
  readonly macros: readonly ProjectSource[];
  /** `.sql` files of the test paths (singular tests, and `{% test %}` blocks in tests/generic). */
  readonly tests: readonly ProjectSource[];
  /**
   * Unit test fixture files: `.csv` and `.sql` under `<test path>/fixtures/`
   * (not singular tests, as in dbt), found by `fixture: <name>`.
   */
  readonly fixtures: readonly ProjectSource[];
  /** `.csv` files of the seed paths (text not read: seeds can be big). */
  readonly seeds: readonly SeedFile[];
  /** `.sql` files of the snapshot paths. */
  readonly snapshots: readonly ProjectSource[];
  /** `.md` files (docs blocks) of the docs paths. */
  readonly docs: readonly ProjectSource[];
  /** `.sql` files of the analysis paths (none unless `analysis-paths` is set, as in dbt). */
  readonly analyses: readonly ProjectSource[];
  /** Property files (.yml) of every resource path, parsed. */
  readonly properties: readonly YamlFile<PropertiesFile>[];
}

/** A seed file found on disk. */
export interface SeedFile {
  /** Path relative to the root project. */
  readonly file: string;
  /** Path relative to its seed path. */
  readonly path: string;
  /** Absolute (or cwd-relative) path to read it. */
  readonly fullPath: string;
  /** sha256 of its bytes, for the manifest and state:modified. */
  readonly checksum: string;
}

/** Options of {@linkcode readProject}. */
export interface ReadProjectOptions {
  /** Target of profiles.yml (`--target`). */
  readonly target?: string | undefined;
  /** Vars overriding dbt_project.yml's (`--vars`). */
  readonly vars?: Readonly<Record<string, unknown>> | undefined;
  /** Reads environment variables. */
  readonly env?: ((name: string) => string | undefined) | undefined;
  /** Folder of profiles.yml (`--profiles-dir`). */
  readonly profilesDir?: string | undefined;
  /**
   * Database of the warehouse built in when a warehouse URL overrides the
   * profile (profiles.ts `warehouseDatabase`).
   * @default {the profile's}
   */
  readonly database?: string | undefined;
  /**
   * Where target/ (artifacts, parse cache) goes. A relative `target-path`
   * is resolved against it instead of the project folder, so a read-only
   * code tree still works.
   * @default {the project folder}
   */
  readonly targetDir?: string | undefined;
  /** `target-path` override (`--target-path`, DBT_TARGET_PATH), relative to the working directory. */
  readonly targetPath?: string | undefined;
  /**
   * Use and update the parse cache.
   * @default {true}
   */
  readonly cache?: boolean | undefined;
  /**
   * Parse property YAML on a worker thread while the main thread reads the
   * SQL (project/yaml_pool.ts): `true` always, `false` never; by default
   * when this process has not read the files yet, the parse cache holds no
   * YAML, and they add up to {@linkcode PARALLEL_YAML_MIN_BYTES} or more.
   */
  readonly parallel?: boolean | undefined;
  /**
   * Called once every package's SQL, macros and other files are read and
   * their property YAML is handed to the parse worker, before this thread
   * waits for (or parses) that YAML: work that needs no properties (loading
   * the macros, static parses) done here runs while the worker parses. It
   * must not throw (keep an error for later: the YAML's errors come first).
   * Not called when reading stopped on an error.
   */
  readonly beforeProperties?: ((sources: ProjectSources) => void) | undefined;
}

/** A package's files before its property YAML is parsed. */
export type PackageSources = Omit<PackageFiles, "properties">;

/** What {@linkcode ReadProjectOptions.beforeProperties} is given: the project without its properties. */
export interface ProjectSources
  extends Omit<ReadProject, "packages" | "selectors" | "defaultSelector"> {
  /** The root project first, then installed packages, without their property files. */
  readonly packages: readonly PackageSources[];
}

/**
 * Property YAML below this size is parsed on the main thread: starting the
 * worker (a V8 isolate loading js-yaml) costs about what js-yaml takes for
 * this much YAML.
 */
export const PARALLEL_YAML_MIN_BYTES = 256 * 1024;

/** What {@linkcode readProject} returns. */
export interface ReadProject {
  /** Project folder. */
  readonly dir: string;
  /** The root project's dbt_project.yml. */
  readonly projectFile: ProjectFile;
  /** The target. */
  readonly target: Target;
  /** Vars: the project's, overridden by the caller's. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** The caller's vars (`--vars`), which override every project's. */
  readonly cliVars: Readonly<Record<string, unknown>>;
  /** Where artifacts go. */
  readonly targetPath: string;
  /** The root project first, then installed packages. */
  readonly packages: readonly PackageFiles[];
  /** The parse cache. */
  readonly cache: ParseCache;
  /** Reads environment variables. */
  readonly env: (name: string) => string | undefined;
  /** selectors.yml definitions by name. */
  readonly selectors: Readonly<Record<string, unknown>>;
  /** The selector with `default: true`, used when a command selects nothing itself. */
  readonly defaultSelector?: string;
  /** What went wrong without changing the result (a crashed parse worker). */
  readonly warnings?: readonly string[];
}

/**
 * `selectors.yml`: `selectors: [{name, definition, default}]`, definitions by
 * name and the one marked `default: true`. A Jinja `default` is refused by
 * name (it is not rendered here), as are two defaults (dbt refuses them too).
 */
async function readSelectors(
  dir: string,
): Promise<{ selectors: Record<string, unknown>; defaultSelector?: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/selectors.yml`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { selectors: {} };
    throw error;
  }
  const file = parseYaml(text, "selectors.yml", SelectorsSchema);
  const entries = file.value.selectors;
  for (const s of entries) {
    if (s.default !== undefined && typeof s.default !== "boolean") {
      throw new DbtError(
        DbtErrorCode.unsupported,
        `selector '${s.name}': default: ${
          JSON.stringify(s.default)
        } is not supported (write true or false; Jinja in default is not rendered)`,
        { file: "selectors.yml" },
      );
    }
  }
  const defaults = entries.filter((s) => s.default === true).map((s) => s.name);
  if (defaults.length > 1) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `selectors ${defaults.join(", ")} all set default: true; only one may`,
      { file: "selectors.yml" },
    );
  }
  const selectors = Object.fromEntries(entries.map((s) => [s.name, s.definition]));
  return defaults[0] === undefined ? { selectors } : { selectors, defaultSelector: defaults[0] };
}

const SelectorsSchema = z.looseObject({
  selectors: z.array(
    z.looseObject({
      name: z.string().min(1),
      definition: z.unknown(),
      default: z.union([z.boolean(), z.string()]).optional(),
    }),
  ).default([]),
});

/** Reads the project in `dir` and its installed packages. */
export async function readProject(
  dir: string,
  options: ReadProjectOptions = {},
): Promise<ReadProject> {
  const projectFile = await readProjectFile(dir);
  const env = options.env ?? ((key: string) => Deno.env.get(key));
  const target = await readTarget(dir, projectFile.profile ?? projectFile.name, {
    target: options.target,
    env,
    profilesDir: options.profilesDir,
    database: options.database,
  });
  const vars = projectVars(projectFile, options.vars);
  const targetPath = options.targetPath ??
    resolveTargetPath(dir, projectFile["target-path"], options.targetDir);
  const cache = options.cache === false
    ? ParseCache.empty()
    : await ParseCache.read(`${targetPath}/${CACHE_FILE}`);
  let worker: YamlWorker | undefined;
  const offload: Offload = (files) => {
    if (options.parallel === false || cache.hasYaml) return undefined;
    const fresh = files.filter((f) => !knownText(f.path));
    if (fresh.length === 0) return undefined;
    if (options.parallel !== true) {
      let bytes = 0;
      for (const f of fresh) bytes += Deno.statSync(f.path).size;
      if (bytes < PARALLEL_YAML_MIN_BYTES) return undefined;
    }
    worker ??= new YamlWorker();
    const job = worker.read(fresh);
    return {
      finish: async () => {
        const reads = job.readRest() ?? await job.done;
        return new Map(fresh.map((f, i) => [f.path, reads[i] as YamlRead]));
      },
    };
  };
  try {
    const cliVars = options.vars ?? {};
    const read = await readAll(
      { dir, projectFile, target, vars, cliVars, targetPath, cache, env },
      offload,
      options.beforeProperties,
    );
    const crash = worker?.crash;
    return crash
      ? { ...read, warnings: [...(read.warnings ?? []), `${crash.message} [${crash.code}]`] }
      : read;
  } finally {
    worker?.close();
  }
}

/**
 * Starts reading `files` off the main thread, or says no (undefined);
 * `finish` reads what the worker has not started on this thread and gives
 * every file's read by path.
 */
type Offload = (
  files: readonly { readonly path: string; readonly file: string }[],
) => { finish(): Promise<Map<string, YamlRead>> } | undefined;

/** The packages and selectors of a project whose settings are read. */
async function readAll(
  settings: Omit<ReadProject, "packages" | "selectors" | "defaultSelector">,
  offload: Offload,
  beforeProperties: ((sources: ProjectSources) => void) | undefined,
): Promise<ReadProject> {
  const { dir, projectFile, cache } = settings;
  const versionCheck = !/^(false|0|no)$/i.test(settings.env("DBT_VERSION_CHECK") ?? "");
  const warnings = checkProjectKeys(projectFile, "dbt_project.yml");
  if (versionCheck) {
    checkRequiredDbtVersion(
      projectFile["require-dbt-version"],
      projectFile.name,
      "dbt_project.yml",
    );
  }
  // Every package's files first, its YAML handed to the worker; then the YAML of each, in
  // order. An error while reading a package is thrown where it was before: after the property
  // files of the packages before it.
  const read: ReadPackage[] = [];
  let stopped: { error: unknown } | undefined;
  try {
    read.push(await readPackage(dir, "", projectFile, offload));
    const installPath = `${dir}/${projectFile["packages-install-path"]}`;
    for (const name of await listFolders(installPath)) {
      const packageDir = `${installPath}/${name}`;
      const prefix = `${projectFile["packages-install-path"]}/${name}/`;
      const packageFile = await readProjectFile(packageDir, prefix);
      if (packageFile.name === projectFile.name) continue; // a project installed into itself
      // A package's keys are its maintainer's business; its version range is the user's.
      if (versionCheck) {
        checkRequiredDbtVersion(
          packageFile["require-dbt-version"],
          packageFile.name,
          `${prefix}dbt_project.yml`,
        );
      }
      read.push(await readPackage(packageDir, prefix, packageFile, offload));
    }
  } catch (error) {
    stopped = { error };
  }
  if (!stopped) beforeProperties?.({ ...settings, packages: read.map((p) => p.sources) });
  const packages: PackageFiles[] = [];
  for (const pkg of read) packages.push(await pkg.properties(cache));
  if (stopped) throw stopped.error;
  const selectors = await readSelectors(dir);
  return { ...settings, packages, ...selectors, ...(warnings.length > 0 ? { warnings } : {}) };
}

/** The target folder: absolute stays; relative goes under `targetDir`, else the project. */
export function resolveTargetPath(
  dir: string,
  targetPathSetting: string,
  targetDir: string | undefined,
): string {
  if (targetPathSetting.startsWith("/")) return targetPathSetting;
  return `${targetDir ?? dir}/${targetPathSetting}`;
}

/** Project vars: globals, then the root project's own section, then the caller's. */
function projectVars(
  projectFile: ProjectFile,
  overrides: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(projectFile.vars)) {
    // A map named after the project holds that project's vars (dbt's scoped vars).
    if (key === projectFile.name && typeof value === "object" && value !== null) {
      Object.assign(vars, value);
    } else vars[key] = value;
  }
  return { ...vars, ...(overrides ?? {}) };
}

async function listFolders(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory || entry.isSymlink) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort();
}

/** A package whose files are read, its property YAML handed to the worker. */
interface ReadPackage {
  /** Its files but the properties. */
  readonly sources: PackageSources;
  /** The package with its property files, parsed and validated (errors in file order). */
  properties(cache: ParseCache): Promise<PackageFiles>;
}

async function readPackage(
  dir: string,
  prefix: string,
  projectFile: ProjectFile,
  offload: Offload,
): Promise<ReadPackage> {
  // Property files first: their YAML is parsed off the main thread while it reads the rest.
  const listing = new FolderListing();
  const yamlFiles: { path: string; file: string }[] = [];
  for (
    const root of [
      ...projectFile["model-paths"],
      ...projectFile["test-paths"],
      ...projectFile["snapshot-paths"],
      ...projectFile["macro-paths"],
      ...projectFile["seed-paths"],
      ...projectFile["analysis-paths"] ?? [],
    ]
  ) {
    const base = root.replace(/\/+$/, "");
    for (const path of await listPaths(dir, root, [".yml", ".yaml"], listing)) {
      if (`${base}/${path}`.endsWith("dbt_project.yml")) continue;
      yamlFiles.push({ path: `${dir}/${base}/${path}`, file: `${prefix}${base}/${path}` });
    }
  }
  const offloaded = offload(yamlFiles);
  const list = async (roots: readonly string[], extensions: readonly string[]) =>
    (await Promise.all(roots.map((root) => listSources(dir, root, extensions, listing))))
      .flat()
      .map((s) => ({ ...s, file: `${prefix}${s.file}` }));
  // dbt's default: every resource path.
  const docsPaths = projectFile["docs-paths"] ??
    [
      ...new Set([
        ...projectFile["model-paths"],
        ...projectFile["seed-paths"],
        ...projectFile["analysis-paths"] ?? [],
        ...projectFile["test-paths"],
        ...projectFile["macro-paths"],
        ...projectFile["snapshot-paths"],
      ]),
    ];
  const [models, macros, testFiles, snapshots, docs, analyses, fixtures] = await Promise.all([
    list(projectFile["model-paths"], [".sql", ".py"]),
    list(projectFile["macro-paths"], [".sql"]),
    list(projectFile["test-paths"], [".sql"]),
    list(projectFile["snapshot-paths"], [".sql"]),
    list(docsPaths, [".md"]),
    list(projectFile["analysis-paths"] ?? [], [".sql"]),
    list(projectFile["test-paths"].map((p) => `${p.replace(/\/+$/, "")}/fixtures`), [
      ".csv",
      ".sql",
    ]),
  ]);
  // A test path's fixtures/ folder holds unit test fixtures, never singular tests.
  const tests = testFiles.filter((t) => !t.path.startsWith("fixtures/"));
  const seeds: SeedFile[] = [];
  for (const root of projectFile["seed-paths"]) {
    for (const path of await listPaths(dir, root, [".csv"], listing)) {
      const fullPath = `${dir}/${root}/${path}`;
      const bytes = await Deno.readFile(fullPath);
      seeds.push({
        file: `${prefix}${root}/${path}`,
        path,
        fullPath,
        checksum: await sha256(bytes),
      });
    }
  }
  const sources: PackageSources = {
    name: projectFile.name,
    dir,
    prefix,
    projectFile,
    models,
    macros,
    tests,
    fixtures,
    seeds,
    snapshots,
    docs,
    analyses,
  };
  const parseProperties = async (cache: ParseCache): Promise<YamlFile<PropertiesFile>[]> => {
    const reads = await offloaded?.finish();
    // Texts first, in file order (a file that cannot be read throws where it did): their size
    // says whether compiling the schema pays.
    const inputs = yamlFiles.map(({ path }) => {
      const read = reads?.get(path);
      if (read === undefined || read.kind === "unread") {
        try {
          return { text: readSourceText(path), parsed: undefined };
        } catch (error) {
          return { error };
        }
      }
      rememberText(path, read.text, read.readAt);
      return { text: read.text, parsed: read.kind === "parsed" ? read : undefined };
    });
    let chars = 0;
    for (const input of inputs) chars += input.text?.length ?? 0;
    const schema = propertiesFileSchema(chars);
    // Validated here, in file order, with or without the worker: the same values, the same first error.
    const files = yamlFiles.map(({ file }, i) => {
      const input = inputs[i] as (typeof inputs)[number];
      if (input.text === undefined) throw input.error;
      return parseYaml(input.text, file, schema, cache, input.parsed);
    });
    return files;
  };
  return {
    sources,
    properties: async (cache) => ({ ...sources, properties: await parseProperties(cache) }),
  };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const PACKAGE_VARS = new WeakMap<ReadProject, Map<string, Readonly<Record<string, unknown>>>>();

/**
 * The vars a node of `packageName` sees, as dbt-core's ModelConfiguredVar
 * merges them: the package's own dbt_project.yml (its global vars, then its
 * section named after itself), then the root project's (globals, then the
 * section named after the package), then `--vars`. The root's nodes see
 * {@linkcode ReadProject.vars}. A package's defaults (fivetran's
 * `vars: {stripe_source: {...}}`, `x_pass_through_columns: []`) reach its models.
 */
export function packageVars(
  read: ReadProject,
  packageName: string,
): Readonly<Record<string, unknown>> {
  if (packageName === read.projectFile.name) return read.vars;
  let byPackage = PACKAGE_VARS.get(read);
  if (!byPackage) PACKAGE_VARS.set(read, byPackage = new Map());
  const known = byPackage.get(packageName);
  if (known) return known;
  const section = (vars: Readonly<Record<string, unknown>> | undefined) => {
    const value = vars?.[packageName];
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
  };
  const own = read.packages.find((p) => p.name === packageName)?.projectFile.vars;
  const root = read.projectFile.vars;
  const merged = {
    ...own,
    ...section(own),
    ...root,
    ...section(root),
    ...read.cliVars,
  };
  byPackage.set(packageName, merged);
  return merged;
}
