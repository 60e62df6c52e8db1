/**
 * A freshness policy as an asset check (Dagster's freshness checks): every
 * asset with a policy has a check named {@linkcode FRESHNESS_CHECK} in the
 * graph. The executor evaluates it right after each materialization (the data
 * was just written: it passes, with its facts), and the daemon's automation
 * sensor evaluates it between materializations, recording a `check` event in
 * a small "check run" whenever the verdict changes (and at a bounded cadence
 * while it does not), so both land where every other check lands: the asset's
 * check history in the UI, `deno task cli show RUN_ID`, the feed that
 * `onCheckFailure` and the UI read.
 *
 * @module
 */

import { buildCheck, type CheckDefinition } from "../asset.ts";
import type { Metadata } from "../metadata.ts";
import { type FreshnessPolicy, type FreshnessResult, judgeFreshness } from "./freshness_policy.ts";

/** Name of the check a freshness policy becomes (reserved on assets with a policy). */
export const FRESHNESS_CHECK = "freshness";

/**
 * Marker in a freshness `check` event's data (`data.automation`), so alert
 * sensors can tell a freshness verdict from other checks (`onFreshnessBreach`
 * notifies those; `onCheckFailure` leaves them to it).
 */
export const FRESHNESS_CHECK_MARK = "freshness";

/**
 * The facts of a verdict, as check metadata: when the data was last updated,
 * how old it was at the instant judged, the allowed lag and how far over it.
 */
export function freshnessMetadata(
  policy: FreshnessPolicy,
  lastUpdatedAt: number | null,
  result: FreshnessResult,
): Metadata {
  return {
    status: result.status,
    last_updated_at: lastUpdatedAt === null ? null : new Date(lastUpdatedAt).toISOString(),
    judged_at: new Date(result.judgedAt).toISOString(),
    lag_ms: result.lagMs,
    allowed_lag_ms: policy.maxLagMs,
    warn_lag_ms: policy.warnLagMs,
    overdue_by_ms: result.lagMs === null ? null : Math.max(0, result.lagMs - policy.maxLagMs),
    cron: policy.cron,
  };
}

/** The `data` of the `check` event that records a verdict (the executor's check outcome shape). */
export function freshnessCheckData(
  policy: FreshnessPolicy,
  lastUpdatedAt: number | null,
  result: FreshnessResult,
): Metadata {
  return {
    name: FRESHNESS_CHECK,
    severity: result.status === "pass" ? policy.severity : result.status,
    blocking: false,
    passed: result.status === "pass",
    description: result.status === "pass" ? null : result.description,
    metadata: {
      ...freshnessMetadata(policy, lastUpdatedAt, result),
      description: result.description,
    },
    automation: FRESHNESS_CHECK_MARK,
  };
}

/**
 * The check of `assetKey`'s freshness policy. Run by the executor after a
 * materialization, it judges the data just written (so it passes, recording
 * the facts); the daemon judges between materializations.
 */
export function freshnessCheckDefinition(
  assetKey: string,
  policy: FreshnessPolicy,
): CheckDefinition {
  const limit = policy.warnLagMs === null
    ? `${Math.round(policy.maxLagMs / 60_000)} min`
    : `${Math.round(policy.maxLagMs / 60_000)} min (warn after ${
      Math.round(policy.warnLagMs / 60_000)
    } min)`;
  return buildCheck(assetKey, {
    name: FRESHNESS_CHECK,
    description: `data at most ${limit} old${policy.cron ? ` at each '${policy.cron}' tick` : ""}`,
    // A breach's own severity is the policy's; the definition's is what a breach means.
    severity: policy.severity,
    blocking: false,
    run: (ctx) => {
      const at = ctx.materialization.time;
      const result = judgeFreshness(policy, at, Math.max(ctx.clock.now(), at));
      return {
        passed: result.status === "pass",
        description: result.description,
        metadata: freshnessMetadata(policy, at, result),
      };
    },
  }, []);
}
