/**
 * Retry policies for assets: how many attempts and how long between them.
 *
 * @module
 */

/** How an asset is retried after a failure. */
export interface RetryPolicy {
  /**
   * Total attempts including the first one.
   * @default {1}
   */
  readonly maxAttempts: number;
  /**
   * Delay before the second attempt, in milliseconds.
   * @default {1000}
   */
  readonly delayMs: number;
  /**
   * How the delay grows: `linear` waits delay × n, `exponential` delay × 2^(n-1).
   * @default {"exponential"}
   */
  readonly backoff: "linear" | "exponential" | "constant";
  /**
   * Random spread as a fraction of the delay (0.2 = ±20 %), so retries of many
   * assets do not hit a server at the same instant.
   * @default {0}
   */
  readonly jitter: number;
  /**
   * Upper bound of one delay, in milliseconds.
   * @default {300000}
   */
  readonly maxDelayMs: number;
}

/** The policy of an asset that declares none: one attempt. */
export const NO_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 1,
  delayMs: 1000,
  backoff: "exponential",
  jitter: 0,
  maxDelayMs: 300_000,
});

/**
 * How a step is retried after a transient failure (a lost connection, a
 * server restarting: see `PlatformError.transient`) when its asset declares
 * no retries of its own: three attempts, 2 s then 4 s apart (±20 %). An
 * asset that declares a policy has it applied to every failure, transient or
 * not, except those waiting cannot fix (a cancel, a configuration error, an
 * error with `retryable: false`, a full disk, a read-only file system or a
 * refused permission: see `lastingFailure` in errors.ts), which never retry.
 */
export const TRANSIENT_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  delayMs: 2000,
  backoff: "exponential",
  jitter: 0.2,
  maxDelayMs: 30_000,
});

/** The policy for a step of an asset with `policy` whose last attempt failed with `transient`. */
export function policyFor(policy: RetryPolicy, transient: boolean): RetryPolicy {
  return transient && policy.maxAttempts === 1 ? TRANSIENT_RETRY : policy;
}

/**
 * Fills defaults and validates a partial policy.
 *
 * @throws {RangeError} `Cannot use retry.<field> <value>: expected …` for a
 * field out of range (the same grammar as the executor's option checks).
 */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...NO_RETRY, ...partial };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new RangeError(
      `Cannot use retry.maxAttempts ${policy.maxAttempts}: expected a whole number >= 1`,
    );
  }
  if (!["linear", "exponential", "constant"].includes(policy.backoff)) {
    throw new RangeError(
      `Cannot use retry.backoff '${policy.backoff}': expected 'linear', 'exponential' or 'constant'`,
    );
  }
  if (!(policy.delayMs >= 0)) {
    throw new RangeError(`Cannot use retry.delayMs ${policy.delayMs}: expected milliseconds >= 0`);
  }
  if (!(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new RangeError(
      `Cannot use retry.jitter ${policy.jitter}: expected a fraction between 0 and 1`,
    );
  }
  if (!(policy.maxDelayMs >= 0)) {
    throw new RangeError(
      `Cannot use retry.maxDelayMs ${policy.maxDelayMs}: expected milliseconds >= 0`,
    );
  }
  return Object.freeze(policy);
}

/**
 * Milliseconds to wait after failed attempt number `attempt` (1-based).
 *
 * @example
 * ```ts
 * import { retryDelay, retryPolicy } from "./retry.ts";
 * const policy = retryPolicy({ maxAttempts: 3, delayMs: 100, backoff: "exponential" });
 * retryDelay(policy, 2, () => 0.5); // 200
 * ```
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = policy.backoff === "constant"
    ? policy.delayMs
    : policy.backoff === "linear"
    ? policy.delayMs * attempt
    : policy.delayMs * 2 ** (attempt - 1);
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(base + spread)));
}

/**
 * How the `errorSummary` of a run stopped by its own process begins: its
 * heartbeat could not be recorded before its lease lapsed, another process
 * took it for dead, or a cancel was asked. A run canceled from outside (its
 * daemon's shutdown) has no such prefix.
 */
export const STOPPED_BY_OWNER_PREFIX = "canceled: ";

/** How the reason of a run its process stopped because its heartbeat could not be recorded begins. */
export const HEARTBEAT_STOP_REASON = "its heartbeat could not be recorded";

/**
 * Whether `run` was stopped by its own process because its heartbeat could
 * not be recorded (a run store outage): nothing went wrong in its assets, and
 * it did not run to its end, so it is retried as a run whose process died is.
 */
export function stoppedForHeartbeat(
  run: { readonly status: string; readonly errorSummary: string | null },
): boolean {
  return run.status === "canceled" &&
    (run.errorSummary ?? "").startsWith(`${STOPPED_BY_OWNER_PREFIX}${HEARTBEAT_STOP_REASON}`);
}
