/**
 * A node's config before resolution: dbt_project.yml's folder configs (the
 * node's package, then the root project's), its properties entry, then its
 * own `config()` calls, later layers winning; `tags` and hooks add up.
 *
 * @module
 */

import { folderConfig } from "../project/project_file.ts";
import { renderConfigTree } from "./config_tree.ts";
import type { ReadProject } from "../project/read.ts";
import { folders, type ParsedNode } from "./parse.ts";
import type { Properties } from "./properties.ts";

// Per load: a node's layers are asked for twice (dropping disabled nodes, then resolving).
const layered = new WeakMap<Properties, WeakMap<ParsedNode, Readonly<Record<string, unknown>>>>();

/** The layered config of a parsed node before `resolveConfig` (one object per load and node). */
export function layeredConfig(
  read: ReadProject,
  props: Properties,
  node: ParsedNode,
): Readonly<Record<string, unknown>> {
  let nodes = layered.get(props);
  if (!nodes) {
    nodes = new WeakMap();
    layered.set(props, nodes);
  }
  let config = nodes.get(node);
  if (!config) {
    config = Object.freeze(layerConfig(read, props, node));
    nodes.set(node, config);
  }
  return config;
}

function layerConfig(
  read: ReadProject,
  props: Properties,
  node: ParsedNode,
): Record<string, unknown> {
  const section = node.kind === "model" ? "models" : node.kind === "seed" ? "seeds" : "snapshots";
  const fqnPath = [...folders(node.path), node.name];
  const own = read.packages.find((p) => p.name === node.packageName);
  const render = (tree: Record<string, unknown>) => renderConfigTree(tree, read);
  const fromPackage = own && own !== read.packages[0]
    ? folderConfig(render(own.projectFile[section]), node.packageName, fqnPath)
    : {};
  const fromRoot = folderConfig(render(read.projectFile[section]), node.packageName, fqnPath);
  const entry = props.entryOf(node.kind, node.name);
  const merged: Record<string, unknown> = { ...fromPackage, ...fromRoot };
  for (const layer of [entry?.props.config ?? {}, node.inline]) {
    for (const [key, value] of Object.entries(layer)) {
      if (
        (key === "tags" || key === "pre-hook" || key === "post-hook") && merged[key] !== undefined
      ) {
        merged[key] = [...[merged[key]].flat(), ...[value].flat()];
      } else merged[key] = value;
    }
  }
  return merged;
}
