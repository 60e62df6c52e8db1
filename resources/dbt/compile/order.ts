/**
 * Dependency order of the buildable nodes, with the cycle named when there is one.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";

/** What ordering needs of a node: its name, file and the names it refs. */
export interface Orderable {
  /** File, for the error. */
  readonly file: string;
  /** Names of the nodes it refs. */
  readonly refs: readonly string[];
  /** Its text, to name the line of a ref. */
  readonly text?: string | undefined;
}

/** The 1-based line of the first `ref('name')` (or `ref('pkg', 'name')`) in `text`, if any. */
export function refLine(text: string, name: string): number | undefined {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`ref\\(\\s*(['"][^'"]*['"]\\s*,\\s*)?['"]${escaped}['"]`);
  const at = text.split("\n").findIndex((line) => pattern.test(line));
  return at >= 0 ? at + 1 : undefined;
}

/**
 * The names of `nodes` so that every node comes after the nodes it refs.
 * Throws `dbt.invalid_graph` naming the cycle.
 */
export function topologicalOrder(nodes: ReadonlyMap<string, Orderable>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    const seen = state.get(name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name];
      // Named at the first node of the cycle, on the line of its ref to the next one.
      const first = nodes.get(name);
      const next = cycle[1] ?? name;
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `models form a cycle: ${cycle.join(" -> ")}; break it by removing one ref()`,
        { file: first?.file ?? name, line: first?.text ? refLine(first.text, next) : undefined },
      );
    }
    state.set(name, "visiting");
    for (const ref of nodes.get(name)?.refs ?? []) {
      if (nodes.has(ref)) visit(ref, [...path, name]);
    }
    state.set(name, "done");
    order.push(name);
  };
  for (const name of nodes.keys()) visit(name, []);
  return order;
}
