/**
 * Asset selection strings, as on the command line:
 * `key`, `+key` (with upstream), `key+` (with downstream), `+key+`,
 * `group:NAME`, `tag:NAME`, `*` globs, and commas for union.
 *
 * @module
 */

import type { Graph } from "./graph.ts";
import { closest } from "./suggest.ts";
import { quote } from "./printable.ts";
import { SelectionError } from "./errors.ts";

/** One comma-separated term of a selection. */
export type SelectionTerm =
  | { readonly kind: "all" }
  | { readonly kind: "group"; readonly name: string }
  | { readonly kind: "tag"; readonly name: string }
  | {
    readonly kind: "key";
    readonly pattern: string;
    readonly upstream: boolean;
    readonly downstream: boolean;
  };

/**
 * Parses a selection string. An empty or `*` selection means every asset.
 *
 * @example
 * ```ts
 * import { parseSelection } from "./selection.ts";
 * parseSelection("+fct_weather_daily, group:activity");
 * ```
 */
export function parseSelection(text: string): SelectionTerm[] {
  if (text.trim() === "") return [{ kind: "all" }];
  const parts = text.split(",").map((part) => part.trim());
  if (parts.every((part) => part === "")) {
    // Read as "no selection", ',' (a script joining an empty list) selected every asset.
    throw new SelectionError(
      "selection.syntax",
      `Selection ${quote(text)} has no term, only commas: name assets (KEY, +KEY, group:NAME, ` +
        "tag:NAME), or give no selection for every asset",
    );
  }
  return parts.map((part) => {
    if (part === "") {
      throw new SelectionError(
        "selection.syntax",
        `Selection ${quote(text)} has an empty term between commas`,
      );
    }
    return parseTerm(part);
  });
}

function parseTerm(part: string): SelectionTerm {
  const prefixed = /^(group|tag):(.*)$/.exec(part);
  if (prefixed) {
    const [, kind, name = ""] = prefixed;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      throw new SelectionError(
        "selection.syntax",
        `Selection term ${quote(part)} needs a name after '${kind}:'`,
      );
    }
    return { kind: kind as "group" | "tag", name };
  }
  const upstream = part.startsWith("+");
  const downstream = part.endsWith("+") && part.length > 1;
  const pattern = part.slice(upstream ? 1 : 0, downstream ? -1 : undefined);
  if (!/^[A-Za-z0-9_/*-]+$/.test(pattern)) {
    throw new SelectionError(
      "selection.syntax",
      `Selection term ${quote(part)} is not a key, '+key', 'key+', 'group:NAME' or 'tag:NAME'`,
    );
  }
  return { kind: "key", pattern, upstream, downstream };
}

/**
 * The keys `selection` picks in `graph`, minus those `exclude` picks, in
 * topological order. Unknown names fail with a suggestion of the nearest one.
 */
export function resolveSelection(graph: Graph<unknown>, selection = "", exclude = ""): string[] {
  const chosen = pick(graph, parseSelection(selection));
  if (exclude.trim() !== "") {
    for (const key of pick(graph, parseSelection(exclude))) chosen.delete(key);
  }
  return graph.order.filter((key) => chosen.has(key));
}

function pick(graph: Graph<unknown>, terms: readonly SelectionTerm[]): Set<string> {
  const chosen = new Set<string>();
  for (const term of terms) for (const key of pickTerm(graph, term)) chosen.add(key);
  return chosen;
}

function pickTerm(graph: Graph<unknown>, term: SelectionTerm): Iterable<string> {
  const assets = [...graph.assets.values()];
  switch (term.kind) {
    case "all":
      return graph.order;
    case "group":
      return byName(
        assets.filter((a) => a.group === term.name).map((a) => a.key),
        "group",
        term.name,
        assets.map((a) => a.group),
      );
    case "tag":
      return byName(
        assets.filter((a) => a.tags.includes(term.name)).map((a) => a.key),
        "tag",
        term.name,
        assets.flatMap((a) => a.tags),
      );
    case "key":
      return expand(graph, matchKeys(graph, term.pattern), term);
  }
}

function byName(keys: string[], kind: string, name: string, known: string[]): string[] {
  if (keys.length > 0) return keys;
  throw new SelectionError(
    `selection.unknown_${kind}`,
    `No asset has ${kind} ${quote(name)}`,
    closest(name, new Set(known)),
  );
}

function matchKeys(graph: Graph<unknown>, pattern: string): string[] {
  if (!pattern.includes("*")) {
    if (graph.assets.has(pattern)) return [pattern];
    throw new SelectionError(
      "selection.unknown_asset",
      `Unknown asset ${quote(pattern)}`,
      closest(pattern, graph.assets.keys()),
    );
  }
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegex).join(".*")}$`);
  const keys = graph.order.filter((key) => regex.test(key));
  if (keys.length === 0) {
    throw new SelectionError("selection.unknown_asset", `No asset matches ${quote(pattern)}`);
  }
  return keys;
}

function expand(
  graph: Graph<unknown>,
  keys: string[],
  term: { upstream: boolean; downstream: boolean },
): Set<string> {
  const result = new Set(keys);
  if (term.upstream) walk(keys, graph.upstream, result);
  if (term.downstream) walk(keys, graph.downstream, result);
  return result;
}

function walk(
  start: readonly string[],
  next: (key: string) => readonly string[],
  into: Set<string>,
): void {
  const stack = [...start];
  const seen = new Set(start);
  while (stack.length > 0) {
    for (const key of next(stack.pop() as string)) {
      if (seen.has(key)) continue;
      seen.add(key);
      into.add(key);
      stack.push(key);
    }
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
