/**
 * Checks what a sensor's `evaluate` returned before the daemon acts on it:
 * sensors are user code, and a malformed request must fail the sensor's tick
 * with a message naming the field, not a run.
 *
 * @module
 */

import { SensorError, type SensorResult } from "./sensor.ts";

/** Returns `value` as a {@linkcode SensorResult}, or throws {@linkcode SensorError} naming the bad field. */
export function checkSensorResult(sensor: string, value: unknown): SensorResult {
  const fail = (what: string): never => {
    throw new SensorError(
      "sensor.invalid_result",
      `Sensor '${sensor}' returned an invalid result: ${what}; return { runRequests, cursor? } or { skipReason }`,
    );
  };
  if (typeof value !== "object" || value === null) return fail(`got ${String(value)}`);
  const result = value as Record<string, unknown>;
  if ("skipReason" in result) {
    if (typeof result.skipReason !== "string") fail("skipReason must be a string");
    return result as unknown as SensorResult;
  }
  if (!Array.isArray(result.runRequests)) fail("runRequests must be an array");
  (result.runRequests as unknown[]).forEach((request, i) => {
    const at = `runRequests[${i}]`;
    if (typeof request !== "object" || request === null) fail(`${at} must be an object`);
    const r = request as Record<string, unknown>;
    if (typeof r.runKey !== "string" || r.runKey === "") {
      fail(`${at}.runKey must be a non-empty string`);
    }
    if (typeof r.selection !== "string") fail(`${at}.selection must be a string`);
    if (r.partitions !== undefined && !isStrings(r.partitions)) {
      fail(`${at}.partitions must be an array of strings`);
    }
    if (
      r.tags !== undefined &&
      (typeof r.tags !== "object" || r.tags === null || !isStrings(Object.values(r.tags)))
    ) fail(`${at}.tags must map names to strings`);
  });
  if (result.cursor !== undefined && typeof result.cursor !== "string") {
    fail("cursor must be a string");
  }
  if (result.dynamicPartitions !== undefined) {
    if (!Array.isArray(result.dynamicPartitions)) fail("dynamicPartitions must be an array");
    (result.dynamicPartitions as unknown[]).forEach((entry, i) => {
      const e = (entry ?? {}) as Record<string, unknown>;
      if (typeof e.name !== "string" || !isStrings(e.keys)) {
        fail(`dynamicPartitions[${i}] must be { name: string, keys: string[] }`);
      }
    });
  }
  return result as unknown as SensorResult;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
