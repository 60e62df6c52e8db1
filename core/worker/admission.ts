/**
 * Which queued runs may start now, and why the others wait: the concurrency
 * limits of the run queue (Dagster's `max_concurrent_runs`,
 * `tag_concurrency_limits` and pools), as pure functions used by every queue
 * backend's coordinator and by the `queue` listing.
 *
 * Runs are looked at in admission order (higher priority first, then in the
 * order queued). A run blocked by a limit does not hold back the runs behind
 * it that no limit blocks (as in Dagster's coordinator); a run counts against
 * every limit it matches from the moment it is admitted until it finishes.
 *
 * @module
 */

import type { QueuedRun, QueueLimits, TagLimit } from "./queue.ts";

/** No limit at all. */
export const NO_LIMITS: QueueLimits = Object.freeze({
  maxConcurrentRuns: null,
  tagLimits: Object.freeze([]),
  poolLimits: Object.freeze({}),
});

/** What {@linkcode planAdmission} decided. */
export interface AdmissionPlan {
  /** Run ids to admit now, in admission order. */
  readonly admit: readonly string[];
  /** Why each other run looked at waits. */
  readonly waiting: ReadonlyMap<string, string>;
}

/** Counts of active runs against each limit. */
class Usage {
  total = 0;
  readonly tags = new Map<string, number>();
  readonly pools = new Map<string, number>();

  add(run: Pick<QueuedRun, "tags" | "pools">, limits: QueueLimits): void {
    this.total++;
    for (const slot of tagSlots(run.tags, limits.tagLimits)) {
      this.tags.set(slot.id, (this.tags.get(slot.id) ?? 0) + 1);
    }
    for (const pool of run.pools) this.pools.set(pool, (this.pools.get(pool) ?? 0) + 1);
  }
}

interface TagSlot {
  readonly id: string;
  readonly label: string;
  readonly limit: number;
}

/** The tag limits `tags` falls under, one slot per (limit, value) counted apart. */
function tagSlots(tags: Readonly<Record<string, string>>, limits: readonly TagLimit[]): TagSlot[] {
  const slots: TagSlot[] = [];
  for (const limit of limits) {
    const value = tags[limit.key];
    if (value === undefined) continue;
    if (limit.value !== null) {
      if (value === limit.value) {
        slots.push({ id: `${limit.key}=${value}`, label: `${limit.key}=${value}`, ...limit });
      }
    } else if (limit.perValue) {
      slots.push({ id: `${limit.key}=*${value}`, label: `${limit.key}=${value}`, ...limit });
    } else {
      slots.push({ id: `${limit.key}`, label: `tag ${limit.key} (any value)`, ...limit });
    }
  }
  return slots;
}

/**
 * Decides which of `queued` (in admission order) start now, given the runs
 * already `active` (launched or started) and `limits`.
 *
 * @example
 * ```ts
 * import { parseLimits, planAdmission } from "./admission.ts";
 * const limits = parseLimits({ tagLimits: "group=spatial:1" });
 * const run = (runId: string) => ({ runId, tags: { group: "spatial" }, pools: [] });
 * const plan = planAdmission([run("a"), run("b")], [], limits);
 * plan.admit; // ["a"]
 * plan.waiting.get("b"); // "tag group=spatial: 1 of 1 runs launched or running (limit group=spatial:1)"
 * ```
 */
export function planAdmission(
  queued: readonly Pick<QueuedRun, "runId" | "tags" | "pools">[],
  active: readonly Pick<QueuedRun, "tags" | "pools">[],
  limits: QueueLimits,
): AdmissionPlan {
  const usage = new Usage();
  for (const run of active) usage.add(run, limits);
  const admit: string[] = [];
  const waiting = new Map<string, string>();
  for (const run of queued) {
    const reasons = blockers(run, usage, limits);
    if (reasons.length === 0) {
      admit.push(run.runId);
      usage.add(run, limits);
    } else {
      waiting.set(run.runId, reasons.join("; "));
    }
  }
  return { admit, waiting };
}

function blockers(
  run: Pick<QueuedRun, "tags" | "pools">,
  usage: Usage,
  limits: QueueLimits,
): string[] {
  const reasons: string[] = [];
  const max = limits.maxConcurrentRuns;
  if (max !== null && usage.total >= max) {
    reasons.push(`${usage.total} of ${max} runs launched or running (limit max runs ${max})`);
  }
  for (const slot of tagSlots(run.tags, limits.tagLimits)) {
    const used = usage.tags.get(slot.id) ?? 0;
    if (used >= slot.limit) {
      const rule = slot.id.includes("=*")
        ? `${slot.id.slice(0, slot.id.indexOf("="))}=*:${slot.limit}`
        : `${slot.id}:${slot.limit}`;
      reasons.push(
        `tag ${slot.label}: ${used} of ${slot.limit} runs launched or running (limit ${rule})`
          .replace("tag tag ", "tag "),
      );
    }
  }
  for (const pool of limits.poolGranularity === "step" ? [] : run.pools) {
    const limit = limits.poolLimits[pool];
    if (limit === undefined) continue;
    const used = usage.pools.get(pool) ?? 0;
    if (used >= limit) {
      reasons.push(`pool ${pool}: ${used} of ${limit} runs using it (limit ${pool}=${limit})`);
    }
  }
  return reasons;
}

