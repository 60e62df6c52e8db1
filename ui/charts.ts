/**
 * Charts rendered on the server as SVG: time series as lines with a point per
 * value (each with a tooltip), or bars. Scales and ticks come from d3-scale,
 * paths from d3-shape; the page needs no script to show them.
 *
 * @module
 */

// @ts-types="@types/d3-scale"
import { scaleBand, scaleLinear, scaleUtc } from "d3-scale";
// @ts-types="@types/d3-shape"
import { line } from "d3-shape";
import { escapeText, type Html, trusted } from "./html.ts";

/** One point of a series. */
export interface ChartPoint {
  /** Time in ms since the epoch (time charts) or a category label (bar charts). */
  readonly x: number | string;
  /** Value. */
  readonly y: number;
  /** Tooltip text; defaults to `x: y`. */
  readonly label?: string;
}

/** A named series. */
export interface ChartSeries {
  /** Legend name. */
  readonly name: string;
  /** Points, in x order. */
  readonly points: readonly ChartPoint[];
  /** Draw as a dashed line (e.g. a baseline). */
  readonly dashed?: boolean;
}

/** Options of {@linkcode chart}. */
export interface ChartOptions {
  /** Title above the chart. */
  readonly title: string;
  /** Unit shown beside the y axis. */
  readonly unit?: string;
  /** `line` (x is time) or `bar` (x is a category or a time). @default {"line"} */
  readonly kind?: "line" | "bar";
  /** @default {640} */
  readonly width?: number;
  /** @default {240} */
  readonly height?: number;
}

const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2"];

/** An SVG chart of `series`; an empty-state box when there is no point. */
export function chart(series: readonly ChartSeries[], options: ChartOptions): Html {
  const width = options.width ?? 640, height = options.height ?? 240;
  const margin = { top: 28, right: 16, bottom: 34, left: 56 };
  const all = series.flatMap((s) => s.points);
  const title = `<text class="chart-title" x="${margin.left}" y="16">${escapeText(options.title)}${
    options.unit ? ` (${escapeText(options.unit)})` : ""
  }</text>`;
  if (all.length === 0) {
    return trusted(
      `<svg class="chart" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${title}<text class="muted" x="${
        width / 2
      }" y="${height / 2}" text-anchor="middle">no data yet</text></svg>`,
    );
  }
  const ys = all.map((p) => p.y);
  const low = Math.min(0, ...ys), high = Math.max(0, ...ys);
  const y = scaleLinear()
    .domain(low === high ? [0, 1] : [low, high])
    .nice()
    .range([height - margin.bottom, margin.top]);
  const parts: string[] = [title];
  for (const tick of y.ticks(5)) {
    const py = y(tick);
    parts.push(
      `<line class="grid" x1="${margin.left}" x2="${width - margin.right}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${margin.left - 6}" y="${py + 4}" text-anchor="end">${
        escapeText(y.tickFormat(5)(tick))
      }</text>`,
    );
  }
  const point = (s: ChartSeries, p: ChartPoint, cx: number, cy: number, color: string) =>
    `<circle class="pt" data-series="${escapeText(s.name)}" data-y="${p.y}" cx="${
      cx.toFixed(1)
    }" cy="${cy.toFixed(1)}" r="3" fill="${color}"><title>${
      escapeText(p.label ?? `${s.name}: ${formatX(p.x)} → ${p.y}`)
    }</title></circle>`;
  if ((options.kind ?? "line") === "bar") {
    const categories = [...new Set(all.map((p) => String(p.x)))];
    const x = scaleBand<string>().domain(categories).range([margin.left, width - margin.right])
      .padding(0.2);
    const inner = scaleBand<string>().domain(series.map((s) => s.name)).range([0, x.bandwidth()])
      .padding(0.05);
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length] as string;
      for (const p of s.points) {
        const left = (x(String(p.x)) ?? 0) + (inner(s.name) ?? 0);
        const top = Math.min(y(p.y), y(0));
        const h = Math.abs(y(p.y) - y(0));
        parts.push(
          `<rect class="bar pt" data-series="${escapeText(s.name)}" data-y="${p.y}" x="${
            left.toFixed(1)
          }" y="${top.toFixed(1)}" width="${inner.bandwidth().toFixed(1)}" height="${
            h.toFixed(1)
          }" fill="${color}"><title>${
            escapeText(p.label ?? `${s.name}: ${formatX(p.x)} → ${p.y}`)
          }</title></rect>`,
        );
      }
    });
    const every = Math.max(1, Math.ceil(categories.length / 8));
    categories.forEach((c, i) => {
      if (i % every !== 0) return;
      parts.push(
        `<text class="tick" x="${((x(c) ?? 0) + x.bandwidth() / 2).toFixed(1)}" y="${
          height - margin.bottom + 16
        }" text-anchor="middle">${escapeText(shortLabel(c))}</text>`,
      );
    });
  } else {
    const xs = all.map((p) => Number(p.x));
    let lo = Math.min(...xs), hi = Math.max(...xs);
    if (lo === hi) {
      // One instant: a day either side of a date, an hour either side of a time.
      const pad = lo % 86_400_000 === 0 ? 86_400_000 : 3_600_000;
      [lo, hi] = [lo - pad, hi + pad];
    }
    const x = scaleUtc().domain([new Date(lo), new Date(hi)]).range([
      margin.left,
      width - margin.right,
    ]);
    // About one label per 90 px, so labels never run into each other.
    const count = Math.max(2, Math.floor((width - margin.left - margin.right) / 90));
    const format = x.tickFormat(count);
    for (const tick of x.ticks(count)) {
      // Labels near an edge are anchored inside the chart, so none is cut off.
      const px = x(tick);
      const anchor = px > width - margin.right - 30
        ? "end"
        : px < margin.left + 30
        ? "start"
        : "middle";
      parts.push(
        `<text class="tick" x="${px.toFixed(1)}" y="${
          height - margin.bottom + 16
        }" text-anchor="${anchor}">${escapeText(format(tick))}</text>`,
      );
    }
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length] as string;
      const path = line<ChartPoint>().x((p) => x(new Date(Number(p.x)))).y((p) => y(p.y))(
        [...s.points],
      );
      if (path) {
        parts.push(
          `<path class="series" d="${path}" stroke="${color}"${
            s.dashed ? ' stroke-dasharray="5 4"' : ""
          }/>`,
        );
      }
      for (const p of s.points) {
        parts.push(point(s, p, x(new Date(Number(p.x))), y(p.y), color));
      }
    });
  }
  parts.push(
    `<line class="axis" x1="${margin.left}" x2="${width - margin.right}" y1="${y(0)}" y2="${
      y(0)
    }"/>`,
  );
  const legend = series.map((s, i) =>
    `<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${
      PALETTE[i % PALETTE.length]
    }"/></svg> ${escapeText(s.name)}</span>`
  ).join("");
  return trusted(
    `<figure class="chart-box"><svg class="chart" role="img" aria-label="${
      escapeText(options.title)
    }" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${
      parts.join("")
    }</svg>${
      series.length > 1 ? `<figcaption class="legend">${legend}</figcaption>` : ""
    }</figure>`,
  );
}

function formatX(x: number | string): string {
  return typeof x === "number" ? new Date(x).toISOString().replace("T", " ").slice(0, 16) : x;
}

function shortLabel(text: string): string {
  return text.length > 12 ? `${text.slice(0, 11)}…` : text;
}
