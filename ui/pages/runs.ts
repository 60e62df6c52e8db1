/**
 * The runs pages: the filtered, live list, and one run with its steps, a
 * Gantt timeline, the structured event log, errors with stacks, and the
 * cancel / re-execute / retry-from-failure buttons.
 *
 * @module
 */

import type { RunRecord, StepRecord, StoredRunEvent } from "../../core/run_store/types.ts";
import type { QueuedRun } from "../../core/worker/queue.ts";
import type { UiContext } from "../context.ts";
import {
  assetHref,
  assetLink,
  badge,
  empty,
  escapeText,
  formatDuration,
  h,
  type Html,
  metadataValue,
  runHref,
  runLink,
  time,
  trusted,
} from "../html.ts";
import { EVENT_TYPES } from "../params.ts";
import { queryRuns, type RunFilter } from "../run_query.ts";
import { automations } from "../automations.ts";
import { stepPoolWaits } from "./queue.ts";

/** The run list body and its live part. */
export async function runsPage(
  ctx: UiContext,
  filter: RunFilter,
  query: Record<string, string | undefined>,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const page = await queryRuns(ctx, filter, query.before);
  const automationNames = automations(ctx).map((a) => a.name);
  const filtered = Object.values(filter).some((v) => v !== undefined);
  // Runs still in the queue have no run record yet: the first page lists them above the others.
  const queued = ctx.queue && !filtered && !query.before
    ? await ctx.queue.list({ states: ["queued", "launched"], limit: QUEUED_SHOWN })
    : [];
  const list = h`${queuedTable(queued)}${runTable(page.runs, page.next, query, ctx.clock.now())}`;
  const day = (ms: number | undefined) =>
    ms === undefined ? "" : new Date(ms).toISOString().slice(0, 10);
  const counts = await ctx.queue?.counts();
  const waiting = counts ? counts.queued + counts.launched : 0;
  const body = h`<h1>Runs</h1>${
    counts
      ? h`<p class="muted" data-queue-waiting="${waiting}">${waiting} run(s) wait in the <a href="/queue">queue</a>${
        counts.started ? `, ${counts.started} started by workers` : ""
      }.</p>`
      : ""
  }
<form method="get" action="/runs" class="filters">
<label>status <select name="status"><option value="">any</option>${
    ["running", "success", "failed", "canceled"].map((s) =>
      h`<option value="${s}" ${filter.status === s ? "selected" : ""}>${s}</option>`
    )
  }</select></label>
<label>asset <input name="asset" list="asset-keys" value="${filter.asset ?? ""}" size="24"></label>
<datalist id="asset-keys">${
    ctx.graph.order.slice(0, 2000).map((k) => h`<option value="${k}"></option>`)
  }</datalist>
<label>sensor/schedule <select name="automation"><option value="">any</option>${
    automationNames.map((a) =>
      h`<option value="${a}" ${filter.automation === a ? "selected" : ""}>${a}</option>`
    )
  }</select></label>
<label>from <input type="date" name="since" value="${day(filter.since)}"></label>
<label>before <input type="date" name="until" value="${day(filter.until)}"></label>
<label>tag <input name="tag" value="${
    Object.entries(filter.tags ?? {}).map(([k, v]) => `${k}=${v}`).join(",")
  }" size="20" placeholder="KEY=VALUE"></label>
<button type="submit">Filter</button> <a href="/runs">clear</a>
</form>
<div data-live="list" id="list" data-every="1000">${list}</div>`;
  return { body, fragments: { list } };
}

/** Queued runs listed above the run list. */
const QUEUED_SHOWN = 20;

function queuedTable(runs: readonly QueuedRun[]): Html {
  if (runs.length === 0) return h``;
  return h`<table class="list runs queued"><thead><tr><th>queued run</th><th>state</th><th>selection</th><th>priority</th><th>launched by</th><th>queued</th></tr></thead><tbody>${
    runs.map((r) =>
      h`<tr class="run-row" data-run="${r.runId}" data-status="${r.state}"><td>${
        runLink(r.runId)
      }</td><td>${badge(r.state)}</td><td>${r.selection || h`<span class="muted">all</span>`}${
        r.partitions?.keys
          ? h` <span class="tag">${r.partitions.keys.join(",")}</span>`
          : r.partitions?.from || r.partitions?.to
          ? h` <span class="tag">${r.partitions.from ?? ""}..${r.partitions.to ?? ""}</span>`
          : ""
      }</td><td>${r.priority}</td><td>${
        r.tags.sensor ?? r.tags.schedule ?? r.tags.backfill ?? r.tags.launched_by ?? "cli"
      }</td><td>${time(r.enqueuedAt)}</td></tr>`
    )
  }</tbody></table>`;
}

