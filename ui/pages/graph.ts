/**
 * The asset graph page: every asset laid out by group, coloured by state,
 * with partition health, zoom/pan, search and a link per node; below it a
 * searchable list of assets.
 *
 * @module
 */

// @ts-types="@types/d3-shape"
import { curveBasis, line } from "d3-shape";
import { describePartitions } from "../../core/partitions.ts";
import type { AssetState, AssetStatus } from "../asset_status.ts";
import { ASSET_STATES } from "../asset_status.ts";
import type { UiContext } from "../context.ts";
import { assetHref, assetLink, badge, escapeText, h, type Html, time, trusted } from "../html.ts";
import { type GraphLayout, layoutGraph, NODE_HEIGHT, NODE_WIDTH } from "../layout.ts";
import { BadParamError, oneOfParam, pageParam } from "../params.ts";
import { SelectionError } from "../../core/errors.ts";
import type { Graph } from "../../core/graph.ts";
import { resolveSelection } from "../../core/selection.ts";

const curved = line<readonly [number, number]>().x((p) => p[0]).y((p) => p[1]).curve(curveBasis);

/** The SVG of the laid-out graph, nodes coloured by `statuses`. */
export function graphSvg(layout: GraphLayout, statuses: ReadonlyMap<string, AssetStatus>): Html {
  const parts: string[] = [];
  for (const g of layout.groups) {
    parts.push(
      `<g class="group"><rect x="${g.x}" y="${g.y}" width="${g.width}" height="${g.height}" rx="10"/><text x="${
        g.x + 12
      }" y="${g.y + 20}">${escapeText(g.name)} · ${g.size} asset${
        g.size === 1 ? "" : "s"
      }</text></g>`,
    );
  }
  parts.push('<g class="edges">');
  if (layout.edges.length > MERGED_EDGES) {
    // One element for all edges: a browser draws 20,000 separate paths
    // several times slower than one path of 20,000 pieces.
    parts.push(`<path class="edge merged" d="${layout.edges.map(edgePath).join("")}"/>`);
  } else {
    for (const e of layout.edges) {
      parts.push(
        `<path class="edge" data-from="${escapeText(e.from)}" data-to="${escapeText(e.to)}" d="${
          edgePath(e)
        }"/>`,
      );
    }
  }
  parts.push("</g>");
  for (const n of layout.nodes) {
    const status = statuses.get(n.key);
    const state = status?.state ?? "never";
    const label = n.key.length > 26 ? `${n.key.slice(0, 25)}…` : n.key;
    const p = status?.partitions;
    const sub = nodeSub(status);
    let bar = "";
    if (p) {
      const w = NODE_WIDTH - 20;
      const seg = (count: number) => (p.total ? (count / p.total) * w : 0);
      const ok = seg(p.materialized), bad = seg(p.failed), run = seg(p.running);
      bar = `<rect class="ph ok" x="${n.x + 10}" y="${
        n.y + NODE_HEIGHT - 7
      }" width="${ok}" height="3"/><rect class="ph failed" x="${n.x + 10 + ok}" y="${
        n.y + NODE_HEIGHT - 7
      }" width="${bad}" height="3"/><rect class="ph running" x="${n.x + 10 + ok + bad}" y="${
        n.y + NODE_HEIGHT - 7
      }" width="${run}" height="3"/><rect class="ph missing" x="${n.x + 10 + ok + bad + run}" y="${
        n.y + NODE_HEIGHT - 7
      }" width="${Math.max(0, w - ok - bad - run)}" height="3"/>`;
    }
    parts.push(
      `<a class="node s-${state}" href="${escapeText(assetHref(n.key))}" data-key="${
        escapeText(n.key)
      }" data-state="${state}"><title>${escapeText(n.key)}: ${
        escapeText(status?.why ?? "never materialized")
      }</title><rect x="${n.x}" y="${n.y}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6"/><text class="k" x="${
        n.x + 10
      }" y="${n.y + 18}">${escapeText(label)}</text><text class="sub" x="${n.x + 10}" y="${
        n.y + 33
      }">${escapeText(sub)}</text>${bar}</a>`,
    );
  }
  return trusted(
    `<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${layout.width} ${layout.height}" data-width="${layout.width}" data-height="${layout.height}" preserveAspectRatio="xMidYMid meet"><g class="viewport">${
      parts.join("")
    }</g></svg>`,
  );
}

