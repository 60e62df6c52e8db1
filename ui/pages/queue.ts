/**
 * The run queue pages (with a Postgres run store, RUN_QUEUE=auto): the
 * waiting runs in admission order with why each waits (the coordinator's
 * own `planAdmission`, through `explainQueue`), priority, pools and tags, a
 * cancel button per run; the running and recently ended entries; the
 * workers and their liveness; the published limits. And the page of one run
 * that waits in the queue, before any worker has recorded it.
 *
 * @module
 */

import { describeLimits } from "../../core/worker/admission.ts";
import { runJson } from "../../core/worker/commands.ts";
import { explainQueue, liveWorkers } from "../../core/worker/explain.ts";
import {
  type QueuedRun,
  type QueueLimits,
  type QueueState,
  type RunQueue,
  selectionText,
  type SlotRecord,
  type WorkerRecord,
} from "../../core/worker/queue.ts";
import type { StepRecord } from "../../core/run_store/types.ts";
import type { UiContext } from "../context.ts";
import { badge, empty, formatDuration, h, type Html, runHref, runLink, time } from "../html.ts";

/** Most waiting runs shown (the counts give the rest). */
const WAITING_SHOWN = 500;
/** Ended entries shown. */
const ENDED_SHOWN = 25;

/** What the queue holds now, with the reason each waiting run waits. */
export interface QueueView {
  /** Runs per state. */
  readonly counts: Record<QueueState, number>;
  /** `queued` and `launched` runs, in admission order. */
  readonly waiting: readonly QueuedRun[];
  /** `started` runs, newest first. */
  readonly started: readonly QueuedRun[];
  /** `finished` and `canceled` runs, newest first. */
  readonly ended: readonly QueuedRun[];
  /** Why each waiting run waits, by run id. */
  readonly reasons: ReadonlyMap<string, string>;
  /** The leading coordinator's limits, or `undefined` when none led yet. */
  readonly limits: QueueLimits | undefined;
  /** Workers that announced themselves. */
  readonly workers: readonly WorkerRecord[];
  /** Pool slots held by steps (step-level pools, `QUEUE_POOL_GRANULARITY=step`). */
  readonly slots: readonly SlotRecord[];
  /** Time of the snapshot. */
  readonly now: number;
}

/** Reads the queue once (the same snapshot as `deno task cli queue`). */
export async function readQueue(queue: RunQueue, now: number): Promise<QueueView> {
  const [waiting, active, ended, limits, workers, counts, slots] = await Promise.all([
    queue.list({ states: ["queued", "launched"], limit: 1000 }),
    queue.list({ states: ["launched", "started"], limit: 100_000 }),
    queue.list({ states: ["finished", "canceled"], limit: ENDED_SHOWN }),
    queue.publishedLimits(),
    queue.listWorkers(),
    queue.counts(),
    queue.listSlots(),
  ]);
  const reasons = explainQueue({ waiting, active, limits, workers, now });
  return {
    counts,
    waiting,
    started: active.filter((r) => r.state === "started"),
    ended,
    reasons,
    limits,
    workers,
    slots,
    now,
  };
}

/** Slots in use per pool. */
function slotsInUse(slots: readonly SlotRecord[]): Map<string, number> {
  const used = new Map<string, number>();
  for (const s of slots) used.set(s.pool, (used.get(s.pool) ?? 0) + 1);
  return used;
}

/**
 * Why pending steps of a running run wait, by step id (`key` or
 * `key[partition]`): with step-level pools, a step whose asset uses a pool
 * whose slots are all held waits for one. Computed from the published limits
 * and the slots held, as `explainQueue` does for runs.
 */