function runTable(
  runs: readonly RunRecord[],
  next: string | undefined,
  query: Record<string, string | undefined>,
  now: number,
): Html {
  if (runs.length === 0) return empty("No run matches.");
  const rows = runs.map((run) =>
    h`<tr class="run-row" data-run="${run.runId}" data-status="${run.status}"><td>${
      runLink(run.runId)
    }</td><td>${badge(run.status)}</td><td>${run.selection || h`<span class="muted">all</span>`}${
      run.partitions ? h` <span class="tag">${run.partitions}</span>` : ""
    }</td><td>${launchedBy(run)}</td><td>${time(run.startedAt)}</td><td>${
      formatDuration(Math.max(0, (run.finishedAt ?? now) - run.startedAt))
    }</td><td class="error-text">${run.errorSummary ?? ""}</td></tr>`
  );
  const nextLink = next
    ? h`<a class="next" href="/runs?${
      new URLSearchParams(
        Object.fromEntries(
          Object.entries({ ...query, before: next }).filter((e): e is [string, string] =>
            e[1] !== undefined && e[1] !== "" && e[0] !== "fragment"
          ),
        ),
      ).toString()
    }">older runs →</a>`
    : "";
  return h`<table class="list runs"><thead><tr><th>run</th><th>status</th><th>selection</th><th>launched by</th><th>started</th><th>duration</th><th>error</th></tr></thead><tbody>${rows}</tbody></table>${nextLink}`;
}

function launchedBy(run: RunRecord): Html {
  if (run.tags.sensor) {
    return h`sensor <a href="/automation#${run.tags.sensor}">${run.tags.sensor}</a>`;
  }
  if (run.tags.schedule) {
    return h`schedule <a href="/automation#${run.tags.schedule}">${run.tags.schedule}</a>`;
  }
  if (run.tags.parent_run_id) {
    return h`re-execution of ${runLink(run.tags.parent_run_id)}`;
  }
  return h`${run.tags.launched_by ?? "cli"}`;
}

/** Event-log filters of the run page. */
export interface EventFilter {
  /** Only events of this step (`key` or `key[partition]`). */
  readonly step?: string | undefined;
  /** Only log lines of this level or events of this type. */
  readonly level?: string | undefined;
  /** Only these event types. */
  readonly type?: string | undefined;
  /** Only events whose text (message, error, fields, step) holds this, ignoring case. */
  readonly q?: string | undefined;
}

/** The run page body and its live parts. */
export async function runPage(
  ctx: UiContext,
  run: RunRecord,
  filter: EventFilter,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const steps = await ctx.store.listSteps(run.runId);
  const events = await ctx.store.listEvents(run.runId);
  const header = runHeader(ctx, run, steps);
  const now = ctx.clock.now();
  const waits = ctx.queue && run.status === "running"
    ? await stepPoolWaits(ctx, ctx.queue, steps)
    : new Map<string, string>();
  const stepTable = stepsTable(run, steps, now, waits);
  const gantt = ganttChart(run, steps, now);
  const log = eventLog(events, filter);
  const errors = errorsSection(events);
  const stepIds = [...new Set(steps.map((s) => stepId(s.assetKey, s.partition)))];
  const body = h`<h1>Run <span class="mono">${run.runId}</span></h1>
<div data-live="header" id="header" data-every="1000">${header}</div>
<h2>Timeline</h2>
<div data-live="gantt" id="gantt" data-every="1000">${gantt}</div>
<h2>Steps</h2>
<div data-live="steps" id="steps" data-every="1000">${stepTable}</div>
<div data-live="errors" id="errors" data-every="1500">${errors}</div>
<h2>Event log</h2>
<form method="get" action="${runHref(run.runId)}" class="filters">
<label>step <select name="step"><option value="">all</option>${
    stepIds.slice(0, 3000).map((id) =>
      h`<option ${filter.step === id ? "selected" : ""}>${id}</option>`
    )
  }</select></label>
<label>level <select name="level"><option value="">all</option>${
    ["debug", "info", "warn", "error"].map((l) =>
      h`<option ${filter.level === l ? "selected" : ""}>${l}</option>`
    )
  }</select></label>
<label>type <select name="type"><option value="">all</option>${
    EVENT_TYPES.map((t) => h`<option ${filter.type === t ? "selected" : ""}>${t}</option>`)
  }</select></label>
<label>text <input type="search" name="q" value="${
    filter.q ?? ""
  }" size="20" placeholder="in messages and errors"></label>
<button type="submit">Filter</button> <a href="${runHref(run.runId)}">clear</a>
</form>
<div data-live="log" id="log" data-every="1000">${log}</div>`;
  return { body, fragments: { header, steps: stepTable, gantt, log, errors } };
}

