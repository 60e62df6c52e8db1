/**
 * The parse-flavour render scope of a node (`execute` false, `ref`/`source`
 * not available) and source id resolution, shared by every pass.
 *
 * @module
 */

import { closest } from "../../../core/suggest.ts";
import { DbtErrorCode } from "../errors.ts";
import { envVarOf, raiseInRender, type RenderScope } from "../jinja/env.ts";
import { packageVars, type ReadProject } from "../project/read.ts";
import type { Properties } from "./properties.ts";

/** Scope builders shared by every pass. */
export interface Scopes {
  /** The parse-pass scope of a node of `packageName`. */
  base(packageName: string, name: string): RenderScope;
  /** Resolves `source(a, b)` to its unique id, raising a render error naming the nearest. */
  sourceId(sourceName: string, table: string): string;
  /** Whether `source(a, b)` is declared. */
  hasSource(sourceName: string, table: string): boolean;
}

/** Builds the {@linkcode Scopes} of a project. */
export function scopeFactory(
  read: ReadProject,
  props: Properties,
  invocationId: string | undefined,
): Scopes {
  const target = {
    ...read.target.fields,
    name: read.target.name,
    schema: read.target.schema,
    type: read.target.type,
    database: read.target.database,
    dbname: read.target.database,
    threads: read.target.threads,
    profile_name: read.projectFile.profile ?? read.projectFile.name,
    // dbt's target dict names the target twice (`name` and `target_name`: its default query comment reads the latter).
    target_name: read.target.name,
  };
  const varOf = (
    vars: Readonly<Record<string, unknown>>,
    key: string,
    fallback: unknown,
    hasDefault: boolean,
  ): unknown => {
    if (Object.hasOwn(vars, key)) return vars[key];
    if (hasDefault) return fallback;
    return raiseInRender(
      DbtErrorCode.renderFailed,
      `var('${key}') is not defined: add it under 'vars:' in dbt_project.yml or give a default`,
    );
  };
  const findSource = (s: string, t: string): string | undefined => {
    for (const pkg of read.packages) {
      const id = `source.${pkg.name}.${s}.${t}`;
      if (props.sources.has(id)) return id;
    }
    return undefined;
  };
  const sourceId = (s: string, t: string): string => {
    const found = findSource(s, t);
    if (found) return found;
    const known = [...props.sources.values()].map((x) => `${x.sourceName}.${x.name}`);
    const near = closest(`${s}.${t}`, known);
    return raiseInRender(
      DbtErrorCode.unknownSource,
      `source('${s}', '${t}') is not declared in any sources.yml` +
        (near ? ` (did you mean '${near}'?)` : ""),
    );
  };
  return {
    base: (packageName, name) => ({
      ref: () => raiseInRender(DbtErrorCode.unknownRef, "ref() is not available here"),
      source: () => raiseInRender(DbtErrorCode.unknownSource, "source() is not available here"),
      config: () => {},
      var: (key, fallback, hasDefault) =>
        varOf(packageVars(read, packageName), key, fallback, hasDefault),
      envVar: (key, fallback) => envVarOf(read.env, key, fallback),
      isIncremental: () => false,
      self: undefined,
      target,
      execute: false,
      packageName,
      model: { name, package_name: packageName },
      invocationId: invocationId ?? "",
    }),
    sourceId,
    hasSource: (s, t) => findSource(s, t) !== undefined,
  };
}
