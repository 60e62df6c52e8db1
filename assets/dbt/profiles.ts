/**
 * `profiles.yml`: picks the target of the project's profile and renders its
 * `env_var()` calls, so the runner knows the target name, type and schema.
 *
 * @module
 */

import { z } from "zod";
import { parseYaml } from "./_yaml.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { renderString } from "./jinja.ts";

/** One output of a profile, rendered. Connection fields are kept as written. */
export const TargetSchema = z.looseObject({
  type: z.string().min(1),
  schema: z.string().min(1),
  database: z.string().optional(),
  dbname: z.string().optional(),
  host: z.string().optional(),
  port: z.union([z.number(), z.string()]).optional(),
  user: z.string().optional(),
  threads: z.union([z.number(), z.string()]).optional(),
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
  /** Database name (`dbname`/`database`), or `postgres`. */
  readonly database: string;
  /** Every field of the output, rendered (the password is dropped). */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Options of {@linkcode readTarget}. */
export interface ReadTargetOptions {
  /**
   * Target to use instead of the profile's `target:`.
   * @default {the profile's target}
   */
  readonly target?: string | undefined;
  /**
   * Reads an environment variable for `env_var()`.
   * @default {Deno.env.get}
   */
  readonly env?: ((name: string) => string | undefined) | undefined;
  /**
   * Folder of profiles.yml.
   * @default {the project folder}
   */
  readonly profilesDir?: string | undefined;
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
  const file = "profiles.yml";
  const text = await Deno.readTextFile(`${options.profilesDir ?? projectDir}/${file}`);
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
    return renderString(value, { env, file, line: parsed.lineOf(path) });
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
  for (const [key, value] of Object.entries(output)) {
    if (key === "password" || key === "pass") continue; // never kept, never logged
    fields[key] = render(value, [profileName, "outputs", name, key]);
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
  const database = checked.data.dbname ?? checked.data.database ?? "postgres";
  return { name, type: checked.data.type, schema: checked.data.schema, database, fields };
}