function runHeader(ctx: UiContext, run: RunRecord, steps: readonly StepRecord[]): Html {
  const canRetry = steps.some((s) => ["failed", "skipped", "canceled"].includes(s.status));
  const here = ctx.launcher.running.includes(run.runId);
  const tags = Object.entries(run.tags);
  const now = ctx.clock.now();
  const requested = run.cancelRequestedAt !== null;
  // Any running run can be canceled: here at once, elsewhere through its owner's heartbeat.
  const cancelable = run.status === "running" && !requested && (here || run.owner !== null);
  const owner = run.owner
    ? h`${run.owner.host} pid ${run.owner.pid}${here ? " (this UI)" : ""}${
      run.status === "running" && run.heartbeatAt !== null
        ? h` <span class="muted">· last heartbeat ${
          formatDuration(Math.max(0, now - run.heartbeatAt))
        } ago</span>`
        : ""
    }`
    : h`<span class="muted">not recorded</span>`;
  return h`<div class="run-header" data-status="${run.status}" data-cancel-requested="${
    requested ? "yes" : "no"
  }">
<p class="state">${badge(run.status)} ${
    run.status === "running"
      ? h`<span class="muted">running for ${formatDuration(now - run.startedAt)}</span>`
      : h`<span class="muted">took ${
        formatDuration((run.finishedAt ?? run.startedAt) - run.startedAt)
      }</span>`
  }${
    requested && run.status === "running"
      ? h` <span class="cancel-requested" data-cancel-note>cancel requested ${
        time(run.cancelRequestedAt)
      } (${run.cancelReason ?? ""}): ${
        here ? "stopping" : "its process stops it at its next heartbeat"
      }</span>`
      : ""
  }</p>
<table class="kv">
<tr><th>selection</th><td class="mono">${run.selection || "(all assets)"}</td></tr>
<tr><th>partitions</th><td>${run.partitions ?? "—"}</td></tr>
<tr><th>started</th><td>${time(run.startedAt)}</td></tr>
<tr><th>finished</th><td>${time(run.finishedAt)}</td></tr>
<tr><th>process</th><td>${owner}</td></tr>
<tr><th>tags</th><td>${
    tags.length
      ? tags.map(([k, v]) =>
        k === "parent_run_id" || k === "root_run_id" || k === "relaunch_of"
          ? h`<span class="tag">${k}=${runLink(v)}</span> `
          // A tag opens the runs that carry it (a backfill's, a sensor's...), as in Dagster.
          : h`<a class="tag" href="/runs?${
            new URLSearchParams({ tag: `${k}=${v}` }).toString()
          }" title="runs with this tag">${k}=${v}</a> `
      )
      : "none"
  }</td></tr>
${run.errorSummary ? h`<tr><th>error</th><td class="error-text">${run.errorSummary}</td></tr>` : ""}
${
    requested && run.status !== "running"
      ? h`<tr><th>cancel</th><td>requested ${time(run.cancelRequestedAt)} (${
        run.cancelReason ?? ""
      })</td></tr>`
      : ""
  }
</table>
<div class="actions">
${
    run.status === "running"
      ? h`<form method="post" action="/actions/runs/${
        encodeURIComponent(run.runId)
      }/cancel"><button class="danger" type="submit" ${cancelable ? "" : "disabled"} title="${
        requested
          ? "cancel already requested"
          : cancelable
          ? here ? "cancel this run now" : "ask its process to cancel it (at its next heartbeat)"
          : "no owner process is recorded for this run: stop the process that runs it"
      }">Cancel run</button></form>`
      : ""
  }
${
    run.status !== "running"
      ? h`<form method="post" action="/actions/runs/${
        encodeURIComponent(run.runId)
      }/reexecute"><button type="submit">Re-execute</button></form>`
      : ""
  }
${
    run.status !== "running" && canRetry
      ? h`<form method="post" action="/actions/runs/${
        encodeURIComponent(run.runId)
      }/reexecute"><input type="hidden" name="from_failure" value="1"><button type="submit">Retry from failure</button></form>`
      : ""
  }
