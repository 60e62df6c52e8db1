/**
 * Analyses, as dbt-core has them: the `.sql` files under `analysis-paths`
 * (none when the key is absent) are rendered like models (`ref`, `source`,
 * macros, ephemeral parents inlined), listed in the manifest as `analysis`
 * nodes and written to target/compiled by `dbt compile`; they are never run.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import { digest } from "../_files.ts";
import type { AnalysisNode } from "../nodes.ts";
import type { QueryRunner } from "../query.ts";
import type { ReadProject } from "../project/read.ts";
import { type JinjaEnv, QueryNeeded, type RenderScope } from "../jinja/env.ts";
import { columnDocs, type Properties } from "./properties.ts";
import type { Renderer } from "./renderer.ts";
import { folders, stem } from "./parse.ts";

/** Every enabled analysis of the project and its packages, compiled. */
export function compileAnalyses(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  renderer: Renderer,
): AnalysisNode[] {
  const out: AnalysisNode[] = [];
  const seen = new Map<string, string>();
  for (const pkg of read.packages) {
    for (const file of pkg.analyses) {
      const name = stem(file.path);
      const entry = props.analyses.get(name);
      const template = jinja.compile(file.text, file.file);
      const refs: string[] = [];
      const reads = new Set<string>();
      const inline: Record<string, unknown> = {};
      const base = renderer.scope(pkg.name, reads);
      const scope: RenderScope = {
        ...base,
        ref: (ref, refPackage) => {
          if (!refs.includes(ref)) refs.push(ref);
          return base.ref(ref, refPackage);
        },
        config: (values) => Object.assign(inline, values),
        configGet: (key) => inline[key] ?? entry?.props.config?.[key],
      };
      let sql: string;
      try {
        sql = jinja.render(template, { ...scope, answers: [] });
      } catch (error) {
        if (!(error instanceof QueryNeeded)) throw error;
        // Uses run_query: `dbt compile` renders it again with the warehouse.
        sql = jinja.render(template, { ...scope, execute: false });
      }
      const config: Record<string, unknown> = { enabled: true, ...entry?.props.config, ...inline };
      if (config.enabled === false) continue;
      const uniqueId = `analysis.${pkg.name}.${name}`;
      const twin = seen.get(uniqueId);
      if (twin !== undefined) {
        throw new DbtError(
          DbtErrorCode.invalidGraph,
          `analysis '${name}' is defined twice (also in ${twin}); rename one of the files`,
          { file: file.file },
        );
      }
      seen.set(uniqueId, file.file);
      const tags = config.tags === undefined ? [] : [config.tags].flat().map(String);
      out.push({
        uniqueId,
        name,
        packageName: pkg.name,
        file: file.file,
        path: `analysis/${file.path}`,
        fqn: [pkg.name, "analysis", ...folders(file.path), name],
        rawCode: file.text,
        checksum: digest(file.text),
        config: { ...config, tags },
        tags,
        description: props.docText(entry?.props.description ?? ""),
        columns: columnDocs(entry?.props.columns, props.docText),
        patchPath: entry ? `${pkg.name}://${entry.file}` : null,
        dependsOn: [...reads],
        compiledCode: renderer.withCtes(sql.trim(), refs),
        compile: async (query: QueryRunner) =>
          renderer.withCtes((await jinja.renderAsync(template, scope, query)).trim(), refs),
      });
    }
  }
  return out;
}
