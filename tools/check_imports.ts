/**
 * The house rules on imports, run by `deno task check`:
 *
 * 1. **No barrel imports inside the code.** A file under `core/`, `resources/`,
 *    `assets/`, `sensors/`, `formats/` or `ui/` imports the file it needs, never
 *    a folder's `mod.ts` (`mod.ts` is the public surface, for outsiders: tests,
 *    benchmarks, users). A `mod.ts` may re-export the `mod.ts` of a folder
 *    below it. `main.ts` and `graph.ts` may use folders' `mod.ts`, but not
 *    `core/mod.ts`, which would load the executor, daemon and CLI into every
 *    importer (config parsing included).
 * 2. **No import circles** between the project's modules (type-only and
 *    dynamic imports count: they still tie the files together for a reader).
 *    A circle known and owned by an open issue is listed in
 *    {@linkcode KNOWN_CIRCLES} with the issue; the entry must go when the
 *    circle does.
 * 3. **One factory name per resource folder.** `resources/<role>/open.ts`
 *    exports `open<Role>(url, ...)` (e.g. `openRunStore`, `openSpatialEngine`),
 *    and no other file of the folder exports an `open<Role>...` function.
 *    Folders that are not URL-selected resources are listed in
 *    {@linkcode NOT_URL_RESOURCES} with the reason.
 *
 * Imports are read with a scanner (comments stripped, string specifiers only),
 * not a TypeScript parser: it keeps the check dependency-free and fast (the
 * whole tree in well under a second), and the project writes imports in the
 * one shape `deno fmt` gives them.
 *
 * Run: `deno run --allow-read tools/check_imports.ts [ROOT]`; exits 1 with one
 * line per problem.
 *
 * @module
 */

import { dirname, join, normalize, relative, resolve } from "node:path";

/** Top-level folders whose code must import files, not `mod.ts` barrels. */
export const INTERNAL_FOLDERS: readonly string[] = [
  "core",
  "resources",
  "assets",
  "sensors",
  "formats",
  "ui",
];

/** Entry points allowed to use folder barrels, except `core/mod.ts`. */
export const ENTRY_POINTS: readonly string[] = ["main.ts", "graph.ts"];

/** Folders never scanned: generated output, local state, fixtures of other projects. */
export const SKIPPED_FOLDERS: readonly string[] = [
  ".git",
  "node_modules",
  "data_lake",
  ".state",
  "dist",
  "target",
  "tests/fixtures",
];

/** A circle tolerated until the issue that owns it lands: every file of the circle is in `folder`. */
export interface KnownCircle {
  /** Folder (relative to the root, with a trailing `/`) the whole circle sits in. */
  readonly folder: string;
  /** Why it is tolerated, and who removes it. */
  readonly reason: string;
}

/** Circles owned by open issues. */
export const KNOWN_CIRCLES: readonly KnownCircle[] = [];

/** Folders of `resources/` that are not opened from a URL, so have no `open.ts`. */
export const NOT_URL_RESOURCES: Readonly<Record<string, string>> = {
  doctor: "the `doctor` command, not a resource",
  http: "one implementation (fetch), built with options, no URL",
  dbt: "the dbt engine, a library the dbt assets call, no URL",
};

/** One import statement found in a file. */
export interface ImportEdge {
  /** Importing file, relative to the root, `/`-separated. */
  readonly from: string;
  /** Imported file, relative to the root, `/`-separated. */
  readonly to: string;
  /** 1-based line of the statement. */
  readonly line: number;
  /** `import`, `export` (re-export) or `dynamic`. */
  readonly kind: "import" | "export" | "dynamic";
}

/** A rule broken, as one line for the terminal. */
export interface Problem {
  /** `barrel`, `circle` or `factory`. */
  readonly rule: "barrel" | "circle" | "factory";
  /** `file:line: what is wrong and what to do`. */
  readonly message: string;
}

