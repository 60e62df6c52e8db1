/**
 * `profiles.yml`: picks the target of the project's profile and renders its
 * `env_var()` calls, so the runner knows the target name, type and schema.
 *
 * @module
 */

import { z } from "zod";
import { parseYaml, yamlNumber } from "./yaml.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { renderString } from "../jinja/env.ts";

/** One output of a profile, rendered. Connection fields are kept as written. */
export const TargetSchema = z.looseObject({
  type: z.string().min(1),
  // dbt-duckdb defaults the schema to `main`; every other adapter needs one.
  schema: z.string().min(1).optional(),
  database: z.string().optional(),
  dbname: z.string().optional(),
  host: z.string().optional(),
  port: z.union([yamlNumber(), z.string()]).optional(),
  user: z.string().optional(),
  threads: z.union([yamlNumber(), z.string()]).optional(),
});

const ProfileSchema = z.looseObject({
  target: z.string().min(1),
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())),
});

const ProfilesFileSchema = z.record(z.string(), z.unknown());

/** The target a run builds in. */
export interface Target {
  /** Target name, e.g. `embedded`. */
  readonly name: string;
  /** Adapter type as written (`postgres`). */
  readonly type: string;
  /** Schema models go to unless `+schema` says more. */
  readonly schema: string;
  /**
   * Database name (`dbname`/`database`, or `postgres`; `postgres` for the embedded PGlite;
   * DuckDB: the file's base name, or `memory`).
   */
  readonly database: string;
  /** Every field of the output, rendered (the password is dropped). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** The password, rendered, kept apart so it is never printed or written. */
  readonly secret: string | undefined;
  /** Threads (`threads:`), 1 when absent. */
  readonly threads: number;
  /** The profiles.yml file it came from. */
  readonly profilesFile: string;
}

/** Options of {@linkcode readTarget}. */
export interface ReadTargetOptions {
  /**
   * Target to use instead of the profile's `target:`.
   * @default {the profile's target}
   */
  readonly target?: string | undefined;
  /**
   * The database (catalog) of the warehouse actually built in, when it is
   * not the profile's (`--warehouse-url`, WAREHOUSE_URL): relations print it,
   * so it must be the connected one. See {@linkcode warehouseDatabase}.
   * @default {the profile's}
   */
  readonly database?: string | undefined;
  /**
   * Reads an environment variable for `env_var()`.
   * @default {Deno.env.get}
   */
  readonly env?: ((name: string) => string | undefined) | undefined;
  /**
   * Folder of profiles.yml (`--profiles-dir`).
   * @default {DBT_PROFILES_DIR, else the project folder, else the working directory, else ~/.dbt}
   */
  readonly profilesDir?: string | undefined;
}

/**
 * Where profiles.yml is, the way dbt looks: `--profiles-dir`, then
 * `DBT_PROFILES_DIR` (relative to the working directory), then the project
 * folder, then the working directory (INIT_CWD under `deno task`), then
 * `~/.dbt`. Throws `dbt.profile_not_found` listing every place tried.
 */
export async function findProfilesFile(
  projectDir: string,
  options: Pick<ReadTargetOptions, "profilesDir" | "env"> = {},
): Promise<string> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const tried: string[] = [];
  const exists = async (path: string) => {
    tried.push(path);
    try {
      return (await Deno.stat(path)).isFile;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return false;
      }
      throw error;
    }
  };
  // "The working directory" is where the user typed the command: `deno task` runs in the
  // repository and names that folder INIT_CWD (a project elsewhere keeps its profiles.yml in
  // the shell's folder, as dbt-core finds it there).
  const workingDir = env("INIT_CWD") ?? Deno.cwd();
  const explicit = options.profilesDir ?? env("DBT_PROFILES_DIR");
  if (explicit !== undefined && explicit !== "") {
    const folder = explicit.startsWith("/") ? explicit : `${workingDir}/${explicit}`;
    const path = `${folder}/profiles.yml`;
    if (await exists(path)) return path;
    throw new DbtError(
      DbtErrorCode.profileNotFound,
      `no profiles.yml in ${explicit} (from ${
        options.profilesDir !== undefined ? "--profiles-dir" : "DBT_PROFILES_DIR"
      }); create it there or point the setting at the folder that has it`,
      { file: path },
    );
  }
  const home = env("HOME") ?? env("USERPROFILE");
  const candidates = [projectDir, workingDir, ...(home ? [`${home}/.dbt`] : [])];
  // Once each: a project in the folder the command was typed in was listed twice.
  for (const dir of new Set(candidates)) {
    const path = `${dir}/profiles.yml`;
    if (await exists(path)) return path;
  }
  throw new DbtError(
    DbtErrorCode.profileNotFound,
    `no profiles.yml found (looked in ${tried.join(", ")}); write one in ~/.dbt/, ` +
      "or pass --profiles-dir / set DBT_PROFILES_DIR",
    { file: "profiles.yml" },
  );
}

/**
 * Reads `profiles.yml` and returns the chosen output of `profileName`.
 * Throws `dbt.invalid_project` naming the profile or target that is missing.
 */