export async function stepPoolWaits(
  ctx: UiContext,
  queue: RunQueue,
  steps: readonly StepRecord[],
): Promise<Map<string, string>> {
  const waits = new Map<string, string>();
  const pending = steps.filter((s) => s.status === "pending");
  if (pending.length === 0) return waits;
  const limits = await queue.publishedLimits();
  if (limits?.poolGranularity !== "step") return waits;
  const used = slotsInUse(await queue.listSlots());
  for (const step of pending) {
    const asset = ctx.graph.assets.get(step.assetKey);
    if (!asset) continue;
    const pools = new Set([...asset.resources, ...asset.checks.flatMap((c) => c.resources)]);
    const full = [...pools].filter((pool) => {
      const limit = limits.poolLimits[pool];
      return limit !== undefined && (used.get(pool) ?? 0) >= limit;
    });
    if (full.length > 0) {
      waits.set(
        step.partition === null ? step.assetKey : `${step.assetKey}[${step.partition}]`,
        `waits for a slot of pool ${
          full.map((p) => `${p} (${used.get(p)} of ${limits.poolLimits[p]} in use)`).join(", ")
        }`,
      );
    }
  }
  return waits;
}

/** The queue as JSON (`GET /api/queue`): entries as `queue --json` writes them. */
export function queueJson(view: QueueView): Record<string, unknown> {
  const entry = (run: QueuedRun) => ({
    ...runJson(run),
    reason: view.reasons.get(run.runId) ?? null,
  });
  return {
    counts: view.counts,
    limits: view.limits ?? null,
    limitsText: view.limits ? describeLimits(view.limits) : null,
    waiting: view.waiting.map(entry),
    running: view.started.map(entry),
    ended: view.ended.map(entry),
    workers: view.workers.map((w) => ({
      ...w,
      live: w.heartbeatAt + w.leaseMs >= view.now,
    })),
    slots: view.slots,
  };
}

/** The queue page body and its live part. */
export async function queuePage(
  ctx: UiContext,
  queue: RunQueue,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const view = await readQueue(queue, ctx.clock.now());
  const content = queueContent(view);
  const body = h`<h1>Run queue</h1>
<p class="muted">Runs launched here, by <code>materialize --queue</code>, <code>backfill</code> and the sensor daemon wait in the queue (${queue.description}) until the coordinator admits them within the limits and a worker (<code>deno task worker</code>) executes them. Higher priority first, then the order queued.</p>
<div data-live="queue" id="queue" data-every="1500">${content}</div>`;
  return { body, fragments: { queue: content } };
}

