/**
 * Alerting: run-status sensors ({@linkcode onRunFailure},
 * {@linkcode onRunSuccess}, {@linkcode onCheckFailure},
 * {@linkcode onFreshnessBreach}) that turn what the run store records into
 * notifications, delivered through the notifiers of the `notifiers` resource
 * (`NOTIFY_URLS`: webhook, Slack, SMTP email, command hook).
 *
 * Delivery is never in the way, and once across daemons. A sensor reads the
 * run store's feed from its cursor (every run, whoever launched it), claims
 * each notification and notifier under an idempotency key, records it
 * `pending`, stores its cursor, and returns: sending happens in the
 * background with retries and backoff, each attempt recorded (`sent`,
 * `retrying` with the reason, `failed` after the last). The run is over
 * before any of it starts, so a notifier outage never fails or delays a run,
 * and the daemon's tick never waits for a slow notifier. A daemon killed at
 * any point is taken over by the next (or a restarted) daemon; what each
 * moment of a kill costs, and the `delivery` choice between at-least-once
 * and at-most-once, is in `_delivery.ts`.
 *
 * @example
 * ```ts
 * import { onFreshnessBreach, onRunFailure } from "./alerts.ts";
 * const failures = onRunFailure({ selection: "group:marts", uiUrl: "http://localhost:3000" });
 * const stale = onFreshnessBreach({ selection: "fct_weather_daily" });
 * ```
 *
 * @module
 */

import type { Graph } from "../graph.ts";
import type { HostView } from "../owner.ts";
import type { RunEventType, RunOwner, RunStore } from "../run_store/types.ts";
import { resolveSelection } from "../selection.ts";
import {
  type SensorContext,
  type SensorDefinition,
  sensorFactory,
  type SensorResult,
} from "../sensor.ts";
import type { Notification, NotificationEvent, Notifier } from "./notification.ts";
import { feedEnd } from "./state.ts";
import { FRESHNESS_CHECK_MARK } from "./freshness_check.ts";
import { type DeliveryGuarantee, Outbox } from "./_delivery.ts";

export type { DeliveryGuarantee } from "./_delivery.ts";

/** The resource alert sensors deliver through. */
export interface AlertResources {
  /** The configured notifiers (`NOTIFY_URLS`). */
  readonly notifiers: readonly Notifier[];
}

/** Options of the alert sensors. */
export interface AlertOptions {
  /**
   * Sensor name.
   * @default {the event, e.g. "on_run_failure"}
   */
  readonly name?: string;
  /**
   * Only about these assets, in the CLI's selection syntax
   * (`group:marts,tag:critical,fct_*`); a run matches when one of its
   * failed (or, for successes, materialized) assets does.
   * @default {every asset}
   */
  readonly selection?: string;
  /**
   * Only runs with all of these tags (e.g. `{ sensor: "automation" }`).
   * @default {{}}
   */
  readonly runTags?: Readonly<Record<string, string>>;
  /**
   * Only through the notifiers with these names (`slack`, `email`, `hook`, ...).
   * @default {every configured notifier}
   */
  readonly notifiers?: readonly string[];
  /**
   * Base URL of the web UI for links (`<uiUrl>/runs/<id>`); none when absent.
   * @default {undefined}
   */
  readonly uiUrl?: string;
  /**
   * How the CLI is invoked in links.
   * @default {"deno task cli"}
   */
  readonly cliCommand?: string;
  /**
   * Attempts per notification and notifier.
   * @default {5}
   */
  readonly maxAttempts?: number;
  /**
   * Delay before the second attempt; doubles each time (milliseconds).
   * @default {1000}
   */
  readonly retryDelayMs?: number;
  /**
   * Sensor interval (milliseconds).
   * @default {the daemon's}
   */
  readonly intervalMs?: number;
  /**
   * When the daemon sending a notification is killed in the middle of an
   * attempt, the daemon taking over sends it again (`at-least-once`: maybe a
   * duplicate, with the same idempotency key) or records it failed
   * (`at-most-once`: maybe lost, never twice).
   * @default {"at-least-once"}
   */
  readonly delivery?: DeliveryGuarantee;
  /**
   * A delivery whose daemon shows no progress for this long is taken over by
   * another (milliseconds); a daemon on the same host that is gone is taken
   * over at once.
   * @default {60000}
   */
  readonly staleClaimMs?: number;
  /** This process, as written in claims. @default {processOwner()} */
  readonly owner?: RunOwner;
  /** This host, to tell a claim holder certainly gone (tests pass their own). @default {thisHost()} */
  readonly host?: HostView;
}

/** An alert sensor: a sensor, plus a way to wait for its deliveries in flight. */
export interface AlertSensor extends SensorDefinition {
  /** Resolves when every delivery started so far has ended (sent or failed for good). */
  idle(): Promise<void>;
}

/** Notifies when a run fails (a step failed or an error-severity check failed). */
export function onRunFailure(options: AlertOptions = {}): AlertSensor {
  return alertSensor("run_failure", options);
}

