/**
 * Model access (dbt's model governance): a `private` model may be ref'd only
 * from its own `group`, a `protected` one (the default) from its own package
 * and, unless its package sets `restrict-access: true` in its
 * dbt_project.yml, from the projects installing it (dbt-core's
 * is_invalid_protected_ref: a root project refs its packages' staging
 * models). dbt refuses the project at parse time otherwise; building it
 * anyway would let a team depend on a model its owners said is theirs alone.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { ModelNode } from "../nodes.ts";

const ACCESS = new Set(["private", "protected", "public"]);

function accessOf(node: ModelNode): string {
  const access = node.config.all.access ?? "protected";
  if (typeof access !== "string" || !ACCESS.has(access)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `model '${node.name}': access must be private, protected or public (got '${String(access)}')`,
      { file: node.file },
    );
  }
  return access;
}

function groupOf(node: ModelNode): string | undefined {
  const group = node.config.all.group;
  return typeof group === "string" && group !== "" ? group : undefined;
}

/**
 * Throws `dbt.invalid_project` naming the file when a node is in a group no
 * `groups:` entry declares, when a node refs
 * a private model of another group (or of no group), or a protected model of
 * another package that restricts access (`restricted`); or when a private
 * model belongs to no group.
 */
export function checkAccess(
  nodes: ReadonlyMap<string, ModelNode>,
  groups: ReadonlySet<string>,
  restricted: ReadonlySet<string> = new Set(),
): void {
  for (const node of nodes.values()) {
    // As dbt: a group must be declared (`groups:` in a properties file) before nodes join it.
    const group = groupOf(node);
    if (group !== undefined && !groups.has(group)) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `${node.resourceType} '${node.name}' is in group '${group}', which no groups: entry ` +
          `declares (declared: ${[...groups].sort().join(", ") || "none"}); add it under ` +
          "groups: in a properties file with an owner, or fix the name",
        { file: node.file },
      );
    }
  }
  for (const node of nodes.values()) {
    if (node.resourceType === "model" && accessOf(node) === "private" && !groupOf(node)) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `model '${node.name}' has access: private but belongs to no group; ` +
          "set its group (config: {group: <name>}) or make it protected",
        { file: node.file },
      );
    }
  }
  for (const node of nodes.values()) {
    for (const ref of node.refs) {
      const target = nodes.get(ref);
      if (target === undefined || target.resourceType !== "model") continue;
      const access = accessOf(target);
      if (access === "private" && groupOf(target) !== groupOf(node)) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `'${node.name}' refs '${target.name}', which is private to group '${
            groupOf(target)
          }' (${target.file}); put '${node.name}' in that group or make '${target.name}' ` +
            "protected or public",
          { file: node.file },
        );
      }
      if (
        access === "protected" && target.packageName !== node.packageName &&
        restricted.has(target.packageName)
      ) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `'${node.name}' (package ${node.packageName}) refs '${target.name}', which is ` +
            `protected in package ${target.packageName} (restrict-access: true); only public ` +
            "models can be ref'd from another package",
          { file: node.file },
        );
      }
    }
  }
}