function queueContent(view: QueueView): Html {
  const live = liveWorkers(view.workers, view.now);
  const c = view.counts;
  const summary =
    h`<p class="queue-summary" data-queued="${c.queued}" data-admitted="${c.launched}" data-started="${c.started}"><b>${c.queued}</b> queued, <b>${c.launched}</b> admitted, <b>${c.started}</b> running; ${live.length} live worker(s) with ${
      live.reduce((n, w) => n + w.concurrency, 0)
    } slot(s).<br>Limits: ${
      view.limits
        ? h`<span class="mono">${describeLimits(view.limits)}</span>`
        : h`<span class="muted">none published (no coordinator has led yet)</span>`
    }</p>`;
  const waiting = view.waiting.length === 0
    ? empty("No run waits in the queue.")
    : h`<table class="list queue"><thead><tr><th>#</th><th>run</th><th>state</th><th>priority</th><th>selection</th><th>pools</th><th>tags</th><th>queued</th><th>why it waits</th><th></th></tr></thead><tbody>${
      view.waiting.slice(0, WAITING_SHOWN).map((r, i) =>
        h`<tr class="queued-row" data-run="${r.runId}" data-state="${r.state}" data-priority="${r.priority}"><td>${
          i + 1
        }</td><td>${runLink(r.runId)}</td><td>${badge(r.state)}</td><td>${r.priority}</td><td>${
          selectionText(r)
        }</td><td>${pools(r)}</td><td>${tags(r)}</td><td>${time(r.enqueuedAt)}${
          r.attempt > 1 ? h` <span class="tag">attempt ${r.attempt}</span>` : ""
        }</td><td class="reason">${view.reasons.get(r.runId) ?? ""}</td><td>${
          cancelForm(r.runId, "Cancel")
        }</td></tr>`
      )
    }</tbody></table>${
      view.waiting.length > WAITING_SHOWN
        ? h`<p class="muted">${view.waiting.length - WAITING_SHOWN} more waiting</p>`
        : ""
    }`;
  const byId = new Map(view.workers.map((w) => [w.workerId, w]));
  const running = view.started.length === 0
    ? empty("No queued run is running.")
    : h`<table class="list"><thead><tr><th>run</th><th>selection</th><th>pools</th><th>worker</th><th>started</th><th>cancel</th></tr></thead><tbody>${
      view.started.map((r) => {
        const w = r.workerId ? byId.get(r.workerId) : undefined;
        return h`<tr data-run="${r.runId}" data-state="started"><td>${runLink(r.runId)}</td><td>${
          selectionText(r)
        }</td><td>${pools(r)}</td><td class="mono">${
          w ? `${w.host}:${w.pid}` : r.workerId ?? "—"
        }</td><td>${time(r.startedAt)}</td><td>${
          r.cancelRequested ? h`requested (${r.cancelRequested})` : cancelForm(r.runId, "Cancel")
        }</td></tr>`;
      })
    }</tbody></table>`;
  const ended = view.ended.length === 0
    ? empty("No run has left the queue yet.")
    : h`<table class="list"><thead><tr><th>run</th><th>state</th><th>selection</th><th>ended</th><th>outcome</th></tr></thead><tbody>${
      view.ended.map((r) =>
        h`<tr data-run="${r.runId}" data-state="${r.state}"><td>${runLink(r.runId)}</td><td>${
          badge(r.state)
        }</td><td>${selectionText(r)}</td><td>${time(r.finishedAt)}</td><td>${
          r.outcome ?? ""
        }</td></tr>`
      )
    }</tbody></table>`;
  const workers = view.workers.length === 0
    ? empty("No worker has announced itself: start one with `deno task worker` (same RUNS_URL).")
    : h`<table class="list"><thead><tr><th>worker</th><th>host:pid</th><th>status</th><th>runs</th><th>last heartbeat</th></tr></thead><tbody>${
      view.workers.map((w) => {
        const alive = w.heartbeatAt + w.leaseMs >= view.now;
        return h`<tr data-worker="${w.workerId}" data-alive="${
          alive ? "yes" : "no"
        }"><td class="mono">${
          w.workerId.slice(0, 8)
        }</td><td class="mono">${w.host}:${w.pid}</td><td>${
          alive
            ? w.status
            : h`<span class="warn">dead (no heartbeat for ${
              formatDuration(view.now - w.heartbeatAt)
            })</span>`
        }</td><td>${w.running}/${w.concurrency}</td><td>${
          formatDuration(Math.max(0, view.now - w.heartbeatAt))
        } ago</td></tr>`;
      })
    }</tbody></table>`;
  return h`${summary}<h2>Waiting (next first)</h2>${waiting}<h2>Running</h2>${running}${
    slotsSection(view)
  }<h2>Workers</h2>${workers}<h2>Recently ended</h2>${ended}`;
}

/** Step-level pool slots: per pool the slots in use of its limit, and who holds them. */
function slotsSection(view: QueueView): Html {
  const stepPools = view.limits?.poolGranularity === "step";
  if (!stepPools && view.slots.length === 0) return h``;
  const used = slotsInUse(view.slots);
  const pools = [...new Set([...Object.keys(view.limits?.poolLimits ?? {}), ...used.keys()])]
    .sort();
  const byId = new Map(view.workers.map((w) => [w.workerId, w]));
  return h`<h2>Pool slots <span class="muted small">steps using a limited resource at once (QUEUE_POOL_GRANULARITY=step)</span></h2>
<table class="list pools"><thead><tr><th>pool</th><th>in use</th><th>held by</th></tr></thead><tbody>${
    pools.map((pool) => {
      const limit = view.limits?.poolLimits[pool];
      const holders = view.slots.filter((s) => s.pool === pool);
      return h`<tr data-pool="${pool}" data-in-use="${
        used.get(pool) ?? 0
      }"><td><span class="tag pool">${pool}</span></td><td>${used.get(pool) ?? 0} of ${
        limit ?? "∞"
      }</td><td>${
        holders.length
          ? holders.map((s) => {
            const w = byId.get(s.workerId);
            return h`<div>${
              runLink(s.runId)
            } <span class="mono">${s.step}</span> <span class="muted small">on ${
              w ? `${w.host}:${w.pid}` : s.workerId.slice(0, 8)
            }, for ${formatDuration(Math.max(0, view.now - s.takenAt))}</span></div>`;
          })
          : h`<span class="muted">free</span>`
      }</td></tr>`;
    })
  }</tbody></table>`;
}

