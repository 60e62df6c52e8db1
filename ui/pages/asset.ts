/**
 * The asset page: definition, state, upstream/downstream, the latest
 * materialization's metadata, the history with plots of its numeric metadata,
 * checks with their history, partitions as a grid (a calendar for daily
 * ones), and for warehouse tables and dbt models the first rows and the
 * compiled SQL.
 *
 * @module
 */

import { idParam } from "../params.ts";
import type { AssetDefinition } from "../../core/asset.ts";
import type { MetadataValue } from "../../core/metadata.ts";
import { describePartitions, partitionKeys } from "../../core/partitions.ts";
import type { AssetStatus } from "../asset_status.ts";
import { chart, type ChartSeries } from "../charts.ts";
import { assetAutomationSection } from "../automation_records.ts";
import type { UiContext } from "../context.ts";
import {
  assetHref,
  assetLink,
  badge,
  empty,
  formatDuration,
  h,
  type Html,
  metadataTable,
  metadataValue,
  runLink,
  time,
} from "../html.ts";
import { checkHistory, type MaterializationPage, materializationPage } from "../asset_history.ts";
import type { CheckEvaluation, LatestStep, MaterializationEntry } from "../run_index.ts";
import { previewRows, relationOf } from "../warehouse_preview.ts";

/** Tag chips, or a muted "none": an empty cell read as a page still loading. */
function chips(values: readonly string[]): Html {
  return values.length
    ? h`${values.map((v) => h`<span class="tag">${v}</span> `)}`
    : h`<span class="muted">none</span>`;
}

/** Kinds of an asset, as Dagster shows them: derived from tags, metadata and partitions. */
export function kindsOf(asset: AssetDefinition): string[] {
  const kinds = new Set<string>();
  const known = ["dbt", "table", "view", "incremental", "ephemeral", "geoparquet", "cog", "csv"];
  for (const tag of asset.tags) if (known.includes(tag)) kinds.add(tag);
  const m = asset.metadata;
  if (typeof m.kind === "string") kinds.add(m.kind);
  if (Array.isArray(m.kinds)) { for (const k of m.kinds) if (typeof k === "string") kinds.add(k); }
  if (asset.resources.includes("warehouse")) kinds.add("warehouse");
  if (asset.resources.includes("lake")) kinds.add("lake");
  return [...kinds];
}

function owners(asset: AssetDefinition): string[] {
  const o = asset.metadata.owners ?? asset.metadata.owner;
  if (typeof o === "string") return [o];
  if (Array.isArray(o)) return o.filter((x): x is string => typeof x === "string");
  return [];
}

/** The asset page body and its live parts. */
export async function assetPage(
  ctx: UiContext,
  asset: AssetDefinition,
  query: { before?: string | undefined } = {},
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const before = idParam("before", query.before, "an event id");
  const statuses = await ctx.statuses();
  const status = statuses.get(asset.key);
  const header = stateHeader(status);
  const latest = latestSection(status);
  const page = await materializationPage(ctx, asset.key, { before, limit: HISTORY_PAGE });
  const history = historySection(asset.key, page, before !== undefined);
  const checks = checksSection(ctx, asset, status, await checkHistory(ctx, asset.key, 500));
  const partitions = asset.partitions ? await partitionsSection(ctx, asset) : h``;
  const preview = await previewSection(ctx, asset, status);
  const automation = await assetAutomationSection(ctx, asset);
  const staticMeta = Object.fromEntries(
    Object.entries(asset.metadata).filter(([k]) => k !== "compiled_sql" && k !== "owners"),
  );
  const body = h`<h1 class="asset-key">${asset.key}</h1>
<div data-live="state" id="state" data-every="1000">${header}</div>
<section class="facts">
<p class="description">${asset.description || h`<span class="muted">no description</span>`}</p>
<table class="kv">
<tr><th>group</th><td><a href="/assets?q=${asset.group}">${asset.group}</a></td></tr>
<tr><th>kinds</th><td>${chips(kindsOf(asset))}</td></tr>
<tr><th>tags</th><td>${chips(asset.tags)}</td></tr>
<tr><th>owners</th><td>${
    owners(asset).join(", ") || h`<span class="muted">none declared</span>`
  }</td></tr>
<tr><th>code version</th><td class="mono">${asset.codeVersion ?? "—"}</td></tr>
<tr><th>partitions</th><td>${
    asset.partitions ? describePartitions(asset.partitions) : "none"
  }</td></tr>
<tr><th>retry</th><td>${asset.retry.maxAttempts} attempt(s)</td></tr>
<tr><th>resources</th><td>${asset.resources.join(", ") || "none"}</td></tr>
<tr><th>upstream</th><td>${assetLinks(ctx.graph.upstream(asset.key))}</td></tr>
<tr><th>downstream</th><td>${assetLinks(ctx.graph.downstream(asset.key))}</td></tr>
<tr><th>lineage</th><td><a data-lineage href="/assets?select=${
    encodeURIComponent(`+${asset.key}+`)
  }">the graph of everything upstream and downstream</a></td></tr>
</table>
${Object.keys(staticMeta).length ? h`<h3>Definition metadata</h3>${metadataTable(staticMeta)}` : ""}
</section>
${launchForm(asset)}
<h2>Latest materialization</h2>
<div data-live="latest" id="latest" data-every="1500">${latest}</div>
<h2>History</h2>
<div data-live="history" id="history" data-every="3000">${history}</div>
<h2>Checks</h2>
<div data-live="checks" id="checks" data-every="3000">${checks}</div>
<h2>Automation</h2>
<div data-live="automation" id="automation" data-every="3000">${automation}</div>
${
    asset.partitions
      ? h`<h2>Partitions</h2><div data-live="partitions" id="partitions" data-every="3000">${partitions}</div>`
      : ""
  }
${preview}`;
  return { body, fragments: { state: header, latest, history, checks, partitions, automation } };
}

