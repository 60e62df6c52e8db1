/**
 * The automation page: every sensor and schedule with its cursor, its next
 * tick, and the runs it launched.
 *
 * @module
 */

import type { UiContext } from "../context.ts";
import { badge, empty, h, type Html, runLink, time } from "../html.ts";
import { queryRuns } from "../run_query.ts";

/** The automation page body and its live part. */
export async function automationPage(
  ctx: UiContext,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const now = ctx.clock.now();
  const rows: Html[] = [];
  for (const item of [...ctx.graph.sensors, ...ctx.graph.schedules]) {
    const cursor = await ctx.store.getCursor(item.name);
    const runs = (await queryRuns(ctx, { automation: item.name }, undefined, 5)).runs;
    const next = item.kind === "schedule" ? item.nextTick(new Date(now))?.getTime() : undefined;
    rows.push(h`<tr id="${item.name}" data-automation="${item.name}">
<td><b>${item.name}</b><div class="muted small">${item.description}</div></td>
<td>${item.kind}</td>
<td>${
      item.kind === "schedule"
        ? h`<code>${item.cron}</code> ${item.timezone}<div class="small">selects <code>${item.selection}</code></div>`
        : h`every ${item.intervalMs ?? "SENSOR_INTERVAL_MS"} ms`
    }</td>
<td class="mono small cursor">${
      cursor ? (cursor.length > 80 ? `${cursor.slice(0, 79)}…` : cursor) : "—"
    }</td>
<td>${item.kind === "schedule" ? time(next) : h`<span class="muted">each daemon tick</span>`}</td>
<td>${
      runs.length
        ? runs.map((r) => h`<div>${runLink(r.runId)} ${badge(r.status)} ${time(r.startedAt)}</div>`)
        : h`<span class="muted">none yet</span>`
    }</td></tr>`);
  }
  const table = rows.length
    ? h`<table class="list automation"><thead><tr><th>name</th><th>kind</th><th>when</th><th>cursor</th><th>next tick</th><th>latest runs</th></tr></thead><tbody>${rows}</tbody></table>`
    : empty("This graph has no sensors or schedules.");
  const body = h`<h1>Automation</h1>
<p class="muted">The sensor daemon (<code>deno task sensor</code>, or <code>deno task dev</code> with this UI) evaluates these.</p>
<div data-live="table" id="table" data-every="2000">${table}</div>`;
  return { body, fragments: { table } };
}