export async function readTarget(
  projectDir: string,
  profileName: string,
  options: ReadTargetOptions = {},
): Promise<Target> {
  const path = await findProfilesFile(projectDir, options);
  const text = await Deno.readTextFile(path);
  // Errors name the file as the user knows it: relative when it is the project's own.
  const file = path === `${projectDir}/profiles.yml` ? "profiles.yml" : path;
  const parsed = parseYaml(text, file, ProfilesFileSchema);
  const raw = parsed.value[profileName];
  if (raw === undefined) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `profile '${profileName}' (named in dbt_project.yml) is not in profiles.yml; ` +
        `add it or change 'profile:' (known: ${Object.keys(parsed.value).join(", ") || "none"})`,
      { file },
    );
  }
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const render = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value !== "string" || !value.includes("{")) return value;
    return renderString(value, { env, file, line: parsed.lineOf(path), allowSecrets: true });
  };
  const profile = ProfileSchema.safeParse(raw);
  if (!profile.success) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `profile '${profileName}' needs 'target:' and 'outputs:'`,
      { file, line: parsed.lineOf([profileName]) },
    );
  }
  const name = options.target ??
    String(render(profile.data.target, [profileName, "target"]));
  const output = profile.data.outputs[name];
  if (!output) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `target '${name}' is not an output of profile '${profileName}' ` +
        `(outputs: ${Object.keys(profile.data.outputs).join(", ")})`,
      { file, line: parsed.lineOf([profileName, "outputs"]) },
    );
  }
  const fields: Record<string, unknown> = {};
  let secret: string | undefined;
  for (const [key, value] of Object.entries(output)) {
    const rendered = render(value, [profileName, "outputs", name, key]);
    if (key === "password" || key === "pass") {
      secret = rendered === undefined || rendered === null ? undefined : String(rendered);
      continue; // never in fields: they reach artifacts and logs
    }
    fields[key] = rendered;
  }
  const checked = TargetSchema.safeParse(fields);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `output '${name}': ${issue?.path.join(".")}: ${issue?.message}`,
      { file, line: parsed.lineOf([profileName, "outputs", name]) },
    );
  }
  const duckdb = checked.data.type === "duckdb";
  const schema = checked.data.schema ?? (duckdb ? "main" : undefined);
  if (schema === undefined) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `output '${name}': schema: is required`,
      { file, line: parsed.lineOf([profileName, "outputs", name]) },
    );
  }
  // Without a host the warehouse is the embedded PGlite, whose one database is `postgres`:
  // relations print with their database, so it must be the one connected to.
  const embedded = checked.data.type === "postgres" && (checked.data.host ?? "").trim() === "";
  const database = options.database !== undefined
    ? options.database
    : duckdb
    ? duckdbDatabase(fields.path)
    : embedded
    ? PGLITE_DATABASE
    : checked.data.dbname ?? checked.data.database ?? "postgres";
  const threads = Number(checked.data.threads ?? 1);
  if (!Number.isInteger(threads) || threads < 1) {
    // dbt-core refuses the profile too; running on 1 thread hid the typo.
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `output '${name}': threads must be a whole number >= 1, got '${
        String(checked.data.threads)
      }'`,
      { file, line: parsed.lineOf([profileName, "outputs", name, "threads"]) },
    );
  }
  return {
    name,
    type: checked.data.type,
    schema,
    database,
    fields,
    secret,
    threads,
    profilesFile: path,
  };
}

/** The database of the embedded PGlite warehouse (its `current_database()`). */
const PGLITE_DATABASE = "postgres";

/**
 * The catalog DuckDB names a database file: its base name up to the first
 * dot (`/tmp/a/dbfile.duckdb` is `dbfile`, `a.b.duckdb` is `a`, as
 * `current_database()` answers), or `memory` in memory.
 */
function duckdbDatabase(path: unknown): string {
  if (path === undefined || path === null || path === ":memory:") return "memory";
  const base = String(path).split("/").pop() ?? "";
  return base.replace(/\..*$/, "") || "memory";
}

/**
 * The database (catalog) a warehouse URL connects to, as its
 * `current_database()` answers: `pglite:` is `postgres` (PGlite's one
 * database); `postgres://…/name` is `name`, without one PGDATABASE, else the
 * URL's user, else PGUSER, else `postgres` (postgres.js' defaults); `duckdb:`
 * is the file's catalog name (`analytics.duckdb` is `analytics`) or `memory`.
 * A run given a warehouse URL that overrides the profile compiles with it:
 * relations print `"database"."schema"."identifier"`, and a database taken
 * from the profile (`:memory:` is `memory`) names a catalog that is not there.
 *
 * @example
 * ```ts
 * import { warehouseDatabase } from "./profiles.ts";
 * console.log(warehouseDatabase("duckdb:/data/analytics.duckdb?threads=2")); // analytics
 * console.log(warehouseDatabase("postgres://me@db:5432/shop")); // shop
 * ```
 */
export function warehouseDatabase(
  url: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string | undefined {
  if (url.startsWith("pglite:")) return PGLITE_DATABASE;
  if (url.startsWith("duckdb:")) {
    let rest = url.slice("duckdb:".length);
    if (rest.startsWith("//")) rest = rest.slice(2);
    return duckdbDatabase(rest.replace(/\?.*$/, ""));
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined; // opening it says what is wrong, naming the (redacted) URL
    }
    const name = decodeURIComponent(parsed.pathname.replace(/^\/+/, ""));
    const user = decodeURIComponent(parsed.username);
    return name || env("PGDATABASE") || user || env("PGUSER") || "postgres";
  }
  return undefined;
}