function assetLinks(keys: readonly string[]): Html {
  return keys.length === 0
    ? h`<span class="muted">none</span>`
    : h`${keys.map((k) => h`${assetLink(k)} `)}`;
}

function stateHeader(status: AssetStatus | undefined): Html {
  if (!status) return h`${badge("never")}`;
  return h`<p class="state">${badge(status.state)} <span class="why">${status.why}</span>${
    status.latestStep
      ? h` · latest step ${badge(status.latestStep.status)} in ${runLink(status.latestStep.runId)}`
      : ""
  }</p>`;
}

function launchForm(asset: AssetDefinition): Html {
  const partitioned = asset.partitions !== undefined;
  return h`<section class="launch-inline"><form method="post" action="/actions/launch" class="inline-form">
<input type="hidden" name="selection" value="${asset.key}">
<label>with upstream <input type="checkbox" name="upstream" value="1"></label>
<label>with downstream <input type="checkbox" name="downstream" value="1"></label>
${
    partitioned
      ? h`<label>partition <input name="partition" size="14" placeholder="key(s)"></label>
<label>or from <input name="from" size="12"></label><label>to <input name="to" size="12"></label>`
      : ""
  }
<button type="submit">Materialize ${asset.key}</button></form></section>`;
}

function latestSection(status: AssetStatus | undefined): Html {
  const m = status?.lastMaterialization;
  if (!m) return empty("Never materialized.");
  return h`<p>${time(m.time)} in run ${runLink(m.runId)}${
    m.partition ? h`, partition <b>${m.partition}</b>` : ""
  }${m.codeVersion ? h`, code version <span class="mono">${m.codeVersion}</span>` : ""}</p>
${metadataTable(m.metadata)}`;
}

