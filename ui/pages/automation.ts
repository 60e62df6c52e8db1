/**
 * The automation pages: every sensor and schedule with its on/off state (a
 * toggle the daemon honours, kept in the run store), cursor, next tick, its
 * latest ticks (requested / skipped / failed / off, with reasons and the runs
 * they launched) and the runs it launched; and one sensor's or schedule's
 * whole tick history, page by page.
 *
 * @module
 */

import type { AutomationState, TickRecord } from "../../core/run_store/types.ts";
import { automationOverview } from "../automation_records.ts";
import type { UiContext } from "../context.ts";
import { type Automation, AUTOMATION_ITEM, automations } from "../automations.ts";
export { type Automation, automations, findAutomation } from "../automations.ts";
import { badge, empty, formatDuration, h, type Html, runLink, time } from "../html.ts";
import { queryRuns } from "../run_query.ts";

/** Every sensor's and schedule's state, by name (absent: never set, so on). */
export async function automationStates(ctx: UiContext): Promise<Map<string, AutomationState>> {
  return new Map((await ctx.store.automationStates()).map((s) => [s.name, s]));
}

/** The toggle of one sensor or schedule: a POST form to `/actions/automation/NAME`. */
function toggle(item: Automation, state: AutomationState | undefined): Html {
  const on = state?.enabled !== false;
  return h`<form method="post" action="/actions/automation/${item.name}" class="toggle">
<input type="hidden" name="enabled" value="${on ? "false" : "true"}">
<button type="submit" class="${on ? "" : "secondary"}" data-toggle="${item.name}" title="${
    on ? `turn ${item.name} off: the daemon stops evaluating it` : `turn ${item.name} on`
  }">${on ? "Turn off" : "Turn on"}</button></form>`;
}

function stateBadge(state: AutomationState | undefined): Html {
  const on = state?.enabled !== false;
  return h`<span class="badge s-${on ? "on" : "off"}" data-state="${on ? "on" : "off"}">${
    on ? "on" : "off"
  }</span>${
    state
      ? h`<div class="muted small">${on ? "on" : "off"} since ${time(state.updatedAt)}${
        state.updatedBy ? ` by ${state.updatedBy}` : ""
      }</div>`
      : ""
  }`;
}

/** One tick record as a table row. */
export function tickRow(tick: TickRecord): Html {
  const when = tick.count > 1
    ? h`${time(tick.time)} <span class="muted">→ ${time(tick.lastTime)}, ×${tick.count}</span>`
    : time(tick.time);
  return h`<tr class="tick" data-tick-status="${tick.status}"><td>${when}</td><td>${
    badge(tick.status)
  }</td><td>${tick.runIds.map((id) => h`${runLink(id)} `)}${
    tick.duplicateKeys.length
      ? h`<span class="muted small">${tick.duplicateKeys.length} already claimed: ${
        tick.duplicateKeys.slice(0, 5).join(", ")
      }${tick.duplicateKeys.length > 5 ? "…" : ""}</span>`
      : ""
  }</td><td class="${tick.status === "failed" ? "error-text" : ""}">${
    tick.reason ?? ""
  }</td><td class="mono small">${
    tick.cursor ? (tick.cursor.length > 60 ? `${tick.cursor.slice(0, 59)}…` : tick.cursor) : ""
  }</td></tr>`;
}

function ticksTable(ticks: readonly TickRecord[]): Html {
  if (ticks.length === 0) {
    return empty(
      "No tick recorded yet: the daemon (deno task sensor, or deno task dev) records them.",
    );
  }
  return h`<table class="list ticks"><thead><tr><th>when</th><th>result</th><th>runs</th><th>why</th><th>cursor</th></tr></thead><tbody>${
    ticks.map(tickRow)
  }</tbody></table>`;
}

/** The daemon's tick, which paces the sensors that set no interval of their own. */
function daemonInterval(ctx: UiContext): number {
  return ctx.daemonIntervalMs ?? 1000;
}

/** How long since the daemon last evaluated a sensor, and whether that is too long. */
function freshness(ctx: UiContext, item: Automation, latest: TickRecord | undefined): Html {
  if (item.kind !== "sensor" || !latest || latest.status === "off") return h``;
  const age = ctx.clock.now() - latest.lastTime;
  const every = item.intervalMs ?? daemonInterval(ctx);
  return age > Math.max(5 * every, 60_000)
    ? h`<div class="warn small" data-stale-daemon>last evaluated ${
      formatDuration(age)
    } ago: is a daemon running (deno task sensor)?</div>`
    : h`<div class="muted small">evaluated ${formatDuration(age)} ago</div>`;
}