/** The page of a run that is in the queue and not (yet) in the run store. */
export async function queuedRunPage(
  ctx: UiContext,
  queue: RunQueue,
  entry: QueuedRun,
): Promise<{ body: Html; fragments: Record<string, Html> }> {
  const state = await queuedRunState(ctx, queue, entry);
  const body = h`<h1>Run <span class="mono">${entry.runId}</span></h1>
<div data-live="queued" id="queued" data-every="1000">${state}</div>`;
  return { body, fragments: { queued: state } };
}

async function queuedRunState(ctx: UiContext, queue: RunQueue, first: QueuedRun): Promise<Html> {
  const entry = await queue.get(first.runId) ?? first;
  // Once a worker records the run, its run page takes over (the script reloads).
  if (await ctx.store.getRun(entry.runId)) {
    return h`<p data-reload>Run started: <a href="${runHref(entry.runId)}">open its page</a>.</p>`;
  }
  const now = ctx.clock.now();
  let reason = "";
  if (entry.state === "queued" || entry.state === "launched") {
    const view = await readQueue(queue, now);
    reason = view.reasons.get(entry.runId) ?? "";
  }
  const waiting = entry.state === "queued" || entry.state === "launched";
  return h`<div class="run-header" data-status="${entry.state}" data-queue-state="${entry.state}">
<p class="state">${badge(entry.state)} ${
    waiting
      ? h`<span class="muted">waiting for ${
        formatDuration(Math.max(0, now - entry.enqueuedAt))
      }: </span><span class="reason">${reason}</span>`
      : entry.state === "canceled"
      ? h`<span class="muted">left the queue: ${entry.outcome ?? "canceled"}</span>`
      : entry.state === "finished"
      ? h`<span class="muted">${entry.outcome ?? "finished"}</span>`
      : h`<span class="muted">a worker is starting it</span>`
  }</p>
<table class="kv">
<tr><th>selection</th><td class="mono">${selectionText(entry)}</td></tr>
<tr><th>priority</th><td>${entry.priority}</td></tr>
<tr><th>pools</th><td>${pools(entry)}</td></tr>
<tr><th>tags</th><td>${tags(entry)}</td></tr>
<tr><th>queued</th><td>${time(entry.enqueuedAt)}</td></tr>
<tr><th>admitted</th><td>${time(entry.launchedAt)}</td></tr>
<tr><th>attempt</th><td>${entry.attempt} of ${entry.maxRetries + 1}${
    entry.retryOf ? h` (retry of ${runLink(entry.retryOf)})` : ""
  }</td></tr>
${
    entry.cancelRequested
      ? h`<tr><th>cancel</th><td>requested: ${entry.cancelRequested}</td></tr>`
      : ""
  }
</table>
<div class="actions">${
    waiting || (entry.state === "started" && !entry.cancelRequested)
      ? cancelForm(entry.runId, waiting ? "Cancel (remove from the queue)" : "Cancel run")
      : ""
  } <a href="/queue">the queue</a></div></div>`;
}

function cancelForm(runId: string, label: string): Html {
  return h`<form method="post" action="/actions/runs/${
    encodeURIComponent(runId)
  }/cancel" class="inline-form"><button class="danger" type="submit">${label}</button></form>`;
}

function pools(run: QueuedRun): Html {
  return run.pools.length
    ? h`${run.pools.map((p) => h`<span class="tag pool">${p}</span> `)}`
    : h`<span class="muted">none</span>`;
}

function tags(run: QueuedRun): Html {
  const entries = Object.entries(run.tags);
  return entries.length
    ? h`${entries.map(([k, v]) => h`<span class="tag">${k}=${v}</span> `)}`
    : h`<span class="muted">none</span>`;
}