/** Numeric top-level metadata keys of `entries`, most frequent first. */
function numericKeys(entries: readonly MaterializationEntry[]): string[] {
  const counts = new Map<string, number>();
  for (const e of entries) {
    for (const [k, v] of Object.entries(e.metadata)) {
      if (typeof v === "number") counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  const rank = (k: string) => (/rows|count|features|bytes|size/.test(k) ? 0 : 1);
  return [...counts].sort((a, b) => rank(a[0]) - rank(b[0]) || b[1] - a[1]).map(([k]) => k);
}

/** Materializations per page of the history. */
export const HISTORY_PAGE = 100;

function historySection(key: string, page: MaterializationPage, older: boolean): Html {
  const entries = page.materializations;
  if (entries.length === 0) {
    return older ? empty("No older materialization.") : empty("Never materialized.");
  }
  const chrono = [...entries].reverse();
  const keys = numericKeys(entries).slice(0, 3);
  const charts: Html[] = [];
  for (const key of keys) {
    const series: ChartSeries = {
      name: key,
      points: chrono.filter((e) => typeof e.metadata[key] === "number").map((e) => ({
        x: e.time,
        y: e.metadata[key] as number,
        label: `${key} = ${e.metadata[key]} (${e.partition ?? "run"} ${e.runId.slice(0, 8)})`,
      })),
    };
    charts.push(chart([series], { title: key, width: 420, height: 200 }));
  }
  const durations: ChartSeries = {
    name: "duration",
    points: chrono.filter((e) => e.durationMs !== null).map((e) => ({
      x: e.time,
      y: (e.durationMs ?? 0) / 1000,
      label: `${formatDuration(e.durationMs)} (${e.partition ?? "run"} ${e.runId.slice(0, 8)})`,
    })),
  };
  charts.push(chart([durations], { title: "duration", unit: "s", width: 420, height: 200 }));
  const rows = entries.slice(0, 25).map((e) =>
    h`<tr><td>${time(e.time)}</td><td>${runLink(e.runId)}</td><td>${e.partition ?? "—"}</td><td>${
      formatDuration(e.durationMs)
    }</td><td>${
      keys.map((k) => h`<span class="mini">${k}: ${metadataValue(e.metadata[k] ?? null)}</span> `)
    }</td></tr>`
  );
  return h`<div class="charts">${charts}</div>
<table class="list"><thead><tr><th>time</th><th>run</th><th>partition</th><th>duration</th><th>figures</th></tr></thead><tbody>${rows}</tbody></table>
<p class="muted">${entries.length} materialization(s)${
    older ? " (older page)" : ""
  }, newest first; the plots show them all. ${
    page.next !== undefined
      ? h`<a class="next" href="${assetHref(key)}?before=${page.next}#history">older →</a>`
      : ""
  } ${older ? h`<a href="${assetHref(key)}#history">newest</a>` : ""}</p>`;
}

function checksSection(
  ctx: UiContext,
  asset: AssetDefinition,
  status: AssetStatus | undefined,
  history: readonly CheckEvaluation[],
): Html {
  const defs = ctx.graph.checksFor(asset.key);
  if (defs.length === 0) return empty("No checks declared.");
  const rows = defs.map((def) => {
    const latest = status?.checks.get(def.name);
    const past = history.filter((c) => c.name === def.name).slice(0, 20);
    const strip = past.slice().reverse().map((c) =>
      h`<i class="tick ${c.passed ? "pass" : "fail"}" title="${
        c.passed ? "passed" : `failed: ${c.description ?? ""}`
      } ${new Date(c.time).toISOString()}"></i>`
    );
    return h`<tr class="check ${
      latest ? (latest.passed ? "pass" : "fail") : ""
    }" data-check="${def.name}">
<td><b>${def.name}</b><div class="muted small">${def.description}</div></td>
<td>${def.severity}${def.blocking ? " · blocking" : ""}</td>
<td>${latest ? badge(latest.passed ? "passed" : "failed") : h`<span class="muted">not run</span>`}${
      latest && !latest.passed && latest.description
        ? h`<div class="error-text">${latest.description}</div>`
        : ""
    }</td>
<td>${latest ? h`${time(latest.time)} ${runLink(latest.runId)}` : ""}</td>
<td class="strip">${strip}</td></tr>`;
  });
  return h`<table class="list checks"><thead><tr><th>check</th><th>severity</th><th>latest</th><th>when</th><th>history (oldest → newest)</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function partitionsSection(ctx: UiContext, asset: AssetDefinition): Promise<Html> {
  const def = asset.partitions;
  if (!def) return h``;
  const dynamic = def.kind === "dynamic" ? await ctx.store.dynamicPartitions(def.name) : [];
  const keys = partitionKeys(def, { now: ctx.clock.now(), dynamicKeys: () => dynamic });
  const latest = (await ctx.statuses()).get(asset.key)?.latestByPartition ?? new Map();
  const cell = (key: string, label: string) => {
    const step = latest.get(key);
    const state = cellState(step);
    return h`<a class="cell p-${state}" href="/launch?selection=${
      encodeURIComponent(asset.key)
    }&partition=${encodeURIComponent(key)}" title="${key}: ${state}${
      step?.reason ? ` (${step.reason})` : ""
    }" data-partition="${key}">${label}</a>`;
  };
  const counts = { ok: 0, failed: 0, running: 0, missing: 0 };
  for (const key of keys) counts[cellState(latest.get(key))]++;
  const summary =
    h`<p>${keys.length} partition(s): <span class="p-ok-t">${counts.ok} materialized</span>, <span class="p-failed-t">${counts.failed} failed</span>, ${counts.running} running, ${counts.missing} missing. Click a partition to launch it.</p>`;
  if (keys.length === 0) return h`${summary}${empty("No partition exists yet.")}`;
  if (def.kind === "daily") {
    const months = new Map<string, string[]>();
    for (const key of keys) {
      const month = key.slice(0, 7);
      (months.get(month) ?? months.set(month, []).get(month) as string[]).push(key);
    }
    const rows = [...months].reverse().slice(0, 24).map(([month, days]) => {
      const offset = new Date(`${month}-01T00:00:00Z`).getUTCDay();
      const pad = Array.from({ length: offset }, () => h`<span class="cell blank"></span>`);
      return h`<div class="month"><div class="month-name">${month}</div><div class="days">${pad}${
        days.map((d) => cell(d, d.slice(8)))
      }</div></div>`;
    });
    return h`${summary}<div class="calendar">${rows}</div>`;
  }
  return h`${summary}<div class="grid">${keys.slice(0, 2000).map((k) => cell(k, k))}</div>`;
}

function cellState(step: LatestStep | undefined): "ok" | "failed" | "running" | "missing" {
  if (!step) return "missing";
  if (step.status === "success") return "ok";
  if (step.status === "failed" || step.status === "canceled") return "failed";
  if (step.status === "running") return "running";
  return "missing";
}

async function previewSection(
  ctx: UiContext,
  asset: AssetDefinition,
  status: AssetStatus | undefined,
): Promise<Html> {
  const sql = asset.metadata.compiled_sql;
  const relations = relationOf(asset, status?.lastMaterialization?.metadata);
  if (relations.length === 0 && typeof sql !== "string") return h``;
  const previews: Html[] = [];
  for (const relation of relations) {
    previews.push(await previewRows(ctx, relation));
  }
  return h`<h2>Data preview</h2>${previews}${
    typeof sql === "string"
      ? h`<h3>Compiled SQL</h3><pre class="sql" data-compiled-sql>${sql}</pre>`
      : ""
  }`;
}

/** A metadata value as text (for the API and exports). */
export function metadataText(value: MetadataValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
