/**
 * dbt_project.yml config sections (`models:`, `sources:`...) with their Jinja
 * rendered, once per load and tree.
 *
 * @module
 */

import { renderValue } from "../jinja/env.ts";
import type { ReadProject } from "../project/read.ts";

// Per load (its vars and environment), per tree: the parsed dbt_project.yml itself is shared by
// the loads of a process (project/yaml.ts keeps validated files).
const rendered = new WeakMap<ReadProject, WeakMap<object, Record<string, unknown>>>();

/** dbt_project.yml config sections with their Jinja rendered (hooks stay unrendered until run time). */
export function renderConfigTree(
  tree: Record<string, unknown>,
  read: ReadProject,
): Record<string, unknown> {
  let trees = rendered.get(read);
  if (!trees) {
    trees = new WeakMap();
    rendered.set(read, trees);
  }
  const cached = trees.get(tree);
  if (cached) return cached;
  const options = {
    env: read.env,
    file: "dbt_project.yml",
    vars: read.vars,
    target: { name: read.target.name, schema: read.target.schema, type: read.target.type },
  };
  const walk = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return renderValue(value, options);
    }
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [
        key,
        /^\+?(pre|post)[-_]hook$/.test(key) ? child : walk(child),
      ]),
    );
  };
  const out = walk(tree) as Record<string, unknown>;
  trees.set(tree, out);
  return out;
}
