/**
 * The alert sensors' outbox: each notification is sent once by one daemon,
 * across daemons sharing a run store and across a daemon killed at any
 * moment, and every step is recorded in the run store.
 *
 * The idempotency key of a delivery is `<notification id>:<notifier>` (it is
 * the `id` the notifiers send: the webhook's `Idempotency-Key` header and
 * JSON `id`, the mail's Message-ID, the hook's NOTIFY_ID). A delivery goes:
 *
 * 1. **decide** — an alert sensor finds the notification in the feed;
 * 2. **claim** — `claimRunKey("notify:<sensor>", key)` with the holder (its
 *    process: host, pid, instance) — atomic, first daemon wins;
 * 3. **record** — a `pending` record holding the whole notification;
 * 4. **send** — each attempt recorded `sent`, `retrying` or `failed`
 *    (`at-most-once`: a `sending` record before each attempt).
 *
 * A daemon takes a delivery over (claim `<key>#2`, `#3`...) when its holder is
 * certainly gone from this host (killed, restarted) or shows no progress for
 * `staleMs` (another host) and no final record exists. What a crash costs:
 *
 * - killed between decide and record (claimed or not): the sensor's cursor
 *   was not stored, so the next daemon decides the same notification again,
 *   finds the dead holder's claim and sends it — **once**;
 * - killed between record and send: the next daemon sees the open `pending`
 *   record and sends it — **once**;
 * - killed while sending (the notifier may or may not have it): with
 *   `at-least-once` (the default: an alert lost is worse than one repeated) it
 *   is sent again — a possible **duplicate**, with the same idempotency key
 *   so the receiver can drop it; with `at-most-once` the `sending` record
 *   makes the next daemon record it `failed` ("delivery unknown") instead — a
 *   possible **loss**, never a duplicate.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { toError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type HostView, isGoneHere, processOwner, thisHost } from "../owner.ts";
import type {
  AutomationRecord,
  RunOwner,
  RunStore,
  StoredAutomationRecord,
} from "../run_store/types.ts";
import type { Notification, Notifier } from "./notification.ts";

/**
 * What a daemon taking over a delivery does when its sender died in the
 * middle of sending: send it again (`at-least-once`: a possible duplicate) or
 * record it failed (`at-most-once`: a possible loss).
 */
export type DeliveryGuarantee = "at-least-once" | "at-most-once";

/** Options of an {@linkcode Outbox}. */
export interface OutboxOptions {
  /** The alert sensor's name (records' `data.sensor`, claims' namespace). */
  readonly sensor: string;
  /** Attempts per delivery. */
  readonly maxAttempts: number;
  /** Delay before the second attempt; doubles each time (ms). */
  readonly retryDelayMs: number;
  /** See {@linkcode DeliveryGuarantee}. */
  readonly delivery: DeliveryGuarantee;
  /** A holder with no progress for this long is taken for dead (ms). */
  readonly staleMs: number;
  /** This process. @default {processOwner()} */
  readonly owner?: RunOwner;
  /** This host, to tell holders certainly gone. @default {thisHost()} */
  readonly host?: HostView;
}

const FINAL = new Set(["sent", "failed"]);
const MEMORY = 10_000;

/** Who holds a delivery, as written in its claim and records. */
interface Holder {
  readonly owner: RunOwner | undefined;
  readonly at: number;
  /** The outbox that claimed (one per alert sensor and process), when written. */
  readonly token?: string;
}

