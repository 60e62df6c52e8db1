/**
 * Lays out the asset graph: each group on its own (by @dagrejs/dagre, or by
 * the layered layout of `_layered.ts` for groups too large for it), then the
 * groups themselves by dagre on the graph of groups. The result depends only
 * on the graph's shape, so it is computed once per graph.
 *
 * @module
 */

import dagre from "@dagrejs/dagre";
import type { Graph } from "../core/graph.ts";
import { layeredLayout, LIBRARY_LIMIT } from "./_layered.ts";

/** A placed asset. */
export interface LaidNode {
  /** Asset key. */
  readonly key: string;
  /** Group name. */
  readonly group: string;
  /** Left edge. */
  readonly x: number;
  /** Top edge. */
  readonly y: number;
}

/** A placed edge from an upstream to a downstream asset. */
export interface LaidEdge {
  /** Upstream key. */
  readonly from: string;
  /** Downstream key. */
  readonly to: string;
  /** Points the edge passes through, start and end included. */
  readonly points: readonly (readonly [number, number])[];
}

/** A placed group box. */
export interface LaidGroup {
  /** Group name. */
  readonly name: string;
  /** Left edge. */
  readonly x: number;
  /** Top edge. */
  readonly y: number;
  /** Width. */
  readonly width: number;
  /** Height. */
  readonly height: number;
  /** Number of assets. */
  readonly size: number;
  /** Which engine placed its assets. */
  readonly engine: "dagre" | "layered";
}

/** A laid-out graph. */
export interface GraphLayout {
  /** Assets. */
  readonly nodes: readonly LaidNode[];
  /** Dependencies. */
  readonly edges: readonly LaidEdge[];
  /** Groups. */
  readonly groups: readonly LaidGroup[];
  /** Total width. */
  readonly width: number;
  /** Total height. */
  readonly height: number;
  /** Milliseconds the layout took. */
  readonly layoutMs: number;
}

/** Width of an asset box. */
export const NODE_WIDTH = 190;
/** Height of an asset box. */
export const NODE_HEIGHT = 46;
const GROUP_PAD = 28;
const GROUP_HEADER = 26;

const cache = new WeakMap<object, GraphLayout>();

/** The layout of `graph`, computed on first use and cached. */
export function layoutGraph(graph: Graph<unknown>): GraphLayout {
  const cached = cache.get(graph);
  if (cached) return cached;
  const layout = computeLayout(graph);
  cache.set(graph, layout);
  return layout;
}

interface Local {
  readonly name: string;
  readonly keys: string[];
  readonly positions: Map<string, { x: number; y: number }>;
  readonly edgePoints: Map<string, [number, number][]>;
  readonly width: number;
  readonly height: number;
  readonly engine: "dagre" | "layered";
}

