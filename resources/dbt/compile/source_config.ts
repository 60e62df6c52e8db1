/**
 * A source table's config from dbt_project.yml's `sources:` block.
 *
 * @module
 */

import { folderConfig } from "../project/project_file.ts";
import type { ReadProject } from "../project/read.ts";
import { renderConfigTree } from "./config_tree.ts";

/**
 * A source table's config from dbt_project.yml's `sources:` (its package's
 * own file, then the root project's), by dbt's source fqn: package, folders
 * of the properties file under its model path, source name, table name.
 */
export function sourceProjectConfig(
  read: ReadProject,
  packageName: string,
  file: string,
  sourceName: string,
  tableName: string,
): Record<string, unknown> {
  const own = read.packages.find((p) => p.name === packageName);
  const fqnPath = sourceFqnPath(read, packageName, file, sourceName, tableName);
  const render = (tree: unknown) =>
    typeof tree === "object" && tree !== null && !Array.isArray(tree)
      ? renderConfigTree(tree as Record<string, unknown>, read)
      : {};
  const fromPackage = own && own !== read.packages[0]
    ? folderConfig(render(own.projectFile.sources), packageName, fqnPath)
    : {};
  return {
    ...fromPackage,
    ...folderConfig(render(read.projectFile.sources), packageName, fqnPath),
  };
}

/**
 * dbt's fqn of a source table without its package: the folders of the
 * properties file under its model path, the source name, the table name.
 */
export function sourceFqnPath(
  read: ReadProject,
  packageName: string,
  file: string,
  sourceName: string,
  tableName: string,
): string[] {
  return [...propertiesPath(read, packageName, file).slice(0, -1), sourceName, tableName];
}

/**
 * A properties file's path under its model path, split (`marts/x.yml` is
 * `["marts", "x.yml"]`): its folders start the fqn of what it declares.
 */
export function propertiesPath(read: ReadProject, packageName: string, file: string): string[] {
  const own = read.packages.find((p) => p.name === packageName);
  const inPackage = own && file.startsWith(own.prefix) ? file.slice(own.prefix.length) : file;
  const roots = (own?.projectFile["model-paths"] as string[] | undefined) ?? ["models"];
  const root = roots.map((r) => r.replace(/\/+$/, "")).find((r) => inPackage.startsWith(`${r}/`));
  return root === undefined
    ? inPackage.split("/").slice(1)
    : inPackage.slice(root.length + 1).split("/");
}