/**
 * Above this many assets the page draws the graph on a canvas instead of SVG:
 * a browser builds and paints 10,000 SVG nodes (50,000 elements) in seconds,
 * while a canvas draws only the nodes in view, from a compact JSON layout.
 */
export const CANVAS_NODES = 1500;

/** A node's text under its key: partition health, or its state. */
export function nodeSub(status: AssetStatus | undefined): string {
  const p = status?.partitions;
  if (p) {
    return `${p.materialized}/${p.total} ok` + (p.failed ? ` · ${p.failed} failed` : "") +
      (p.missing ? ` · ${p.missing} missing` : "");
  }
  return (status?.state ?? "never").replace("_", " ");
}

/**
 * The laid-out graph for the canvas: a `<canvas>` and the layout as JSON in a
 * data script (`<` escaped, so no key can close it): groups `[name, x, y, w,
 * h, size]`, nodes `[key, x, y, state, sub]`, and every edge in one SVG path
 * (`Path2D` draws it). The page's script draws it and handles zoom, pan,
 * search, hover and click.
 */
export function graphCanvas(layout: GraphLayout, statuses: ReadonlyMap<string, AssetStatus>): Html {
  const data = {
    width: layout.width,
    height: layout.height,
    nodeWidth: NODE_WIDTH,
    nodeHeight: NODE_HEIGHT,
    groups: layout.groups.map((g) => [g.name, g.x, g.y, g.width, g.height, g.size]),
    nodes: layout.nodes.map((n) => {
      const status = statuses.get(n.key);
      return [n.key, n.x, n.y, status?.state ?? "never", nodeSub(status)];
    }),
    edges: layout.edges.map(edgePath).join(""),
  };
  return trusted(
    `<canvas class="graph" data-graph-canvas data-nodes="${layout.nodes.length}" role="img" aria-label="asset graph of ${layout.nodes.length} assets; the list below has them all"></canvas><script type="application/json" data-graph-data>${
      JSON.stringify(data).replaceAll("<", "\\u003c")
    }</script>`,
  );
}

/** Above this many edges, they are drawn as one path. */
export const MERGED_EDGES = 2000;

function edgePath(e: GraphLayout["edges"][number]): string {
  return e.points.length > 2 ? curved([...e.points]) ?? "" : bezier(e.points);
}

function bezier(points: readonly (readonly [number, number])[]): string {
  const [a, b] = [points[0] ?? [0, 0], points[points.length - 1] ?? [0, 0]];
  const mid = (a[0] + b[0]) / 2;
  return `M${a[0]},${a[1]}C${mid},${a[1]} ${mid},${b[1]} ${b[0]},${b[1]}`;
}

/** The legend of node colours. */
export function legend(): Html {
  return h`<div class="legend">${
    ASSET_STATES.map((s) =>
      h`<span class="key"><i class="sw s-${s}"></i>${s.replace("_", " ")}</span>`
    )
  }</div>`;
}