/** Sends notifications once across daemons; see the module doc. */
export class Outbox {
  readonly #o: OutboxOptions;
  readonly #me: RunOwner;
  readonly #host: HostView;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Tells this outbox's claims from another's in the same process (two daemons in one test). */
  readonly #token = crypto.randomUUID();
  /** Latest record per idempotency key (this sensor's), from every daemon. */
  readonly #latest = new Map<string, StoredAutomationRecord>();
  /** The notification of each key, from its `pending` record. */
  readonly #payloads = new Map<string, Notification>();
  /** Keys this process recorded `pending` (claimed and decided): never offered again here. */
  readonly #mine = new Set<string>();
  /** Keys an `offer` of this process is deciding right now. */
  readonly #offering = new Set<string>();
  #after: number | undefined;

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#me = options.owner ?? processOwner();
    this.#host = options.host ?? thisHost();
  }

  /** Resolves when every delivery this process started has ended. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight.values());
  }

  /**
   * Reads what every daemon recorded since the last call, and takes over the
   * open deliveries whose holder died.
   */
  async recover(
    store: RunStore,
    notifiers: readonly Notifier[],
    clock: Clock,
    log: Logger,
  ): Promise<void> {
    await this.#tail(store);
    const now = clock.now();
    for (const [key, latest] of [...this.#latest]) {
      if (FINAL.has(String(latest.data.status)) || this.#inFlight.has(key)) continue;
      const notifier = notifiers.find((n) => n.name === latest.name);
      const n = this.#payloads.get(key);
      if (!notifier || !n) continue;
      const holder = holderOf(latest.data.holder);
      // Written before records named their holder: the claim tells.
      if (holder && !this.#dead(holder, latest, now)) continue;
      await this.offer(store, notifier, n, clock, log);
    }
  }

  /**
   * Delivers `n` through `notifier` unless a daemon (this one included)
   * already did or is doing it. `n.id` must be the idempotency key.
   */
  async offer(
    store: RunStore,
    notifier: Notifier,
    n: Notification,
    clock: Clock,
    log: Logger,
  ): Promise<void> {
    const key = n.id;
    if (this.#inFlight.has(key) || this.#offering.has(key)) return;
    this.#offering.add(key);
    try {
      await this.#offer(store, notifier, n, clock, log);
    } finally {
      this.#offering.delete(key);
    }
  }

  async #offer(
    store: RunStore,
    notifier: Notifier,
    n: Notification,
    clock: Clock,
    log: Logger,
  ): Promise<void> {
    const key = n.id;
    const now = clock.now();
    const taken = await this.#claim(store, key, now);
    if (taken === undefined) return;
    const latest = this.#latest.get(key);
    if (taken > 1 && latest) {
      const status = String(latest.data.status);
      if (FINAL.has(status)) return;
      if (status === "sending" && this.#o.delivery === "at-most-once") {
        const error = "delivery unknown: the daemon sending it stopped in the middle of the " +
          "attempt; not sent again (at-most-once)";
        log.warn(`notification ${key} via ${notifier.name}: ${error}`);
        await this.#record(store, notifier, n, clock.now(), {
          status: "failed",
          attempt: Number(latest.data.attempt ?? 1),
          error,
        });
        this.#remember(key);
        return;
      }
    }
    const attempt = taken > 1 && latest ? Number(latest.data.attempt ?? 0) : 0;
    if (taken > 1) {
      log.info(`taking over notification ${key} via ${notifier.name} (its sender is gone)`);
    }
    await this.#record(store, notifier, n, now, {
      status: "pending",
      attempt,
      error: null,
      ...(taken > 1 ? { takeover: taken } : {}),
    });
    this.#remember(key);
    this.#deliver(store, notifier, n, clock, log, attempt + 1);
  }

  /** Notes that this process decided `key` (recorded it): it never offers it again. */
  #remember(key: string): void {
    this.#mine.add(key);
    if (this.#mine.size > MEMORY) this.#mine.delete(this.#mine.values().next().value as string);
  }

  /** Claims `key` (generation 1, or the next after dead holders); the generation, or `undefined`. */
  async #claim(store: RunStore, key: string, now: number): Promise<number | undefined> {
    for (let generation = 1; generation <= 50; generation++) {
      const claim = await store.claimRunKey(
        `notify:${this.#o.sensor}`,
        generation === 1 ? key : `${key}#${generation}`,
        JSON.stringify({ owner: this.#me, at: now, token: this.#token }),
      );
      if (claim.claimed) return generation;
      const holder = parseHolder(claim.runId);
      if (holder.token === this.#token) {
        // Mine: delivered or in flight — unless recording it failed before (a store fault).
        return this.#mine.has(key) ? undefined : generation;
      }
      const latest = this.#latest.get(key);
      if (latest && FINAL.has(String(latest.data.status))) return undefined;
      if (!this.#dead(holder, latest, now)) return undefined;
    }
    return undefined;
  }

  /** Whether a holder is gone: certainly (this host), or silent for `staleMs`. */
  #dead(holder: Holder, latest: StoredAutomationRecord | undefined, now: number): boolean {
    if (holder.owner && isGoneHere(holder.owner, this.#host)) return true;
    const progress = Math.max(
      Number.isFinite(holder.at) ? holder.at : Number.NEGATIVE_INFINITY,
      latest?.time ?? Number.NEGATIVE_INFINITY,
      Number(latest?.data.next_attempt_at ?? Number.NEGATIVE_INFINITY),
    );
    return now - progress >= this.#o.staleMs;
  }

  #deliver(
    store: RunStore,
    notifier: Notifier,
    n: Notification,
    clock: Clock,
    log: Logger,
    firstAttempt: number,
  ): void {
    const { maxAttempts, retryDelayMs } = this.#o;
    const work = (async () => {
      if (firstAttempt > maxAttempts) {
        await this.#record(store, notifier, n, clock.now(), {
          status: "failed",
          attempt: maxAttempts,
          error: "no attempt left",
        }).catch((e) => log.error(`cannot record notification ${n.id}: ${toError(e).message}`));
        return;
      }
      for (let attempt = firstAttempt; attempt <= maxAttempts; attempt++) {
        if (this.#o.delivery === "at-most-once") {
          // Must be durable before the attempt: a successor then knows it may have arrived.
          await this.#record(store, notifier, n, clock.now(), {
            status: "sending",
            attempt,
            error: null,
          });
        }
        let error: Error | undefined;
        try {
          await notifier.send(n);
        } catch (thrown) {
          error = toError(thrown);
        }
        const last = attempt === maxAttempts;
        const delay = retryDelayMs * 2 ** (attempt - firstAttempt);
        await this.#record(store, notifier, n, clock.now(), {
          status: error ? (last ? "failed" : "retrying") : "sent",
          attempt,
          error: error?.message ?? null,
          ...(error && !last ? { next_attempt_at: clock.now() + delay } : {}),
        }).catch((e) => log.error(`cannot record notification ${n.id}: ${toError(e).message}`));
        if (!error) return;
        log.warn(
          `notification ${n.id} via ${notifier.name} (${notifier.description}): attempt ${attempt} of ` +
            `${maxAttempts} failed: ${error.message}`,
        );
        if (last) return;
        await clock.sleep(delay);
      }
    })().catch((e) =>
      // Only the at-most-once `sending` record can throw here: nothing was sent.
      log.error(`notification ${n.id} via ${notifier.name} not sent: ${toError(e).message}`)
    );
    const tracked = work.finally(() => this.#inFlight.delete(n.id));
    this.#inFlight.set(n.id, tracked);
  }

  async #record(
    store: RunStore,
    notifier: Notifier,
    n: Notification,
    time: number,
    outcome: Record<string, string | number | null>,
  ): Promise<void> {
    const record = notificationRecord(this.#o.sensor, notifier, n, time, {
      ...outcome,
      holder: { ...this.#me },
    });
    await store.appendAutomationRecords([record]);
  }

  /** Reads the records written since the last call, oldest first. */
  async #tail(store: RunStore): Promise<void> {
    let fresh: StoredAutomationRecord[];
    if (this.#after === undefined) {
      fresh = await store.listAutomationRecords({ kind: "notification", limit: 1000 });
    } else {
      fresh = [];
      let beforeId: number | undefined;
      for (;;) {
        const page = await store.listAutomationRecords({
          kind: "notification",
          afterId: this.#after,
          ...(beforeId === undefined ? {} : { beforeId }),
          limit: 1000,
        });
        fresh.push(...page);
        if (page.length < 1000) break;
        beforeId = page.at(-1)?.id;
      }
    }
    fresh.sort((a, b) => a.id - b.id);
    for (const r of fresh) {
      this.#after = Math.max(this.#after ?? 0, r.id);
      if (r.data.sensor !== this.#o.sensor) continue;
      const key = String(r.data.id);
      this.#latest.delete(key); // re-inserted last: the map stays in order of activity
      this.#latest.set(key, r);
      const n = r.data.notification as unknown as Notification | undefined;
      if (n) this.#payloads.set(key, n);
    }
    this.#after ??= 0;
    // Forget the oldest finished deliveries beyond a bound.
    for (const [key, r] of this.#latest) {
      if (this.#latest.size <= MEMORY) break;
      if (!FINAL.has(String(r.data.status))) continue;
      this.#latest.delete(key);
      this.#payloads.delete(key);
    }
  }
}