/** Limits as written in settings (see {@linkcode parseLimits}). */
export interface LimitSettings {
  /** Most runs at once, e.g. `"10"`; empty or absent for none. */
  readonly maxConcurrentRuns?: string | number | null;
  /**
   * Comma-separated `KEY=VALUE:N` (runs with that tag value), `KEY:N` (runs
   * having the key, any value, counted together) or `KEY=*:N` (each value
   * apart), e.g. `group=spatial:2,team=*:4`.
   */
  readonly tagLimits?: string;
  /** Comma-separated `POOL=N`, e.g. `warehouse=2,spatial=1`. */
  readonly poolLimits?: string;
  /** `run` (runs using a pool) or `step` (steps using it at once); empty for `run`. */
  readonly poolGranularity?: string;
}

/**
 * Parses limit settings; throws `RangeError` naming the bad entry.
 *
 * @example
 * ```ts
 * import { parseLimits } from "./admission.ts";
 * const limits = parseLimits({ maxConcurrentRuns: "8", tagLimits: "group=spatial:2,team=*:3", poolLimits: "warehouse=2" });
 * limits.tagLimits.length; // 2
 * ```
 */
export function parseLimits(settings: LimitSettings): QueueLimits {
  const maxRaw = settings.maxConcurrentRuns;
  let maxConcurrentRuns: number | null = null;
  if (maxRaw !== undefined && maxRaw !== null && String(maxRaw).trim() !== "") {
    maxConcurrentRuns = positive(String(maxRaw).trim(), "max concurrent runs");
  }
  const tagLimits: TagLimit[] = [];
  for (const entry of items(settings.tagLimits)) {
    const colon = entry.lastIndexOf(":");
    if (colon < 1) throw new RangeError(`Cannot read tag limit '${entry}': expected KEY=VALUE:N`);
    const limit = positive(entry.slice(colon + 1), `tag limit '${entry}'`);
    const spec = entry.slice(0, colon);
    const eq = spec.indexOf("=");
    const key = (eq < 0 ? spec : spec.slice(0, eq)).trim();
    const value = eq < 0 ? null : spec.slice(eq + 1).trim();
    if (key === "" || value === "") {
      throw new RangeError(
        `Cannot read tag limit '${entry}': expected KEY=VALUE:N, KEY:N or KEY=*:N`,
      );
    }
    tagLimits.push(
      value === "*"
        ? { key, value: null, perValue: true, limit }
        : { key, value, perValue: false, limit },
    );
  }
  const poolLimits: Record<string, number> = {};
  for (const entry of items(settings.poolLimits)) {
    const eq = entry.indexOf("=");
    const pool = entry.slice(0, eq).trim();
    if (eq < 1 || pool === "") {
      throw new RangeError(`Cannot read pool limit '${entry}': expected POOL=N`);
    }
    poolLimits[pool] = positive(entry.slice(eq + 1), `pool limit '${entry}'`);
  }
  const granularity = (settings.poolGranularity ?? "").trim() || "run";
  if (granularity !== "run" && granularity !== "step") {
    throw new RangeError(
      `Cannot read pool granularity '${granularity}': expected run or step`,
    );
  }
  return Object.freeze({
    maxConcurrentRuns,
    tagLimits: Object.freeze(tagLimits),
    poolLimits: Object.freeze(poolLimits),
    poolGranularity: granularity,
  });
}

/** Limits written back in the settings' syntax, for listings. */
export function describeLimits(limits: QueueLimits): string {
  const parts = [
    `max runs ${limits.maxConcurrentRuns ?? "unlimited"}`,
    ...limits.tagLimits.map((l) =>
      `${l.key}${l.value !== null ? `=${l.value}` : l.perValue ? "=*" : ""}:${l.limit}`
    ),
    ...Object.entries(limits.poolLimits).map(([pool, n]) =>
      `pool ${pool}=${n}${limits.poolGranularity === "step" ? " (steps)" : ""}`
    ),
  ];
  return parts.join(", ");
}

function items(text: string | undefined): string[] {
  return (text ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

function positive(text: string, what: string): number {
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Cannot read ${what}: '${text.trim()}' is not a whole number >= 1`);
  }
  return value;
}

/** Admission order: higher priority first, then the order queued. */
export function admissionOrder(a: QueuedRun, b: QueuedRun): number {
  return b.priority - a.priority || a.seq - b.seq;
}
