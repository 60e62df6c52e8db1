/**
 * How a `materialization` event maps to a {@linkcode Materialization}; shared
 * by every run store so they agree.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import type { Metadata } from "../metadata.ts";
import type { RunEvent } from "./types.ts";

/** The payload of a `materialization` event. */
export interface MaterializationData {
  /** What the asset reported. */
  readonly metadata: Metadata;
  /** Code version of the asset, or `null`. */
  readonly codeVersion: string | null;
}

/** Builds the event recording a materialization. */
export function materializationEvent(m: Materialization): RunEvent {
  return {
    runId: m.runId,
    type: "materialization",
    time: m.time,
    assetKey: m.assetKey,
    partition: m.partition,
    data: { metadata: m.metadata, codeVersion: m.codeVersion },
  };
}

/** Reads a materialization back from its event. Throws `TypeError` on another kind of event. */
export function toMaterialization(event: RunEvent): Materialization {
  if (event.type !== "materialization" || event.assetKey === null) {
    throw new TypeError(`Event '${event.type}' of run '${event.runId}' is not a materialization`);
  }
  const data = event.data as Partial<MaterializationData>;
  return {
    runId: event.runId,
    assetKey: event.assetKey,
    partition: event.partition,
    time: event.time,
    metadata: data.metadata ?? {},
    codeVersion: typeof data.codeVersion === "string" ? data.codeVersion : null,
  };
}