${
    // Dagster's "re-execute selected": one step (asset and partition) of this run, again.
    run.status !== "running" && steps.length > 1
      ? h`<form method="post" action="/actions/runs/${
        encodeURIComponent(run.runId)
      }/reexecute" class="inline-form"><select name="step" aria-label="step to re-execute">${
        [...new Set(steps.map((s) => stepId(s.assetKey, s.partition)))].slice(0, 3000).map((id) =>
          h`<option>${id}</option>`
        )
      }</select><button type="submit">Re-execute step</button></form>`
      : ""}
</div></div>`;
}

/** `key` or `key[partition]`. */
export function stepId(assetKey: string, partition: string | null): string {
  return partition === null ? assetKey : `${assetKey}[${partition}]`;
}

function stepsTable(
  run: RunRecord,
  steps: readonly StepRecord[],
  now: number,
  waits: ReadonlyMap<string, string>,
): Html {
  if (steps.length === 0) return empty("No step recorded.");
  const shown = steps.slice(0, 1000);
  return h`<table class="list steps"><thead><tr><th>step</th><th>status</th><th>attempts</th><th>started</th><th>duration</th><th>reason</th></tr></thead><tbody>${
    shown.map((s) =>
      h`<tr data-step="${stepId(s.assetKey, s.partition)}" data-status="${s.status}"><td><a href="${
        assetHref(s.assetKey)
      }">${stepId(s.assetKey, s.partition)}</a> <a class="small" href="${runHref(run.runId)}?step=${
        encodeURIComponent(stepId(s.assetKey, s.partition))
      }">events</a></td><td>${badge(s.status)}</td><td>${s.attempts}</td><td>${
        time(s.startedAt)
      }</td><td>${
        s.startedAt !== null
          ? formatDuration(Math.max(0, (s.finishedAt ?? now) - s.startedAt))
          : "—"
      }</td><td class="${
        waits.has(stepId(s.assetKey, s.partition)) ? "pool-wait" : "error-text"
      }">${s.reason ?? waits.get(stepId(s.assetKey, s.partition)) ?? ""}</td></tr>`
    )
  }</tbody></table>${
    steps.length > shown.length
      ? h`<p class="muted">${steps.length - shown.length} more steps</p>`
      : ""
  }`;
}

/** A Gantt chart of the steps of `run` (SVG; one bar per step that started). */
export function ganttChart(run: RunRecord, steps: readonly StepRecord[], now: number): Html {
  const started = steps.filter((s) => s.startedAt !== null).slice(0, 400);
  if (started.length === 0) return empty("No step has started yet.");
  const t0 = Math.min(run.startedAt, ...started.map((s) => s.startedAt as number));
  const t1 = Math.max(
    run.finishedAt ?? now,
    ...started.map((s) => s.finishedAt ?? now),
    t0 + 1,
  );
  const width = 900, label = 230, row = 18, top = 22;
  const height = top + started.length * row + 8;
  const x = (t: number) => label + ((t - t0) / (t1 - t0)) * (width - label - 10);
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5;
    parts.push(
      `<line class="grid" x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${height}"/>`,
      `<text class="tick" x="${x(t)}" y="${top - 8}" text-anchor="middle">${
        formatDuration(t - t0)
      }</text>`,
    );
  }
  started.forEach((s, i) => {
    const y = top + i * row;
    const a = x(s.startedAt as number), b = Math.max(a + 2, x(s.finishedAt ?? now));
    const id = stepId(s.assetKey, s.partition);
    parts.push(
      `<text class="glabel" x="${label - 6}" y="${y + 12}" text-anchor="end">${
        escapeText(id.length > 34 ? `${id.slice(0, 33)}…` : id)
      }</text><rect class="gbar s-${s.status.replace(/[^a-z_]/g, "")}" data-step="${
        escapeText(id)
      }" x="${a.toFixed(1)}" y="${y + 2}" width="${(b - a).toFixed(1)}" height="${
        row - 5
      }" rx="2"><title>${escapeText(id)}: ${escapeText(s.status)}, ${
        formatDuration((s.finishedAt ?? now) - (s.startedAt as number))
      }</title></rect>`,
    );
  });
  return trusted(
    `<svg class="gantt" role="img" aria-label="timeline of steps" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${
      parts.join("")
    }</svg>`,
  );
}

function levelOf(event: StoredRunEvent): string {
  if (event.type === "log") return String(event.data.level ?? "info");
  if (
    event.type === "step_failed" || event.type === "run_finished" && event.data.status === "failed"
  ) {
    return "error";
  }
  if (event.type === "check" && event.data.passed === false) return "warn";
  if (event.type === "step_retry" || event.type === "step_skipped") return "warn";
  return "info";
}