function computeLayout(graph: Graph<unknown>): GraphLayout {
  const started = performance.now();
  const groups = new Map<string, string[]>();
  for (const key of graph.order) {
    const group = graph.assets.get(key)?.group ?? "default";
    (groups.get(group) ?? groups.set(group, []).get(group) as string[]).push(key);
  }
  const groupOf = (key: string) => graph.assets.get(key)?.group ?? "default";
  const locals = new Map<string, Local>();
  for (const [name, keys] of groups) {
    const inGroup = (key: string) => graph.upstream(key).filter((dep) => groupOf(dep) === name);
    locals.set(
      name,
      keys.length > LIBRARY_LIMIT ? layered(name, keys, inGroup) : withDagre(name, keys, inGroup),
    );
  }
  // Place the groups: a graph whose nodes are the group boxes.
  const outer = new dagre.graphlib.Graph({ multigraph: false });
  outer.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 80, marginx: 10, marginy: 10 });
  outer.setDefaultEdgeLabel(() => ({}));
  for (const local of locals.values()) {
    outer.setNode(local.name, {
      width: local.width + 2 * GROUP_PAD,
      height: local.height + 2 * GROUP_PAD + GROUP_HEADER,
    });
  }
  for (const key of graph.order) {
    for (const dep of graph.upstream(key)) {
      if (groupOf(dep) !== groupOf(key)) outer.setEdge(groupOf(dep), groupOf(key));
    }
  }
  dagre.layout(outer);
  const nodes: LaidNode[] = [];
  const edges: LaidEdge[] = [];
  const laidGroups: LaidGroup[] = [];
  const where = new Map<string, { x: number; y: number }>();
  let width = 0, height = 0;
  for (const local of locals.values()) {
    const box = outer.node(local.name);
    const w = local.width + 2 * GROUP_PAD;
    const h = local.height + 2 * GROUP_PAD + GROUP_HEADER;
    const left = box.x - w / 2, top = box.y - h / 2;
    laidGroups.push({
      name: local.name,
      x: left,
      y: top,
      width: w,
      height: h,
      size: local.keys.length,
      engine: local.engine,
    });
    width = Math.max(width, left + w);
    height = Math.max(height, top + h);
    const dx = left + GROUP_PAD, dy = top + GROUP_PAD + GROUP_HEADER;
    for (const key of local.keys) {
      const p = local.positions.get(key) ?? { x: 0, y: 0 };
      const placed = { x: p.x + dx, y: p.y + dy };
      where.set(key, placed);
      nodes.push({ key, group: local.name, ...placed });
    }
    for (const [id, points] of local.edgePoints) {
      const [from = "", to = ""] = id.split("\0");
      edges.push({ from, to, points: points.map(([x, y]) => [x + dx, y + dy] as const) });
    }
  }
  for (const key of graph.order) {
    for (const dep of graph.upstream(key)) {
      const local = locals.get(groupOf(key));
      if (local?.edgePoints.has(`${dep}\0${key}`)) continue;
      const a = where.get(dep), b = where.get(key);
      if (!a || !b) continue;
      edges.push({
        from: dep,
        to: key,
        points: [[a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2], [b.x, b.y + NODE_HEIGHT / 2]],
      });
    }
  }
  return {
    nodes,
    edges,
    groups: laidGroups,
    width: Math.ceil(width + 10),
    height: Math.ceil(height + 10),
    layoutMs: performance.now() - started,
  };
}

function withDagre(
  name: string,
  keys: string[],
  upstream: (key: string) => readonly string[],
): Local {
  const g = new dagre.graphlib.Graph();
  g.setGraph({
    rankdir: "LR",
    nodesep: 14,
    ranksep: 56,
    ranker: keys.length > 80 ? "longest-path" : "network-simplex",
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const key of keys) g.setNode(key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const key of keys) for (const dep of upstream(key)) g.setEdge(dep, key);
  dagre.layout(g);
  const positions = new Map<string, { x: number; y: number }>();
  let minX = Infinity, minY = Infinity, maxX = 0, maxY = 0;
  for (const key of keys) {
    const n = g.node(key);
    minX = Math.min(minX, n.x - NODE_WIDTH / 2);
    minY = Math.min(minY, n.y - NODE_HEIGHT / 2);
    maxX = Math.max(maxX, n.x + NODE_WIDTH / 2);
    maxY = Math.max(maxY, n.y + NODE_HEIGHT / 2);
  }
  if (keys.length === 0) minX = minY = 0;
  for (const key of keys) {
    const n = g.node(key);
    positions.set(key, { x: n.x - NODE_WIDTH / 2 - minX, y: n.y - NODE_HEIGHT / 2 - minY });
  }
  const edgePoints = new Map<string, [number, number][]>();
  for (const e of g.edges()) {
    const points = (g.edge(e).points ?? []).map((p: { x: number; y: number }) =>
      [p.x - minX, p.y - minY] as [number, number]
    );
    edgePoints.set(`${e.v}\0${e.w}`, points);
  }
  return {
    name,
    keys,
    positions,
    edgePoints,
    width: maxX - minX,
    height: maxY - minY,
    engine: "dagre",
  };
}

function layered(
  name: string,
  keys: string[],
  upstream: (key: string) => readonly string[],
): Local {
  const positions = layeredLayout(keys, upstream, {
    width: NODE_WIDTH,
    height: NODE_HEIGHT,
    rankSep: 70,
    nodeSep: 14,
  });
  let width = 0, height = 0;
  for (const p of positions.values()) {
    width = Math.max(width, p.x + NODE_WIDTH);
    height = Math.max(height, p.y + NODE_HEIGHT);
  }
  return { name, keys, positions, edgePoints: new Map(), width, height, engine: "layered" };
}