/** The graph page body and its live parts. */
export async function graphPage(
  ctx: UiContext,
  query: {
    q?: string | undefined;
    select?: string | undefined;
    state?: string | undefined;
    page?: string | undefined;
    draw?: string | undefined;
  },
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const select = (query.select ?? "").trim();
  const view = select ? selectedGraph(ctx.graph, select) : ctx.graph;
  const statuses = await ctx.statuses();
  const layout = layoutGraph(view);
  // `draw=svg` keeps one link element per asset (keyboard, find-in-page) at any size.
  const draw = oneOfParam("draw", query.draw, ["svg", "canvas"] as const) ??
    (layout.nodes.length > CANVAS_NODES ? "canvas" : "svg");
  const svg = draw === "canvas" ? graphCanvas(layout, statuses) : graphSvg(layout, statuses);
  const state = oneOfParam("state", query.state, ASSET_STATES);
  const list = assetList(view, statuses, { ...query, state });
  const counts = new Map<string, number>();
  for (const key of view.order) {
    const s = statuses.get(key)?.state ?? "never";
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const within = select ? `select=${encodeURIComponent(select)}&` : "";
  // Each count opens the list of those assets (Dagster's catalog filter by status).
  const summary = h`<p class="muted">${
    select
      ? h`<b>${select}</b>: ${view.order.length} of ${ctx.graph.assets.size}`
      : view.order.length
  } assets in ${layout.groups.length} group(s): ${
    [...counts].map(([s, n], i) =>
      h`${i > 0 ? ", " : ""}<a href="/assets?${within}state=${s}#all-assets">${n} ${
        s.replace("_", " ")
      }</a>`
    )
  }</p>${
    // What the button runs: every stale asset, also those coloured by a failing check.
    staleLaunch(view.order.filter((key) => statuses.get(key)?.stale).length, select)}`;
  const body = h`<h1>Assets</h1>
<div class="graph-wrap" data-graph>
  <form method="get" action="/assets" class="inline-form graph-select"><label>lineage <input name="select" value="${select}" size="36" placeholder="+fct_weather_daily+, group:weather, tag:x" title="the CLI's selection syntax: +key (with upstream), key+ (with downstream), group:, tag:, globs; commas for union"></label><button type="submit">Show</button>${
    select ? h` <a href="/assets">all assets</a>` : ""
  }</form>
  <div class="graph-tools">
    <input type="search" data-graph-search placeholder="search assets (key, group, tag)" aria-label="search assets">
    <button type="button" data-zoom="in" title="zoom in">+</button>
    <button type="button" data-zoom="out" title="zoom out">−</button>
    <button type="button" data-zoom="fit" title="fit to screen">fit</button>
    <span class="match-count" data-graph-count></span>
    <a class="small" href="/assets?${within}draw=${draw === "canvas" ? "svg" : "canvas"}" title="${
    draw === "canvas"
      ? "one link element per asset (slow for thousands of assets)"
      : "faster for thousands of assets"
  }">draw as ${draw === "canvas" ? "SVG" : "canvas"}</a>
    ${legend()}
  </div>
  <div class="graph-box" data-graph-states="/api/asset-states">${svg}</div>
</div>
<div data-live="summary" data-every="2000" id="summary">${summary}</div>
<section class="launch-inline">
<form method="post" action="/actions/launch" class="inline-form">
  <label>Materialize selection <input name="selection" placeholder="e.g. +fct_weather_daily, group:activity" size="40"></label>
  <button type="submit">Launch</button>
  <a href="/launch">more options (partitions, backfill)</a>
</form>
</section>
<h2 id="all-assets">All assets</h2>
<form method="get" action="/assets" class="inline-form">${
    select ? h`<input type="hidden" name="select" value="${select}">` : ""
  }<input type="search" name="q" value="${
    query.q ?? ""
  }" placeholder="filter by key, group or tag"><label>state <select name="state"><option value="">any</option>${
    ASSET_STATES.map((s) =>
      h`<option value="${s}"${s === state ? " selected" : ""}>${s.replace("_", " ")}</option>`
    )
  }</select></label><button type="submit">Filter</button></form>
<div data-live="list" data-every="2000" id="list">${list}</div>`;
  return { body, fragments: { summary, list } };
}

const LIST_PAGE = 200;

/**
 * "Materialize stale (N)": launches what `materialize --stale` would, one run
 * per connected set of stale assets (Dagster's "Materialize unsynced").
 */
function staleLaunch(stale: number, selection: string): Html {
  if (stale === 0) return h``;
  return h`<form method="post" action="/actions/launch" class="inline-form"><input type="hidden" name="stale" value="1">${
    selection ? h`<input type="hidden" name="selection" value="${selection}">` : ""
  }<button type="submit" title="runs the stale partitions of the stale assets, as deno task materialize --stale does">Materialize stale (${stale})</button></form>`;
}

/** Subgraphs of the last selections asked for, per graph (their layouts are cached by object). */
const selections = new WeakMap<Graph<unknown>, Map<string, Graph<unknown>>>();
const SELECTIONS_KEPT = 32;

/**
 * The part of `graph` that `selection` (the CLI's syntax) picks, with only the
 * edges between picked assets: the lineage view of an asset (`+key+`), a
 * group, a tag. `graph` itself when it picks everything.
 * @throws {BadParamError} `bad_select` naming the nearest key of a typo.
 */
export function selectedGraph(graph: Graph<unknown>, selection: string): Graph<unknown> {
  let kept = selections.get(graph);
  if (!kept) selections.set(graph, kept = new Map());
  const hit = kept.get(selection);
  if (hit) return hit;
  let keys: string[];
  try {
    keys = resolveSelection(graph, selection);
  } catch (error) {
    if (error instanceof SelectionError) throw new BadParamError("select", error.message);
    throw error;
  }
  const picked = new Set(keys);
  const inside = (list: readonly string[]) => list.filter((k) => picked.has(k));
  const view: Graph<unknown> = keys.length === graph.assets.size ? graph : {
    assets: new Map([...graph.assets].filter(([k]) => picked.has(k))),
    order: graph.order.filter((k) => picked.has(k)),
    resources: graph.resources,
    upstream: (key) => inside(graph.upstream(key)),
    downstream: (key) => inside(graph.downstream(key)),
    checksFor: (key) => graph.checksFor(key),
    sensors: graph.sensors,
    schedules: graph.schedules,
  };
  if (kept.size >= SELECTIONS_KEPT) kept.delete(kept.keys().next().value as string);
  kept.set(selection, view);
  return view;
}

function assetList(
  graph: Graph<unknown>,
  statuses: ReadonlyMap<string, AssetStatus>,
  query: {
    q?: string | undefined;
    select?: string | undefined;
    state?: AssetState | undefined;
    page?: string | undefined;
  },
): Html {
  const q = (query.q ?? "").trim().toLowerCase();
  const keys = graph.order.filter((key) => {
    if (query.state && statuses.get(key)?.state !== query.state) return false;
    if (!q) return true;
    const a = graph.assets.get(key);
    return key.toLowerCase().includes(q) || a?.group.toLowerCase().includes(q) ||
      a?.tags.some((t) => t.toLowerCase().includes(q));
  });
  const pageNo = pageParam(query.page);
  const shown = keys.slice(pageNo * LIST_PAGE, (pageNo + 1) * LIST_PAGE);
  const rows = shown.map((key) => {
    const a = graph.assets.get(key);
    const s = statuses.get(key);
    const p = s?.partitions;
    return h`<tr data-asset="${key}"><td>${assetLink(key)}</td><td>${a?.group}</td><td>${
      badge(s?.state ?? "never")
    }</td><td>${time(s?.lastMaterialization?.time)}</td><td>${
      a?.partitions
        ? h`${describePartitions(a.partitions)}${
          p ? h` — ${p.materialized}/${p.total} ok, ${p.failed} failed, ${p.missing} missing` : ""
        }`
        : ""
    }</td><td>${a?.tags.join(", ")}</td></tr>`;
  });
  const more = keys.length > (pageNo + 1) * LIST_PAGE
    ? h`<a href="/assets?${
      new URLSearchParams({
        ...(q ? { q } : {}),
        ...(query.select?.trim() ? { select: query.select.trim() } : {}),
        ...(query.state ? { state: query.state } : {}),
        page: String(pageNo + 1),
      }).toString()
    }">next ${LIST_PAGE} →</a>`
    : "";
  return h`<table class="list"><thead><tr><th>asset</th><th>group</th><th>state</th><th>last materialized</th><th>partitions</th><th>tags</th></tr></thead><tbody>${rows}</tbody></table>
<p class="muted">${keys.length} matching asset(s)${
    keys.length > LIST_PAGE ? `, showing ${shown.length} from ${pageNo * LIST_PAGE + 1}` : ""
  } ${more}</p>`;
}