/** Every `.ts` file below `root` (relative, `/`-separated), skipping {@linkcode SKIPPED_FOLDERS}. */
export async function listSources(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(join(root, dir))) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (!SKIPPED_FOLDERS.includes(path)) await walk(path);
      } else if (entry.isFile && /\.(ts|tsx)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        files.push(path);
      }
    }
  };
  await walk("");
  return files.sort();
}

/** `source` with comments blanked out (newlines kept, so line numbers hold). */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += " ".repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      // Copy a string whole, so `//` inside a URL is not taken for a comment.
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC =
  /(?:^|[;\n}])\s*(import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?["']([^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The relative imports of `file` whose text is `source`, resolved against the root. */
export function importsOf(file: string, source: string): ImportEdge[] {
  const code = stripComments(source);
  const edges: ImportEdge[] = [];
  const lineAt = (index: number) => code.slice(0, index).split("\n").length;
  const add = (specifier: string, index: number, kind: ImportEdge["kind"]) => {
    if (!specifier.startsWith("./") && !specifier.startsWith("../")) return;
    const to = normalize(join(dirname(file), specifier)).replaceAll("\\", "/");
    edges.push({ from: file, to, line: lineAt(index), kind });
  };
  for (const match of code.matchAll(STATIC)) {
    const keyword = match[1] as "import" | "export";
    const specifier = match[2] as string;
    add(specifier, match.index + match[0].indexOf(keyword), keyword);
  }
  for (const match of code.matchAll(DYNAMIC)) add(match[1] as string, match.index, "dynamic");
  return edges;
}

const topFolder = (file: string) => file.includes("/") ? file.slice(0, file.indexOf("/")) : "";
const isBarrel = (file: string) => file === "mod.ts" || file.endsWith("/mod.ts");

/** Rule 1: barrel imports from inside the code. */
export function barrelProblems(edges: readonly ImportEdge[]): Problem[] {
  const problems: Problem[] = [];
  for (const edge of edges) {
    if (!isBarrel(edge.to)) continue;
    const where = `${edge.from}:${edge.line}`;
    if (ENTRY_POINTS.includes(edge.from)) {
      if (edge.to === "core/mod.ts") {
        problems.push({
          rule: "barrel",
          message: `${where}: imports core/mod.ts, which loads the executor, daemon and CLI; ` +
            "import the core file that defines the name",
        });
      }
      continue;
    }
    if (!INTERNAL_FOLDERS.includes(topFolder(edge.from))) continue;
    const below = edge.to.startsWith(`${dirname(edge.from)}/`) && edge.to !== edge.from;
    if (isBarrel(edge.from) && edge.kind === "export" && below) continue;
    problems.push({
      rule: "barrel",
      message: `${where}: imports ${edge.to}; internal code imports the file that defines ` +
        "the name (mod.ts is the public surface, for outsiders)",
    });
  }
  return problems;
}

/** The strongly connected components of more than one file (Tarjan), each sorted. */
export function circles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, new Set());
    if (!next.has(to)) next.set(to, new Set());
    next.get(from)?.add(to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  // Iterative, so a long chain of imports cannot overflow the call stack.
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; it: Iterator<string> }[] = [];
    const enter = (node: string) => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, it: (next.get(node) ?? new Set()).values() });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; it: Iterator<string> };
      const step = frame.it.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) enter(to);
        else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(to) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) {
        low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let node: string | undefined;
        do {
          node = stack.pop();
          if (node === undefined) break;
          onStack.delete(node);
          component.push(node);
        } while (node !== frame.node);
        if (component.length > 1) found.push(component.sort());
      }
    }
  }
  return found.sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
}

