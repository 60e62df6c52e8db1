/**
 * Run events as JSON lines, one object per line, for logs and other programs.
 *
 * Every line has `run_id`, `step` (`run`, `asset`, `check` or `log`),
 * `asset`, `partition` and `status`; asset lines add `attempt`, `duration_ms`,
 * and `error`, `reason` or `metadata` where they apply.
 *
 * @module
 */

import type { Metadata, MetadataValue } from "../metadata.ts";
import type { RunEvent } from "../run_store/types.ts";

const ASSET_STATUS: Partial<Record<RunEvent["type"], string>> = {
  step_started: "running",
  step_retry: "retrying",
  step_success: "success",
  step_failed: "failed",
  step_skipped: "skipped",
  step_canceled: "canceled",
};

/** The JSON line for `event`, or `undefined` for events not logged as lines. */
export function eventToJsonLine(event: RunEvent): string | undefined {
  const record = eventToRecord(event);
  return record ? JSON.stringify(record) + "\n" : undefined;
}

/** The JSON-lines record for `event`. */
export function eventToRecord(event: RunEvent): Record<string, MetadataValue> | undefined {
  const base = {
    time: new Date(event.time).toISOString(),
    run_id: event.runId,
    asset: event.assetKey,
    partition: event.partition,
  };
  const data = event.data as Record<string, MetadataValue | undefined>;
  if (event.type === "run_started") {
    return { ...base, step: "run", status: "running", steps: data.steps ?? null };
  }
  if (event.type === "run_finished") return { ...base, step: "run", ...defined(data) };
  if (event.type === "check") {
    const { passed, name, ...rest } = data;
    return {
      ...base,
      step: "check",
      check: name ?? null,
      status: passed ? "passed" : "failed",
      ...defined(rest),
    };
  }
  if (event.type === "log") return { ...base, step: "log", status: "log", ...defined(data) };
  const status = ASSET_STATUS[event.type];
  if (!status) return undefined;
  const { stack: _stack, ...rest } = data;
  return { ...base, step: "asset", status, ...defined(rest) };
}

function defined(data: Record<string, MetadataValue | undefined>): Metadata {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as Metadata;
}