/** The automation page body and its live part. */
export async function automationPage(
  ctx: UiContext,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const now = ctx.clock.now();
  const states = await automationStates(ctx);
  const rows: Html[] = [];
  for (const item of automations(ctx)) {
    const state = states.get(item.name);
    const cursor = await ctx.store.getCursor(item.name);
    const ticks = await ctx.store.listTicks(item.name, { limit: 5 });
    const runs = (await queryRuns(ctx, { automation: item.name }, undefined, 5)).runs;
    const next = item.kind === "schedule" ? item.nextTick(new Date(now))?.getTime() : undefined;
    const off = state?.enabled === false;
    rows.push(h`<section class="automation card" id="${item.name}" data-automation="${item.name}">
<div class="automation-head"><h2><a href="/automation/${item.name}">${item.name}</a> <span class="muted small">${item.kind}</span></h2>
<div class="state">${stateBadge(state)}</div>${toggle(item, state)}</div>
<p class="muted">${item.description}</p>
<table class="kv">
<tr><th>when</th><td>${
      item.kind === "schedule"
        ? h`<code>${item.cron}</code> ${item.timezone}, selects <code>${item.selection}</code>`
        : item.intervalMs !== undefined
        ? h`every ${formatDuration(item.intervalMs)}`
        : h`every ${
          formatDuration(daemonInterval(ctx))
        } <span class="muted small">(the daemon's tick, SENSOR_INTERVAL_MS)</span>`
    }</td></tr>
<tr><th>next tick</th><td>${
      off
        ? h`<span class="muted">none while off</span>`
        : item.kind === "schedule"
        ? time(next)
        : h`<span class="muted">each daemon tick</span>`
    }${freshness(ctx, item, ticks[0])}</td></tr>
<tr><th>cursor</th><td class="mono small cursor">${
      cursor ? (cursor.length > 120 ? `${cursor.slice(0, 119)}…` : cursor) : "—"
    }</td></tr>
<tr><th>latest runs</th><td>${
      runs.length
        ? h`${
          runs.map((r) => h`<div>${runLink(r.runId)} ${badge(r.status)} ${time(r.startedAt)}</div>`)
        }<a class="small" href="/runs?automation=${item.name}">all its runs →</a>`
        : h`<span class="muted">none yet</span>`
    }</td></tr>
</table>
<h3>Latest ticks <a class="small" href="/automation/${item.name}">history →</a></h3>
${ticksTable(ticks)}
${item === AUTOMATION_ITEM ? await automationOverview(ctx) : ""}
</section>`);
  }
  const list = rows.length ? h`${rows}` : empty("This graph has no sensors or schedules.");
  const body = h`<h1>Automation</h1>
<p class="muted">The sensor daemon (<code>deno task sensor</code>, or <code>deno task dev</code> with this UI) evaluates these. Turning one off is kept in the run store: every daemon skips it from its next tick, also after a restart.</p>
<div data-live="list" id="list" data-every="2000">${list}</div>`;
  return { body, fragments: { list } };
}

/** Tick records per page of the history page. */
export const TICK_PAGE = 50;

/** One sensor's or schedule's tick history, page by page (`before` = a tick id). */
export async function automationHistoryPage(
  ctx: UiContext,
  item: Automation,
  before: number | undefined,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const state = (await automationStates(ctx)).get(item.name);
  const ticks = await ctx.store.listTicks(item.name, {
    limit: TICK_PAGE + 1,
    ...(before !== undefined ? { beforeId: before } : {}),
  });
  const page = ticks.slice(0, TICK_PAGE);
  const last = page.at(-1);
  const older = ticks.length > TICK_PAGE && last
    ? h`<a class="next" href="/automation/${item.name}?before=${last.id}">older ticks →</a>`
    : "";
  const history = h`${ticksTable(page)}${older}`;
  const header = h`<div class="automation-head"><div class="state">${stateBadge(state)}</div>${
    toggle(item, state)
  }</div>`;
  const body = h`<h1>${item.kind} <span class="mono">${item.name}</span></h1>
<p class="muted">${item.description}</p>
<div data-live="header" id="header" data-every="2000">${header}</div>
<p><a href="/runs?automation=${item.name}">its runs</a> · <a href="/automation#${item.name}">all sensors and schedules</a></p>
<h2>Ticks</h2>
<div data-live="history" id="history" data-every="2000">${history}</div>
${
    item === AUTOMATION_ITEM
      ? h`<div data-live="records" id="records" data-every="3000">${await automationOverview(
        ctx,
      )}</div>`
      : ""
  }`;
  return { body, fragments: { header, history } };
}
