/**
 * Freshness policies: how old an asset's data may get. Declared on the asset
 * (`freshness: freshness({ maxLagMinutes: 420 })`), evaluated by the daemon
 * every tick as an asset check (`freshness.ts`), and alerting through
 * `onFreshnessBreach` sensors.
 *
 * @example
 * ```ts
 * import { freshness } from "./freshness_policy.ts";
 * // fct_weather_daily must be younger than 7 h; warn after 6 h.
 * const policy = freshness({ maxLagMinutes: 7 * 60, warnLagMinutes: 6 * 60 });
 * // By every 07:00 UTC tick, data must be at most 60 min older than the tick.
 * const daily = freshness({ maxLagMinutes: 60, cron: "0 7 * * *" });
 * ```
 *
 * @module
 */

import { parseCron } from "./condition.ts";

/** Options of {@linkcode freshness}. */
export interface FreshnessOptions {
  /** The data may be at most this old (minutes) before the check fails. */
  readonly maxLagMinutes: number;
  /**
   * From this age (minutes, below `maxLagMinutes`) the check warns.
   * @default {undefined (no warning stage)}
   */
  readonly warnLagMinutes?: number;
  /**
   * Judge the data at the latest tick of this cron expression instead of
   * now: by each tick, data at most `maxLagMinutes` older than the tick must
   * exist (Dagster's `cron_schedule`).
   * @default {undefined}
   */
  readonly cron?: string;
  /**
   * IANA time zone of `cron`.
   * @default {"UTC"}
   */
  readonly timezone?: string;
  /**
   * How bad a breach of `maxLagMinutes` is.
   * @default {"error"}
   */
  readonly severity?: "warn" | "error";
}

/** A validated freshness policy, as stored on an asset definition. */
export interface FreshnessPolicy {
  /** Maximum age in milliseconds. */
  readonly maxLagMs: number;
  /** Age in milliseconds from which the check warns, or `null`. */
  readonly warnLagMs: number | null;
  /** Cron expression judging at ticks, or `null` (judge now). */
  readonly cron: string | null;
  /** Time zone of `cron`. */
  readonly timezone: string;
  /** Severity of a breach of `maxLagMs`. */
  readonly severity: "warn" | "error";
  /** The latest tick of `cron` at or before `now` (ms), or `null` without cron or before the first tick. */
  latestTick(now: number): number | null;
}

/**
 * Declares a freshness policy.
 *
 * @throws {RangeError} when a lag is not a positive number of minutes, or the warning lag is not below the maximum.
 * @throws {InvalidDefinitionError} on a bad cron expression.
 */
export function freshness(options: FreshnessOptions): FreshnessPolicy {
  const { maxLagMinutes, warnLagMinutes } = options;
  if (typeof maxLagMinutes !== "number" || !Number.isFinite(maxLagMinutes) || maxLagMinutes <= 0) {
    throw new RangeError(
      `Cannot declare freshness with maxLagMinutes ${maxLagMinutes}: expected minutes > 0`,
    );
  }
  if (
    warnLagMinutes !== undefined &&
    (!Number.isFinite(warnLagMinutes) || warnLagMinutes <= 0 || warnLagMinutes >= maxLagMinutes)
  ) {
    throw new RangeError(
      `Cannot declare freshness with warnLagMinutes ${warnLagMinutes}: expected minutes > 0 ` +
        `and below maxLagMinutes (${maxLagMinutes})`,
    );
  }
  const severity = options.severity ?? "error";
  if (severity !== "warn" && severity !== "error") {
    throw new RangeError(`Cannot declare freshness with severity '${severity}': use warn or error`);
  }
  const timezone = options.timezone ?? "UTC";
  const cron = options.cron === undefined ? null : parseCron(options.cron, timezone);
  return Object.freeze({
    maxLagMs: maxLagMinutes * 60_000,
    warnLagMs: warnLagMinutes === undefined ? null : warnLagMinutes * 60_000,
    cron: options.cron ?? null,
    timezone,
    severity,
    latestTick(now: number): number | null {
      if (!cron) return null;
      // croner lists runs strictly before the reference: one ms later includes a tick at `now`.
      const [tick] = cron.previousRuns(1, new Date(now + 1));
      return tick ? tick.getTime() : null;
    },
  });
}

/** What a freshness evaluation found. */
export interface FreshnessResult {
  /** `pass`, `warn` or `error`. */
  readonly status: "pass" | "warn" | "error";
  /** Age of the data at the judged instant, in milliseconds, or `null` when never materialized. */
  readonly lagMs: number | null;
  /** The instant judged: now, or the latest cron tick. */
  readonly judgedAt: number;
  /** A sentence for people, e.g. `last materialized 8 h 2 min ago; allowed 7 h`. */
  readonly description: string;
}

/**
 * Judges `lastMaterializedAt` (ms, or `null` when never) against `policy` at
 * `now`. Before the first cron tick of a cron policy there is nothing to judge: pass.
 */
export function judgeFreshness(
  policy: FreshnessPolicy,
  lastMaterializedAt: number | null,
  now: number,
): FreshnessResult {
  const tick = policy.latestTick(now);
  const judgedAt = policy.cron ? tick : now;
  if (judgedAt === null) {
    return { status: "pass", lagMs: null, judgedAt: now, description: "no cron tick yet" };
  }
  const allowed = formatDuration(policy.maxLagMs);
  if (lastMaterializedAt === null) {
    return {
      status: policy.severity,
      lagMs: null,
      judgedAt,
      description: `never materialized; allowed ${allowed}`,
    };
  }
  // With a cron policy, data written after the tick counts as on time for it.
  const lag = Math.max(0, judgedAt - lastMaterializedAt);
  const at = policy.cron ? ` at the ${new Date(judgedAt).toISOString()} tick` : "";
  const description = `data ${formatDuration(lag)} old${at}; allowed ${allowed}`;
  if (lag > policy.maxLagMs) return { status: policy.severity, lagMs: lag, judgedAt, description };
  if (policy.warnLagMs !== null && lag > policy.warnLagMs) {
    return { status: "warn", lagMs: lag, judgedAt, description };
  }
  return { status: "pass", lagMs: lag, judgedAt, description };
}

/** `2 h 5 min`, `40 s`, `3 d 1 h`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