/** Notifies when a run succeeds. */
export function onRunSuccess(options: AlertOptions = {}): AlertSensor {
  return alertSensor("run_success", options);
}

/**
 * Notifies when an asset check fails (any severity). Freshness verdicts are
 * left to {@linkcode onFreshnessBreach}, which notifies each change once.
 */
export function onCheckFailure(options: AlertOptions = {}): AlertSensor {
  return alertSensor("check_failure", options);
}

/**
 * Notifies when a freshness check turns `warn` or `error` (once per change:
 * a breach recorded again unchanged is not notified again).
 */
export function onFreshnessBreach(options: AlertOptions = {}): AlertSensor {
  return alertSensor("freshness_breach", options);
}

const defineAlert = sensorFactory<AlertResources>();

const FEED: Record<NotificationEvent, readonly RunEventType[]> = {
  run_failure: ["run_finished"],
  run_success: ["run_finished"],
  check_failure: ["check"],
  freshness_breach: [],
};

interface Cursor {
  /** Last event id (runs, checks) or automation record id (freshness) read. */
  readonly after: number;
}

function alertSensor(event: NotificationEvent, options: AlertOptions): AlertSensor {
  const maxAttempts = options.maxAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`Cannot define an alert with maxAttempts ${maxAttempts}: expected >= 1`);
  }
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) {
    throw new RangeError(`Cannot define an alert with retryDelayMs ${retryDelayMs}: expected >= 0`);
  }
  const name = options.name ?? `on_${event}`;
  const delivery = options.delivery ?? "at-least-once";
  if (delivery !== "at-least-once" && delivery !== "at-most-once") {
    throw new RangeError(
      `Cannot define an alert with delivery '${delivery}': use at-least-once or at-most-once`,
    );
  }
  const staleMs = options.staleClaimMs ?? 60_000;
  if (!Number.isFinite(staleMs) || staleMs <= 0) {
    throw new RangeError(`Cannot define an alert with staleClaimMs ${staleMs}: expected ms > 0`);
  }
  const outbox = new Outbox({
    sensor: name,
    maxAttempts,
    retryDelayMs,
    delivery,
    staleMs,
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.host ? { host: options.host } : {}),
  });

  const evaluate = async (ctx: SensorContext<AlertResources>): Promise<SensorResult> => {
    const store = ctx.runStore;
    if (!store) {
      throw new TypeError(`Alert sensor '${name}' needs the run store (run it in the daemon)`);
    }
    const notifiers = ctx.resources.notifiers.filter((n) =>
      !options.notifiers || options.notifiers.includes(n.name)
    );
    // Deliveries a dead daemon left open (this one's previous life included).
    await outbox.recover(store, notifiers, ctx.clock, ctx.log);
    const parsed = parseCursor(ctx.cursor);
    if (parsed === undefined) {
      if (ctx.cursor !== undefined) {
        ctx.log.warn(
          `alert ${name}: unreadable cursor ${JSON.stringify(ctx.cursor.slice(0, 80))}; ` +
            "notifying from now on",
        );
      }
      // First start: notify from now on, not about the whole history.
      const after = event === "freshness_breach"
        ? (await store.listAutomationRecords({ limit: 1 }))[0]?.id ?? 0
        : await feedEnd(store, 0);
      return { runRequests: [], cursor: JSON.stringify({ after }) };
    }
    const cursor = parsed;
    if (notifiers.length === 0) {
      return { skipReason: "no notifier is configured (NOTIFY_URLS)" };
    }
    const selected = options.selection && ctx.graph
      // resolveSelection reads only assets, order, upstream and downstream: a SensorGraph has them.
      ? new Set(resolveSelection(ctx.graph as unknown as Graph<unknown>, options.selection))
      : undefined;
    const { notifications, after } = await collect(event, store, cursor.after, selected, options);
    for (const n of notifications) {
      for (const notifier of notifiers) {
        // The idempotency key: two daemons reading one feed send it once.
        await outbox.offer(
          store,
          notifier,
          { ...n, id: `${n.id}:${notifier.name}` },
          ctx.clock,
          ctx.log,
        );
      }
    }
    return { runRequests: [], cursor: JSON.stringify({ after }) };
  };

  const sensor = defineAlert({
    name,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    description: `notifies on ${event.replace("_", " ")}${
      options.selection ? ` of ${options.selection}` : ""
    }`,
    resources: ["notifiers"],
    evaluate,
  });
  return Object.freeze({
    ...sensor,
    idle: () => outbox.idle(),
  });
}

