/**
 * The launch page: a selection in the CLI's syntax, resolved as you type it
 * (the nearest key suggested for a typo), optional partitions or a range
 * (backfill), tags.
 *
 * @module
 */

import type { Graph } from "../../core/graph.ts";
import { SelectionError } from "../../core/errors.ts";
import { describePartitions } from "../../core/partitions.ts";
import { resolveSelection } from "../../core/selection.ts";
import type { UiContext } from "../context.ts";
import { assetLink, h, type Html } from "../html.ts";

/** A selection resolved, or the error the CLI would print. */
export type Resolution =
  | { readonly ok: true; readonly keys: string[] }
  | {
    readonly ok: false;
    readonly code: string;
    readonly message: string;
    readonly suggestion?: string;
  };

/** Resolves a selection (and exclusion) as `materialize` would. */
export function resolve(graph: Graph<unknown>, selection: string, exclude = ""): Resolution {
  try {
    return { ok: true, keys: resolveSelection(graph, selection, exclude) };
  } catch (error) {
    if (!(error instanceof SelectionError)) throw error;
    return {
      ok: false,
      code: error.code,
      message: error.message,
      ...(error.suggestion ? { suggestion: error.suggestion } : {}),
    };
  }
}

/** Describes a resolution for the page. */
export function resolutionView(graph: Graph<unknown>, r: Resolution): Html {
  if (!r.ok) {
    return h`<p class="warn" data-resolution="error">${r.message}</p>`;
  }
  const partitioned = r.keys.filter((k) => graph.assets.get(k)?.partitions);
  return h`<p data-resolution="ok">Selects <b>${r.keys.length}</b> asset(s)${
    partitioned.length ? h`, ${partitioned.length} partitioned` : ""
  }: ${r.keys.slice(0, 60).map((k) => h`${assetLink(k)} `)}${r.keys.length > 60 ? "…" : ""}</p>${
    partitioned.slice(0, 5).map((k) => {
      const p = graph.assets.get(k)?.partitions;
      return p ? h`<p class="muted small">${k}: ${describePartitions(p)}</p>` : "";
    })
  }`;
}

/** The launch page body. */
export function launchPage(
  ctx: UiContext,
  query: Record<string, string | undefined>,
  error?: string,
): Html {
  const selection = query.selection ?? "";
  const exclude = query.exclude ?? "";
  const resolution = resolutionView(ctx.graph, resolve(ctx.graph, selection, exclude));
  return h`<h1>Launch a run</h1>
${error ? h`<p class="warn" data-launch-error>${error}</p>` : ""}
<form method="post" action="/actions/launch" class="launch">
<label>Selection <input name="selection" value="${selection}" size="50" placeholder="key, +key, key+, group:NAME, tag:NAME, globs; commas for union" data-resolve></label>
<label>Exclude <input name="exclude" value="${exclude}" size="30"></label>
<fieldset><legend>Partitions (partitioned assets)</legend>
<label>keys <input name="partition" value="${
    query.partition ?? ""
  }" size="30" placeholder="comma-separated"></label>
<span>or a range (backfill):</span>
<label>from <input name="from" value="${query.from ?? ""}" size="12"></label>
<label>to <input name="to" value="${query.to ?? ""}" size="12"></label>
</fieldset>
<label>Tags <input name="tags" value="${
    query.tags ?? ""
  }" size="40" placeholder="team=geo, ticket=42"></label>
<label><input type="checkbox" name="stale" value="1" ${
    query.stale === "1" ? "checked" : ""
  }> only what is stale in it, as <code>materialize --stale</code> (one run per connected set; partitions left empty)</label>
${
    ctx.queue
      ? h`<fieldset><legend>Queue</legend>
<label>priority <input name="priority" value="${
        query.priority ?? ""
      }" size="6" placeholder="0" inputmode="numeric"></label>
<label>run retries <input name="max_retries" value="${
        query.max_retries ?? ""
      }" size="4" placeholder="default" inputmode="numeric"></label>
<label><input type="checkbox" name="backfill" value="1" ${
        query.backfill === "1" ? "checked" : ""
      }> backfill: one run per partition (tagged backfill=ID)</label>
</fieldset>`
      : ""
  }
<button type="submit">${ctx.queue ? "Queue run" : "Launch run"}</button>
</form>
<div id="resolution" data-resolution-box>${resolution}</div>
<p class="muted">Runs launched here are the same runs as <code>deno task materialize</code>: the same executor, run store and events. ${
    ctx.queue
      ? h`They go to the <a href="/queue">run queue</a> (as <code>materialize --queue</code>), where a worker takes them within the limits.`
      : "They execute in this UI's process."
  }</p>`;
}
