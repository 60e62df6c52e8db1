/**
 * A layered (Sugiyama-style) layout for graphs too large for a layout
 * library: longest-path ranks, a few barycenter sweeps to reduce crossings,
 * and rows by order. Linear in nodes and edges per sweep.
 *
 * Why our own: measured on this machine on the benchmark graph of
 * `bench/core.ts` (layers of 100, two edges per asset), @dagrejs/dagre 3.1.4
 * took 70 s for 1,000 assets (4 s with its longest-path ranker) and overflowed
 * the stack at 10,000; elkjs 0.12.1 took 13.5 s for 1,000 (2.5 s with its
 * cheapest strategies) and overflowed at 10,000. The UI must lay out 10,000
 * assets in well under 2 s, so groups larger than
 * {@linkcode LIBRARY_LIMIT} use this; smaller ones (every real project here)
 * use dagre.
 *
 * @module
 */

/** Groups with more nodes than this are laid out here instead of by dagre. */
export const LIBRARY_LIMIT = 250;

/** Sizes and spacing of a layered layout. */
export interface LayeredSizes {
  /** Node width. */
  readonly width: number;
  /** Node height. */
  readonly height: number;
  /** Horizontal gap between ranks. */
  readonly rankSep: number;
  /** Vertical gap between nodes of a rank. */
  readonly nodeSep: number;
}

/** Positions (top-left corners) of `keys`, which must be in topological order. */
export function layeredLayout(
  keys: readonly string[],
  upstream: (key: string) => readonly string[],
  sizes: LayeredSizes,
): Map<string, { x: number; y: number }> {
  const index = new Map(keys.map((key, i) => [key, i]));
  const ups: number[][] = keys.map((key) =>
    upstream(key).map((dep) => index.get(dep)).filter((i): i is number => i !== undefined)
  );
  const downs: number[][] = keys.map(() => []);
  ups.forEach((list, i) => list.forEach((u) => downs[u]?.push(i)));
  const rank = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    let r = 0;
    for (const u of ups[i] ?? []) r = Math.max(r, (rank[u] ?? 0) + 1);
    rank[i] = r;
  }
  const ranks: number[][] = [];
  for (let i = 0; i < keys.length; i++) (ranks[rank[i] ?? 0] ??= []).push(i);
  const position = new Float64Array(keys.length);
  const renumber = (layer: number[]) => layer.forEach((node, at) => (position[node] = at));
  ranks.forEach((layer) => renumber(layer ?? []));
  const sweep = (neighbours: number[][], order: number[][]) => {
    for (const layer of order) {
      if (!layer) continue;
      const weight = new Map<number, number>();
      for (const node of layer) {
        const near = neighbours[node] ?? [];
        if (near.length === 0) {
          weight.set(node, position[node] ?? 0);
          continue;
        }
        let sum = 0;
        for (const n of near) sum += position[n] ?? 0;
        weight.set(node, sum / near.length);
      }
      layer.sort((a, b) => (weight.get(a) ?? 0) - (weight.get(b) ?? 0) || a - b);
      renumber(layer);
    }
  };
  for (let pass = 0; pass < 2; pass++) {
    sweep(ups, ranks);
    sweep(downs, [...ranks].reverse());
  }
  const tallest = Math.max(0, ...ranks.map((layer) => layer?.length ?? 0));
  const result = new Map<string, { x: number; y: number }>();
  ranks.forEach((layer, r) => {
    if (!layer) return;
    const offset = ((tallest - layer.length) * (sizes.height + sizes.nodeSep)) / 2;
    layer.forEach((node, at) => {
      result.set(keys[node] as string, {
        x: r * (sizes.width + sizes.rankSep),
        y: offset + at * (sizes.height + sizes.nodeSep),
      });
    });
  });
  return result;
}
