/**
 * Declarative automation: conditions on assets (`eager()`, `onCron()`,
 * `onMissing()` and their building blocks), the evaluator the daemon runs,
 * staleness, freshness policies and alert sensors.
 *
 * @example
 * ```ts
 * import { eager, freshness, onRunFailure } from "./mod.ts";
 * const condition = eager();
 * const policy = freshness({ maxLagMinutes: 420 });
 * const alerts = onRunFailure({ selection: "group:marts" });
 * ```
 *
 * @module
 */

export * from "./condition.ts";
export {
  freshness,
  type FreshnessOptions,
  type FreshnessPolicy,
  type FreshnessResult,
  judgeFreshness,
} from "./freshness_policy.ts";
export * from "./notification.ts";
export {
  type AlertOptions,
  type AlertResources,
  type AlertSensor,
  type DeliveryGuarantee,
  onCheckFailure,
  onFreshnessBreach,
  onRunFailure,
  onRunSuccess,
} from "./alerts.ts";
export { type AutomationSettings, withAutomation } from "./apply.ts";
export {
  type AssetEvaluation,
  AutomationEvaluator,
  type AutomationEvaluatorOptions,
  type EvaluatedNode,
  type EvaluationResult,
} from "./evaluate.ts";
export {
  AUTOMATION_CHECK_TAG,
  AUTOMATION_SENSOR,
  AUTOMATION_TAG,
  type AutomationCursor,
  type AutomationSensor,
  automationSensor,
  type AutomationSensorOptions,
  needsAutomation,
  parseAutomationCursor,
} from "./sensor.ts";
export {
  assetStaleness,
  describeReason,
  partitionStaleness,
  type StalenessOptions,
  type StalenessReport,
  type StalePlan,
  type StaleReason,
  staleRuns,
} from "./staleness.ts";
export { type PlannedRun, type RunPlan } from "./plan_runs.ts";
export {
  FRESHNESS_CHECK,
  FRESHNESS_CHECK_MARK,
  freshnessCheckData,
  freshnessMetadata,
} from "./freshness_check.ts";