/** Rule 2: circles, except those {@linkcode KNOWN_CIRCLES} tolerates (which must still exist). */
export function circleProblems(
  edges: readonly ImportEdge[],
  known: readonly KnownCircle[] = KNOWN_CIRCLES,
): Problem[] {
  const problems: Problem[] = [];
  const all = circles(edges);
  for (const circle of all) {
    if (known.some((k) => circle.every((file) => file.startsWith(k.folder)))) continue;
    const arrows = edges.filter((e) => circle.includes(e.from) && circle.includes(e.to));
    problems.push({
      rule: "circle",
      message: `import circle of ${circle.length} files: ${
        arrows.map((e) => `${e.from}:${e.line} -> ${e.to}`).join(", ")
      }; move what both sides need into a file below them`,
    });
  }
  for (const k of known) {
    if (!all.some((circle) => circle.every((file) => file.startsWith(k.folder)))) {
      problems.push({
        rule: "circle",
        message: `tools/check_imports.ts: the known circle in ${k.folder} is gone ` +
          `(${k.reason}); delete its KNOWN_CIRCLES entry`,
      });
    }
  }
  return problems;
}

const pascal = (folder: string) =>
  folder.split("_").map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("");

const OPENER = /export\s+(?:async\s+)?function\s+(open\w*)\s*(?:<[^>]*>)?\s*\(\s*(\w*)/g;

/** Rule 3: `resources/<role>/open.ts` exports `open<Role>(url, ...)`, and nothing else does. */
export function factoryProblems(files: ReadonlyMap<string, string>): Problem[] {
  const problems: Problem[] = [];
  const roles = new Set<string>();
  for (const file of files.keys()) {
    const match = /^resources\/([^/]+)\//.exec(file);
    if (match?.[1]) roles.add(match[1]);
  }
  for (const role of [...roles].sort()) {
    const prefix = `open${pascal(role)}`;
    const open = `resources/${role}/open.ts`;
    for (const [file, source] of files) {
      if (!file.startsWith(`resources/${role}/`) || file === open) continue;
      for (const match of stripComments(source).matchAll(OPENER)) {
        if (match[1]?.startsWith(prefix)) {
          problems.push({
            rule: "factory",
            message: `${file}: exports ${match[1]}; the ${role} factory lives in ${open}`,
          });
        }
      }
    }
    if (role in NOT_URL_RESOURCES) continue;
    const source = files.get(open);
    if (source === undefined) {
      problems.push({
        rule: "factory",
        message: `resources/${role}/: has no open.ts exporting ${prefix}(url, ...); add it, ` +
          "or list the folder in NOT_URL_RESOURCES (tools/check_imports.ts) with the reason",
      });
      continue;
    }
    const openers = [...stripComments(source).matchAll(OPENER)];
    const factory = openers.find((m) => m[1]?.startsWith(prefix));
    if (!factory) {
      problems.push({
        rule: "factory",
        message: `${open}: exports no ${prefix}... function (found ${
          openers.map((m) => m[1]).join(", ") || "none"
        })`,
      });
    } else if (factory[2] !== "url") {
      problems.push({
        rule: "factory",
        message: `${open}: ${factory[1]} takes '${factory[2] || "nothing"}' first; ` +
          "a factory takes the resource's URL first: (url, options)",
      });
    }
  }
  return problems;
}

/** Every problem in the tree at `root`. */
export async function checkImports(root: string): Promise<Problem[]> {
  const files = new Map<string, string>();
  for (const file of await listSources(root)) {
    files.set(file, await Deno.readTextFile(join(root, file)));
  }
  const edges = [...files].flatMap(([file, source]) => importsOf(file, source));
  return [...barrelProblems(edges), ...circleProblems(edges), ...factoryProblems(files)];
}

if (import.meta.main) {
  const root = resolve(Deno.args[0] ?? ".");
  const problems = await checkImports(root);
  for (const problem of problems) console.error(`${problem.rule}: ${problem.message}`);
  if (problems.length > 0) {
    console.error(
      `check_imports: ${problems.length} problem(s) in ${relative(Deno.cwd(), root) || "."}`,
    );
    Deno.exit(1);
  }
}