/** A log field's value as text: strings bare, anything else as JSON (`null`, `[1,2]`). */
function fieldText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
}

function eventMessage(event: StoredRunEvent): Html {
  const d = event.data;
  switch (event.type) {
    case "log":
      // As a materialization's metadata: key=value chips. The raw JSON object after the
      // message read as a serialization leak, and its quotes doubled the width.
      return h`${String(d.message ?? "")}${
        d.fields && typeof d.fields === "object" && Object.keys(d.fields).length
          ? h` ${
            Object.entries(d.fields as Record<string, unknown>).map(([k, v]) =>
              h`<span class="mini" data-field="${k}">${k}=${fieldText(v)}</span> `
            )
          }`
          : ""
      }`;
    case "materialization":
      return h`materialized ${
        Object.entries((d.metadata ?? {}) as Record<string, unknown>).slice(0, 6).map(([k, v]) =>
          h`<span class="mini">${k}=${typeof v === "object" ? "…" : String(v)}</span> `
        )
      }`;
    case "check":
      return h`check <b>${String(d.name)}</b> ${badge(d.passed ? "passed" : "failed")} ${
        d.description ? String(d.description) : ""
      }`;
    case "step_failed":
    case "step_retry":
    case "step_canceled":
      return h`${String(d.error ?? d.reason ?? "")}${
        d.stack
          ? h`<details class="stack"><summary>stack</summary><pre>${
            String(d.stack)
          }</pre></details>`
          : ""
      }`;
    case "step_skipped":
      return h`skipped: ${String(d.reason ?? "")}`;
    case "run_finished":
      return h`run ${String(d.status)} in ${
        formatDuration(Number(d.duration_ms))
      } (${d.success} ok, ${d.failed} failed, ${d.skipped} skipped)`;
    case "step_success":
      return h`succeeded in ${formatDuration(Number(d.duration_ms))}`;
    default:
      return h`${
        Object.entries(d).map(([k, v]) => h`<span class="mini">${k}: ${metadataValue(v)}</span> `)
      }`;
  }
}

const LOG_LIMIT = 1000;

/** What the log's text filter searches in an event, lower-cased. */
function eventText(e: StoredRunEvent): string {
  return `${e.type} ${stepId(e.assetKey ?? "", e.partition)} ${JSON.stringify(e.data)}`
    .toLowerCase();
}

function eventLog(events: readonly StoredRunEvent[], filter: EventFilter): Html {
  const q = (filter.q ?? "").trim().toLowerCase();
  const shown = events.filter((e) => {
    if (filter.step && stepId(e.assetKey ?? "", e.partition) !== filter.step) return false;
    if (filter.type && e.type !== filter.type) return false;
    if (filter.level && levelOf(e) !== filter.level) return false;
    if (q && !eventText(e).includes(q)) return false;
    return true;
  });
  if (shown.length === 0) return empty("No event matches.");
  const tail = shown.slice(-LOG_LIMIT);
  return h`${
    shown.length > tail.length
      ? h`<p class="muted">showing the last ${tail.length} of ${shown.length} events</p>`
      : ""
  }<ol class="events">${
    tail.map((e) =>
      h`<li class="event lv-${levelOf(e)}" data-type="${e.type}"><span class="t mono">${
        new Date(e.time).toISOString().slice(11, 23)
      }</span> <span class="ty">${e.type}</span> ${
        e.assetKey
          ? h`<a href="${assetHref(e.assetKey)}">${stepId(e.assetKey, e.partition)}</a>`
          : ""
      } <span class="msg">${eventMessage(e)}</span></li>`
    )
  }</ol>`;
}

function errorsSection(events: readonly StoredRunEvent[]): Html {
  const failures = events.filter((e) => e.type === "step_failed");
  if (failures.length === 0) return h``;
  return h`<h2>Errors</h2>${
    failures.map((e) =>
      h`<div class="error-box" data-error-step="${stepId(e.assetKey ?? "", e.partition)}"><p><b>${
        e.assetKey ? assetLink(e.assetKey) : "run"
      }${e.partition ? `[${e.partition}]` : ""}</b> — ${String(e.data.error_class ?? "Error")}${
        e.data.code ? h` <span class="tag">${String(e.data.code)}</span>` : ""
      }: <span class="error-text">${String(e.data.error ?? "")}</span></p>${
        e.data.cause ? h`<p class="muted">caused by: ${String(e.data.cause)}</p>` : ""
      }${e.data.stack ? h`<pre class="stack">${String(e.data.stack)}</pre>` : ""}</div>`
    )
  }`;
}
