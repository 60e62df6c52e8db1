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
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `models form a cycle: ${cycle.join(" -> ")}; break it by removing one ref()`,
        { file: nodes.get(name)?.file ?? name },
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
