/**
 * What the automation decided and why, from its records in the run store
 * (`listAutomationRecords`, written by the daemon's `automation` sensor):
 * each evaluation of an asset's condition with its tree — which parts were
 * true, for how many partitions — and whether a run was requested (Dagster's
 * automation condition evaluations); freshness verdicts; the sensor's own
 * tick records; notification deliveries. The asset page and the automation
 * pages show them.
 *
 * @module
 */

import type { AssetDefinition } from "../core/asset.ts";
import type { EvaluatedNode } from "../core/automation/evaluate.ts";
import type { StoredAutomationRecord } from "../core/run_store/types.ts";
import type { UiContext } from "./context.ts";
import { assetLink, badge, empty, formatDuration, h, type Html, runLink, time } from "./html.ts";

/** Evaluations shown on an asset page. */
export const ASSET_EVALUATIONS = 10;
/** Freshness verdicts shown on an asset page. */
export const ASSET_FRESHNESS = 10;
/** Newest evaluation records read for the per-asset overview of the automation sensor. */
const OVERVIEW_SCAN = 1000;
/** Assets listed in that overview. */
const OVERVIEW_SHOWN = 200;

function isNode(value: unknown): value is EvaluatedNode {
  if (!value || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.label === "string" && typeof v.trueCount === "number" &&
    Array.isArray(v.trueKeys) && Array.isArray(v.children);
}

/**
 * The condition tree of an evaluation as nested lists: ✓ where the part was
 * true (for `partition`, when given), ✗ where false, ? where the record
 * lists too few partitions to tell — as `deno task cli automation` prints it.
 */
export function conditionTree(tree: unknown, evaluated: number, partition?: string): Html {
  if (!isNode(tree)) return h`<p class="muted">no condition tree recorded</p>`;
  const visit = (node: EvaluatedNode): Html => {
    const mark = partition === undefined
      ? node.trueCount > 0 ? "true" : "false"
      : node.trueKeys.includes(partition)
      ? "true"
      : node.trueKeys.length === node.trueCount
      ? "false"
      : "unknown";
    const symbol = mark === "true" ? "✓" : mark === "false" ? "✗" : "?";
    const keys = node.trueKeys.filter((k): k is string => k !== null);
    return h`<li class="cond cond-${mark}" data-true="${mark}"><span class="mark">${symbol}</span> <code>${node.label}</code>${
      evaluated > 1 && partition === undefined
        ? h` <span class="muted">${node.trueCount}/${evaluated}</span>`
        : ""
    }${
      partition === undefined && evaluated > 1 && keys.length > 0
        ? h` <span class="small muted">[${keys.slice(0, 5).join(", ")}${
          node.trueCount > 5 ? ", …" : ""
        }]</span>`
        : ""
    }${node.children.length ? h`<ul>${node.children.map((child) => visit(child))}</ul>` : ""}</li>`;
  };
  return h`<ul class="cond-tree">${visit(tree)}</ul>`;
}

/** One evaluation record: when, the outcome (requested or not), and the tree. */
export function evaluationView(record: StoredAutomationRecord): Html {
  const d = record.data;
  const evaluated = Number(d.evaluated ?? 0);
  const requested = Number(d.requestedCount ?? 0);
  const deferred = Number(d.deferred ?? 0);
  const keys = Array.isArray(d.requested)
    ? d.requested.filter((k): k is string => typeof k === "string")
    : [];
  const outcome = requested > 0
    ? h`${badge("requested")} ${requested} of ${evaluated} partition(s)${
      keys.length
        ? h` <span class="small mono">${keys.slice(0, 10).join(", ")}${
          keys.length > 10 ? "…" : ""
        }</span>`
        : ""
    }${
      typeof d.runKey === "string" ? h` <span class="small muted">run key ${d.runKey}</span>` : ""
    }`
    : deferred > 0
    ? h`${badge("deferred")} ${deferred} partition(s) wait for a run in progress`
    : h`${
      badge("not_requested")
    } <span class="muted">the condition was false for all ${evaluated} evaluated partition(s)</span>`;
  return h`<div class="evaluation" data-evaluation="${record.id}" data-requested="${requested}"><p>${
    time(record.time)
  } <span class="muted">tick ${String(d.tick ?? "?")}</span> · ${outcome}</p>${
    conditionTree(d.tree, evaluated)
  }</div>`;
}

/** One freshness verdict as a table row. */
function freshnessRow(record: StoredAutomationRecord): Html {
  const d = record.data;
  const lag = typeof d.lag_ms === "number" ? formatDuration(d.lag_ms) : "—";
  const max = typeof d.max_lag_ms === "number" ? formatDuration(d.max_lag_ms) : "—";
  return h`<tr data-freshness="${String(d.status)}"><td>${time(record.time)}</td><td>${
    badge(String(d.status ?? "?"))
  }${
    d.transition === true && d.previous
      ? h` <span class="muted small">was ${String(d.previous)}</span>`
      : ""
  }</td><td>${lag} <span class="muted">of ${max}</span></td><td>${
    String(d.description ?? "")
  }</td><td>${typeof d.run_id === "string" ? runLink(d.run_id) : ""}</td></tr>`;
}

function freshnessTable(records: readonly StoredAutomationRecord[]): Html {
  return h`<table class="list freshness"><thead><tr><th>judged</th><th>verdict</th><th>age</th><th>why</th><th>check run</th></tr></thead><tbody>${
    records.map(freshnessRow)
  }</tbody></table>`;
}

/**
 * The asset page's automation section: its condition and freshness policy,
 * the latest evaluations with their trees, and the freshness verdicts.
 */
export async function assetAutomationSection(
  ctx: UiContext,
  asset: AssetDefinition,
): Promise<Html> {
  if (!asset.automation && !asset.freshness) {
    return h`<p class="muted">No automation condition or freshness policy: only launches, sensors and schedules materialize it.</p>`;
  }
  const [evaluations, verdicts] = await Promise.all([
    asset.automation
      ? ctx.store.listAutomationRecords({
        kind: "evaluation",
        assetKey: asset.key,
        limit: ASSET_EVALUATIONS,
      })
      : Promise.resolve([]),
    asset.freshness
      ? ctx.store.listAutomationRecords({
        kind: "freshness",
        assetKey: asset.key,
        limit: ASSET_FRESHNESS,
      })
      : Promise.resolve([]),
  ]);
  const policy = asset.freshness;
  return h`<table class="kv">
${
    asset.automation
      ? h`<tr><th>condition</th><td><code>${asset.automation.describe()}</code></td></tr>`
      : ""
  }
${
    policy
      ? h`<tr><th>freshness</th><td>at most ${formatDuration(policy.maxLagMs)} old${
        policy.warnLagMs !== null ? h`, warns after ${formatDuration(policy.warnLagMs)}` : ""
      }${
        policy.cron ? h`, judged at <code>${policy.cron}</code> ${policy.timezone}` : ""
      } (${policy.severity})</td></tr>`
      : ""
  }
</table>
${
    asset.automation
      ? h`<h3>Evaluations <span class="muted small">newest first: why a run was or was not requested</span></h3>${
        evaluations.length ? h`${evaluations.map(evaluationView)}` : empty(
          "Not evaluated yet: the sensor daemon (deno task sensor, or deno task dev) evaluates it when something it depends on changes.",
        )
      }`
      : ""
  }
${
    policy
      ? h`<h3>Freshness verdicts</h3>${
        verdicts.length
          ? freshnessTable(verdicts)
          : empty("Not judged yet: the sensor daemon judges it every tick.")
      }`
      : ""
  }`;
}

/**
 * The automation sensor's own view: the latest evaluation of each automated
 * asset (requested or not), its recent evaluation passes and the
 * notifications it delivered.
 */
export async function automationOverview(ctx: UiContext): Promise<Html> {
  const [evaluations, ticks, notes, verdicts] = await Promise.all([
    ctx.store.listAutomationRecords({ kind: "evaluation", limit: OVERVIEW_SCAN }),
    ctx.store.listAutomationRecords({ kind: "tick", limit: 10 }),
    ctx.store.listAutomationRecords({ kind: "notification", limit: 10 }),
    ctx.store.listAutomationRecords({ kind: "freshness", limit: OVERVIEW_SCAN }),
  ]);
  const latest = new Map<string, StoredAutomationRecord>();
  for (const r of evaluations) if (r.assetKey && !latest.has(r.assetKey)) latest.set(r.assetKey, r);
  const fresh = new Map<string, StoredAutomationRecord>();
  for (const r of verdicts) if (r.assetKey && !fresh.has(r.assetKey)) fresh.set(r.assetKey, r);
  const automated = ctx.graph.order.filter((key) => {
    const a = ctx.graph.assets.get(key);
    return a?.automation || a?.freshness;
  });
  const rows = automated.slice(0, OVERVIEW_SHOWN).map((key) => {
    const asset = ctx.graph.assets.get(key) as AssetDefinition;
    const e = latest.get(key);
    const f = fresh.get(key);
    const requested = Number(e?.data.requestedCount ?? 0);
    return h`<tr data-automated="${key}"><td>${assetLink(key)}</td><td><code>${
      asset.automation?.describe() ?? "—"
    }</code></td><td>${
      e
        ? h`${time(e.time)} ${
          requested > 0 ? h`${badge("requested")} ${requested}` : badge("not_requested")
        }`
        : h`<span class="muted">${asset.automation ? "not evaluated recently" : "—"}</span>`
    }</td><td>${
      f
        ? h`${badge(String(f.data.status))} <span class="small">${
          String(f.data.description ?? "")
        }</span>`
        : asset.freshness
        ? h`<span class="muted">not judged yet</span>`
        : "—"
    }</td></tr>`;
  });
  const passes = ticks.length
    ? h`<table class="list"><thead><tr><th>when</th><th>tick</th><th>events read</th><th>evaluated</th><th>requested</th><th>runs</th><th>took</th><th>daemon</th></tr></thead><tbody>${
      ticks.map((t) =>
        h`<tr data-automation-tick="${String(t.data.tick)}"><td>${time(t.time)}</td><td>${
          String(t.data.tick ?? "")
        }</td><td>${String(t.data.events_read ?? "")}</td><td>${
          String(t.data.assets_evaluated ?? "")
        } asset(s), ${String(t.data.partitions_evaluated ?? "")} partition(s)</td><td>${
          String(t.data.partitions_requested ?? "")
        }</td><td>${String(t.data.runs ?? "")}</td><td>${
          typeof t.data.duration_ms === "number" ? formatDuration(t.data.duration_ms) : ""
        }</td><td class="mono small">${String(t.data.daemon ?? "")}</td></tr>`
      )
    }</tbody></table>`
    : empty("No evaluation pass recorded yet.");
  const delivered = notes.length
    ? h`<table class="list"><thead><tr><th>when</th><th>notifier</th><th>status</th><th>subject</th><th>run</th></tr></thead><tbody>${
      notes.map((n) =>
        h`<tr data-notification="${String(n.data.status)}"><td>${
          time(n.time)
        }</td><td>${n.name}</td><td>${badge(String(n.data.status ?? "?"))}${
          typeof n.data.error === "string"
            ? h` <span class="error-text small">${n.data.error}</span>`
            : ""
        }</td><td>${String(n.data.subject ?? "")}</td><td>${
          typeof n.data.run_id === "string" ? runLink(n.data.run_id) : ""
        }</td></tr>`
      )
    }</tbody></table>`
    : empty("No notification sent.");
  return h`<h3>Automated assets <span class="muted small">latest evaluation and freshness; open an asset for the condition tree</span></h3>${
    rows.length
      ? h`<table class="list automated"><thead><tr><th>asset</th><th>condition</th><th>last evaluation</th><th>freshness</th></tr></thead><tbody>${rows}</tbody></table>${
        automated.length > OVERVIEW_SHOWN
          ? h`<p class="muted">${automated.length - OVERVIEW_SHOWN} more automated assets</p>`
          : ""
      }`
      : empty("No asset has an automation condition or a freshness policy.")
  }
<h3>Evaluation passes</h3>${passes}
<h3>Notifications</h3>${delivered}`;
}
