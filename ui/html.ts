/**
 * HTML building blocks of the pages: the escaping template tag, the page
 * shell, links and small formatters. Every value interpolated with
 * {@linkcode h} is HTML-escaped (hono/html), so an asset key, a CSV header or
 * an error message holding `<script>` shows as text.
 *
 * @module
 */

import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { MetadataValue } from "../core/metadata.ts";

/** Escaped HTML. */
export type Html = HtmlEscapedString;

/**
 * The escaping template tag: strings are escaped, nested {@linkcode Html}
 * and arrays of it are kept.
 *
 * @example
 * ```ts
 * import { h } from "./html.ts";
 * String(h`<b>${"<script>"}</b>`); // "<b>&lt;script&gt;</b>"
 * ```
 */
export function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  // Nothing here interpolates promises, so hono/html returns synchronously.
  return html(strings, ...values) as Html;
}

/** Marks trusted markup (produced by our own renderers) as HTML. */
export function trusted(markup: string): Html {
  return raw(markup);
}

/** Escapes text for an attribute or element body, for code that builds strings. */
export function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The navigation of every page: path and label. */
export const NAV: readonly (readonly [string, string])[] = [
  ["/assets", "Assets"],
  ["/runs", "Runs"],
  ["/launch", "Launch"],
  ["/automation", "Automation"],
  ["/lake", "Lake & lineage"],
  ["/marts", "Marts"],
  ["/map", "Map"],
  ["/api", "API"],
];

/** Options of {@linkcode page}. */
export interface PageOptions {
  /** Path of the nav entry to highlight. */
  readonly active?: string;
  /** Whether mutating forms need the token (shows a sign-in link). */
  readonly tokenRequired?: boolean;
  /** Whether this browser holds the token cookie. */
  readonly signedIn?: boolean;
  /** Entries after {@linkcode NAV}'s runs entry (the queue, when there is one). */
  readonly extraNav?: readonly (readonly [string, string])[];
}

/** The page shell: head, navigation, body. */
export function page(title: string, body: Html, options: PageOptions = {}): Html {
  const entries = options.extraNav?.length
    ? [...NAV.slice(0, 2), ...options.extraNav, ...NAV.slice(2)]
    : NAV;
  const nav = entries.map(([href, label]) =>
    h`<a href="${href}" class="${options.active === href ? "active" : ""}">${label}</a>`
  );
  const auth = options.tokenRequired
    ? options.signedIn
      ? h`<span class="auth">signed in</span>`
      : h`<a class="auth" href="/login">sign in to launch</a>`
    : "";
  return h`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · platform</title>
<link rel="stylesheet" href="/static/app.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<script type="module" src="/static/app.js"></script>
</head>
<body>
<header><a class="brand" href="/">platform</a><nav>${nav}</nav>${auth}</header>
<main>${body}</main>
</body>
</html>`;
}

/** Href of an asset page; keys hold `/`, so they are encoded. */
export function assetHref(key: string): string {
  return `/assets/${encodeURIComponent(key)}`;
}

/** Href of a run page. */
export function runHref(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

/** A link to an asset. */
export function assetLink(key: string): Html {
  return h`<a href="${assetHref(key)}">${key}</a>`;
}

/** A link to a run, showing the first 8 characters of its id. */
export function runLink(runId: string): Html {
  return h`<a class="mono" href="${runHref(runId)}" title="${runId}">${runId.slice(0, 8)}</a>`;
}

/** A coloured status label. */
export function badge(status: string): Html {
  return h`<span class="badge s-${status.replace(/[^a-z_]/g, "")}">${
    status.replace("_", " ")
  }</span>`;
}

/** `2026-12-05 09:18:33Z`, or `—`. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

/** `1.2 s`, `340 ms`, `3 m 05 s`, or `—`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} m ${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")} s`;
}

/** A `<time>` element with the UTC time as text. */
export function time(ms: number | null | undefined): Html {
  if (ms === null || ms === undefined) return h`<span class="muted">—</span>`;
  return h`<time datetime="${new Date(ms).toISOString()}">${formatTime(ms)}</time>`;
}

/** A metadata value for a table cell: numbers and short text inline, the rest as JSON. */
export function metadataValue(value: MetadataValue): Html {
  if (value === null) return h`<span class="muted">null</span>`;
  if (typeof value === "number") return h`<span class="num">${value.toLocaleString("en")}</span>`;
  if (typeof value === "boolean") return h`${String(value)}`;
  if (typeof value === "string") {
    return value.length > 200
      ? h`<details><summary>${value.slice(0, 80)}…</summary><pre>${value}</pre></details>`
      : h`${value}`;
  }
  const json = JSON.stringify(value, null, 2);
  return json.length > 120
    ? h`<details><summary class="mono">${
      json.slice(0, 60).replace(/\s+/g, " ")
    }…</summary><pre>${json}</pre></details>`
    : h`<code>${JSON.stringify(value)}</code>`;
}

/** A two-column table of metadata entries. */
export function metadataTable(metadata: Readonly<Record<string, MetadataValue>>): Html {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return h`<p class="muted">no metadata</p>`;
  return h`<table class="kv">${
    entries.map(([key, value]) => h`<tr><th>${key}</th><td>${metadataValue(value)}</td></tr>`)
  }</table>`;
}

/** An empty-state line. */
export function empty(text: string): Html {
  return h`<p class="empty">${text}</p>`;
}

/**
 * A region the page's script refreshes while the page is open: it fetches
 * `src` (the page with `?fragment=ID`) with `If-None-Match` every `everyMs`
 * and swaps the content when it changed.
 */
export function live(id: string, content: Html, everyMs = 1000): Html {
  return h`<div class="live" id="${id}" data-live="${id}" data-every="${everyMs}">${content}</div>`;
}
