/**
 * Hooks (`pre-hook`, `post-hook`, `on-run-start`, `on-run-end`): Jinja
 * rendered at run time, with `run_query` answered by the warehouse.
 *
 * @module
 */

import { JinjaEnv } from "../jinja/env.ts";
import type { DbtProject, QueryResult } from "../nodes.ts";
import type { Relation } from "../relation.ts";
import { envVarOf } from "../jinja/env.ts";
import { DbtErrorCode } from "../errors.ts";
import { raiseInRender } from "../jinja/env.ts";

let hookEnv: JinjaEnv | undefined;

/** Renders a hook's text for `project` (`this` is `self` for model hooks). */
export async function renderHookText(
  project: DbtProject,
  text: string,
  where: {
    readonly file: string;
    readonly self?: Relation | undefined;
    readonly query: (sql: string) => Promise<QueryResult>;
  },
): Promise<string> {
  if (!text.includes("{{") && !text.includes("{%")) return text;
  hookEnv ??= new JinjaEnv();
  const env = hookEnv;
  const nodeOf = (name: string) =>
    project.models.get(name) ?? project.seeds.get(name) ?? project.snapshots.get(name);
  return await env.renderAsync(env.compile(text, where.file), {
    ref: (name) =>
      nodeOf(name)?.relation ??
        raiseInRender(DbtErrorCode.unknownRef, `ref('${name}') names no node`),
    source: (s, t) =>
      [...project.sources.values()].find((x) => x.sourceName === s && x.name === t)?.relation ??
        raiseInRender(DbtErrorCode.unknownSource, `source('${s}', '${t}') is not declared`),
    config: () => {},
    var: (name, fallback, hasDefault) =>
      Object.hasOwn(project.vars, name)
        ? project.vars[name]
        : hasDefault
        ? fallback
        : raiseInRender(DbtErrorCode.renderFailed, `var('${name}') is not defined`),
    envVar: (name, fallback) => envVarOf((key) => Deno.env.get(key), name, fallback),
    isIncremental: () => false,
    self: where.self,
    target: {
      ...project.target.fields,
      name: project.target.name,
      schema: project.target.schema,
      type: project.target.type,
      database: project.target.database,
    },
  }, where.query);
}
