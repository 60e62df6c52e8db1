/**
 * `{% docs name %}...{% enddocs %}` blocks from the docs paths.
 *
 * @module
 */

import type { DocBlock } from "../nodes.ts";
import type { ReadProject } from "../project/read.ts";

const BLOCK = /\{%-?\s*docs\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}([\s\S]*?)\{%-?\s*enddocs\s*-?%\}/g;

/**
 * dbt's own `__overview__` block (include/global_project/docs/overview.md in
 * dbt-core): the docs site's front page, which `doc("__overview__")` names
 * unless a project writes its own.
 */
const DBT_OVERVIEW: DocBlock = {
  uniqueId: "doc.dbt.__overview__",
  name: "__overview__",
  packageName: "dbt",
  file: "docs/overview.md",
  contents: "### Welcome!\n\nWelcome to the auto-generated documentation for your dbt project!",
};

/** Every docs block of the project and its packages, and dbt's `__overview__`. */
export function docBlocks(read: ReadProject): DocBlock[] {
  const out: DocBlock[] = [DBT_OVERVIEW];
  for (const pkg of read.packages) {
    for (const file of pkg.docs) {
      for (const match of file.text.matchAll(BLOCK)) {
        const name = match[1] as string;
        out.push({
          uniqueId: `doc.${pkg.name}.${name}`,
          name,
          packageName: pkg.name,
          file: file.file,
          contents: (match[2] ?? "").trim(),
        });
      }
    }
  }
  return out;
}

/**
 * Resolves `{{ doc('name') }}` (and `doc('package', 'name')`) in a
 * description; an unknown name is left as written and reported by `onMissing`.
 */
export function docResolver(
  blocks: readonly DocBlock[],
  onMissing: (name: string) => void,
): (text: string) => string {
  // A project's or package's block wins over dbt's own of the same name.
  const byName = new Map(
    [...blocks].sort((a, b) => Number(b.packageName === "dbt") - Number(a.packageName === "dbt"))
      .map((b) => [b.name, b.contents]),
  );
  return (text) =>
    text.includes("doc(")
      ? text.replace(
        /\{\{\s*doc\(\s*(?:['"][^'"]+['"]\s*,\s*)?['"]([^'"]+)['"]\s*\)\s*\}\}/g,
        (all, name: string) => {
          const found = byName.get(name);
          if (found === undefined) onMissing(name);
          return found ?? all;
        },
      )
      : text;
}