/** A `notification` record: one step of one delivery. */
export function notificationRecord(
  sensor: string,
  notifier: Notifier,
  n: Notification,
  time: number,
  outcome: Record<string, string | number | null | Record<string, string | number>>,
): AutomationRecord {
  return {
    kind: "notification",
    time,
    assetKey: n.assetKeys.length === 1 ? n.assetKeys[0] as string : null,
    name: notifier.name,
    data: {
      sensor,
      id: n.id,
      event: n.event,
      subject: n.title,
      run_id: n.runId,
      notifier: notifier.description,
      ...outcome,
      // Kept whole on the pending record, so a daemon taking over can send it.
      ...(outcome.status === "pending" ? { notification: JSON.parse(JSON.stringify(n)) } : {}),
    },
  };
}

function parseHolder(text: string): Holder {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    return {
      owner: holderOf(raw.owner)?.owner,
      at: Number(raw.at),
      ...(typeof raw.token === "string" ? { token: raw.token } : {}),
    };
  } catch {
    // A claim written before holders (a random run id): only its age could tell, and it has none.
    return { owner: undefined, at: Number.NaN };
  }
}

function holderOf(value: unknown): Holder | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.instanceId !== "string" || typeof o.host !== "string" || typeof o.pid !== "number") {
    return undefined;
  }
  return { owner: { instanceId: o.instanceId, host: o.host, pid: o.pid }, at: Number.NaN };
}