/** The notifications due after `after` in the feed (or the automation records, for freshness). */
async function collect(
  event: NotificationEvent,
  store: RunStore,
  after: number,
  selected: ReadonlySet<string> | undefined,
  options: AlertOptions,
): Promise<{ notifications: Notification[]; after: number }> {
  const cli = options.cliCommand ?? "deno task cli";
  const links = (runId: string | null, asset?: string) => ({
    cli: runId ? `${cli} show ${runId}` : `${cli} automation ${asset ?? ""}`.trim(),
    ui: options.uiUrl
      ? runId
        ? `${options.uiUrl.replace(/\/$/, "")}/runs/${runId}`
        : `${options.uiUrl.replace(/\/$/, "")}/assets/${asset ?? ""}`
      : null,
  });
  const notifications: Notification[] = [];
  if (event === "freshness_breach") {
    const records =
      (await store.listAutomationRecords({ kind: "freshness", afterId: after, limit: 1000 }))
        .reverse();
    for (const r of records) {
      after = Math.max(after, r.id);
      if (r.data.status !== "warn" && r.data.status !== "error") continue;
      // A verdict recorded again unchanged (the cadence) was notified when it changed.
      if (r.data.transition === false || (r.data.previous ?? null) === r.data.status) continue;
      const asset = r.assetKey ?? "";
      if (selected && !selected.has(asset)) continue;
      notifications.push({
        id: `freshness:${r.id}`,
        event,
        title: `Freshness ${r.data.status}: ${asset} is older than allowed`,
        summary: String(r.data.description ?? ""),
        runId: null,
        assetKeys: [asset],
        links: links(null, asset),
        time: r.time,
        details: { status: String(r.data.status), lag_ms: Number(r.data.lag_ms ?? 0) || null },
      });
    }
    return { notifications, after };
  }
  const events = await store.listEventsAfter(after, { types: FEED[event], limit: 1000 });
  let previous = after;
  for (const e of events) {
    after = e.id;
    if (event === "check_failure") {
      if (e.data.passed !== false || e.assetKey === null) continue;
      // Freshness verdicts are onFreshnessBreach's (on each change, not each record).
      if (e.data.automation === FRESHNESS_CHECK_MARK) continue;
      if (selected && !selected.has(e.assetKey)) continue;
      const run = await store.getRun(e.runId);
      if (!run || !matchesTags(run.tags, options.runTags)) continue;
      const where = e.partition === null ? e.assetKey : `${e.assetKey}[${e.partition}]`;
      notifications.push({
        id: `check:${e.id}`,
        event,
        title: `Check ${String(e.data.name)} failed on ${where} (${String(e.data.severity)})`,
        summary: String(e.data.description ?? "the check failed"),
        runId: e.runId,
        assetKeys: [e.assetKey],
        links: links(e.runId),
        time: e.time,
        details: {
          check: String(e.data.name),
          severity: String(e.data.severity),
          blocking: Boolean(e.data.blocking),
          partition: e.partition,
        },
      });
      continue;
    }
    const wanted = event === "run_failure" ? "failed" : "success";
    if (e.data.status !== wanted) continue;
    const run = await store.getRun(e.runId);
    if (run?.status === "running") {
      // The executor records the run's end (its error summary) just after
      // this event: read it again at the next evaluation.
      after = previous;
      break;
    }
    previous = e.id;
    if (!run || !matchesTags(run.tags, options.runTags)) continue;
    const steps = await store.listSteps(e.runId);
    const concerned = steps.filter((s) =>
      event === "run_failure" ? s.status === "failed" : s.status === "success"
    );
    const keys = [...new Set((concerned.length ? concerned : steps).map((s) => s.assetKey))];
    if (selected && !keys.some((k) => selected.has(k))) continue;
    const failed = steps.filter((s) => s.status === "failed");
    const details: Record<string, string | number | boolean | null> = {
      run: run.runId,
      selection: run.selection || "*",
      launched_by: run.tags.sensor ?? run.tags.schedule ?? "materialize",
    };
    for (const s of failed.slice(0, 10)) {
      details[s.partition === null ? s.assetKey : `${s.assetKey}[${s.partition}]`] = s.reason ??
        "failed";
    }
    notifications.push({
      id: `run:${e.runId}:${wanted}`,
      event,
      title: `Run ${run.runId.slice(0, 8)} ${wanted === "failed" ? "failed" : "succeeded"}: ${
        keys.slice(0, 5).join(", ")
      }${keys.length > 5 ? ` and ${keys.length - 5} more` : ""}`,
      summary: run.errorSummary ??
        (wanted === "failed" ? "the run failed" : "every step succeeded"),
      runId: run.runId,
      assetKeys: keys,
      links: links(run.runId),
      time: e.time,
      details,
    });
  }
  return { notifications, after };
}

/** The cursor, or `undefined` when there is none or it cannot be read (hand-edited, truncated). */
function parseCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined;
  try {
    const after = (JSON.parse(text) as Partial<Cursor>)?.after;
    return typeof after === "number" && Number.isSafeInteger(after) && after >= 0
      ? { after }
      : undefined;
  } catch {
    return undefined;
  }
}

function matchesTags(
  tags: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>> | undefined,
): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => tags[k] === v);
}
