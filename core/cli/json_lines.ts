/**
 * Run events as JSON lines, one object per line, for logs and other programs.
 *
 * Every line has `time`, `run_id`, `asset`, `partition`, `step` (`run`,
 * `asset`, `check` or `log`), `status` and `duration_ms` (`null` where no time
 * was measured, e.g. when a step starts or is skipped), so a consumer can rely
 * on the shape of every line; asset lines add `attempt`, and `error`, `reason`
 * or `metadata` where they apply.
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
  const data = event.data as Record<string, MetadataValue | undefined>;
  const { duration_ms: _duration, ...fields } = data;
  // Every line carries the same leading keys, in the same order, and event data never overrides them.
  const line = (step: string, status: string, extra: Record<string, MetadataValue | undefined>) => {
    const head = {
      time: new Date(event.time).toISOString(),
      run_id: event.runId,
      asset: event.assetKey,
      partition: event.partition,
      step,
      status,
      duration_ms: typeof data.duration_ms === "number" ? data.duration_ms : null,
    };
    return { ...head, ...defined(extra), ...head };
  };
  if (event.type === "run_started") return line("run", "running", { steps: data.steps ?? null });
  if (event.type === "run_finished") {
    const { status, ...rest } = fields;
    return line("run", String(status), rest);
  }
  if (event.type === "check") {
    const { passed, name, ...rest } = fields;
    return line("check", passed ? "passed" : "failed", { check: name ?? null, ...rest });
  }
  if (event.type === "log") return line("log", "log", fields);
  const status = ASSET_STATUS[event.type];
  if (!status) return undefined;
  // Stack traces stay in the run store (`show RUN_ID`); a log line keeps to one line of facts.
  const { stack: _stack, ...rest } = fields;
  return line("asset", status, rest);
}

function defined(data: Record<string, MetadataValue | undefined>): Metadata {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as Metadata;
}
