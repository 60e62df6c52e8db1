/**
 * `{% docs name %}...{% enddocs %}` blocks from the docs paths.
 *
 * @module
 */

import type { DocBlock } from "../nodes.ts";
import type { ReadProject } from "../project/read.ts";

const BLOCK = /\{%-?\s*docs\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}([\s\S]*?)\{%-?\s*enddocs\s*-?%\}/g;

/** Every docs block of the project and its packages. */
export function docBlocks(read: ReadProject): DocBlock[] {
  const out: DocBlock[] = [];
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
  const byName = new Map(blocks.map((b) => [b.name, b.contents]));
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
