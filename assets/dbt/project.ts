/**
 * `dbt_project.yml`: name, profile, paths, vars and the hierarchical model
 * configs (`+materialized`, `+schema`...) that apply by folder.
 *
 * @module
 */

import { z } from "zod";
import { parseYaml } from "./_yaml.ts";

const paths = (fallback: string) => z.array(z.string().min(1)).default([fallback]);

/** The zod schema of `dbt_project.yml` (the fields the runner reads; others are kept). */
export const ProjectFileSchema = z.looseObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a lowercase identifier"),
  version: z.union([z.string(), z.number()]).optional(),
  "config-version": z.number().optional(),
  profile: z.string().min(1).optional(),
  "model-paths": paths("models"),
  "macro-paths": paths("macros"),
  "test-paths": paths("tests"),
  "target-path": z.string().default("target"),
  vars: z.record(z.string(), z.unknown()).default({}),
  models: z.record(z.string(), z.unknown()).default({}),
});

/** A parsed `dbt_project.yml`. */
export type ProjectFile = z.output<typeof ProjectFileSchema>;

/** Reads and validates `dbt_project.yml` of `projectDir`. */
export async function readProjectFile(projectDir: string): Promise<ProjectFile> {
  const file = "dbt_project.yml";
  const text = await Deno.readTextFile(`${projectDir}/${file}`);
  return parseYaml(text, file, ProjectFileSchema).value;
}

/** Config keys that may be written without `+` in `dbt_project.yml` (legacy style). */
const KNOWN_CONFIGS = new Set([
  "materialized",
  "schema",
  "alias",
  "database",
  "tags",
  "enabled",
  "unique_key",
  "incremental_strategy",
  "full_refresh",
  "meta",
  "docs",
  "persist_docs",
  "on_schema_change",
  "pre-hook",
  "post-hook",
  "grants",
  "contract",
]);

/**
 * The configs `dbt_project.yml` gives a model at `fqnPath` (its folders and
 * name, without the project name), the deeper level winning; `tags` add up.
 *
 * @example
 * ```ts
 * import { folderConfig } from "./project.ts";
 * const models = { demo: { "+materialized": "view", marts: { "+materialized": "table" } } };
 * folderConfig(models, "demo", ["marts", "fct"]); // { materialized: "table" }
 * ```
 */
export function folderConfig(
  models: Readonly<Record<string, unknown>>,
  projectName: string,
  fqnPath: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let level: unknown = models[projectName];
  const apply = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const name = key.startsWith("+") ? key.slice(1) : key;
      if (!key.startsWith("+") && !KNOWN_CONFIGS.has(key)) continue; // a sub-folder
      if (!key.startsWith("+") && typeof value === "object" && value !== null && name !== "meta") {
        continue; // a folder that happens to share a config's name
      }
      if (name === "tags") {
        const prior = Array.isArray(out.tags) ? out.tags as unknown[] : [];
        out.tags = [...prior, ...(Array.isArray(value) ? value : [value])];
      } else {
        out[name] = value;
      }
    }
  };
  apply(level);
  for (const segment of fqnPath) {
    if (typeof level !== "object" || level === null) break;
    level = (level as Record<string, unknown>)[segment];
    apply(level);
  }
  return out;
}
