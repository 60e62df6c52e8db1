/**
 * How a `materialization` event maps to a {@linkcode Materialization}; shared
 * by every run store so they agree.
 *
 * @module
 */

import type { DataProvenance, Materialization } from "../asset.ts";
import type { Metadata } from "../metadata.ts";
import type { RunEvent } from "./types.ts";

/** The payload of a `materialization` event. */
export interface MaterializationData {
  /** What the asset reported. */
  readonly metadata: Metadata;
  /** Code version of the asset, or `null`. */
  readonly codeVersion: string | null;
  /** Data version and consumed input versions, when known. */
  readonly provenance?: DataProvenance;
}

/** Builds the event recording a materialization. */
export function materializationEvent(m: Materialization): RunEvent {
  return {
    runId: m.runId,
    type: "materialization",
    time: m.time,
    assetKey: m.assetKey,
    partition: m.partition,
    data: {
      metadata: m.metadata,
      codeVersion: m.codeVersion,
      ...(m.provenance ? { provenance: provenanceData(m.provenance) } : {}),
    },
  };
}

/** Reads a materialization back from its event. Throws `TypeError` on another kind of event. */
export function toMaterialization(event: RunEvent): Materialization {
  if (event.type !== "materialization" || event.assetKey === null) {
    throw new TypeError(`Event '${event.type}' of run '${event.runId}' is not a materialization`);
  }
  const data = event.data as Partial<MaterializationData>;
  const provenance = readProvenance(data.provenance);
  return {
    runId: event.runId,
    assetKey: event.assetKey,
    partition: event.partition,
    time: event.time,
    metadata: data.metadata ?? {},
    codeVersion: typeof data.codeVersion === "string" ? data.codeVersion : null,
    ...(provenance ? { provenance } : {}),
  };
}

/** A provenance as JSON metadata. */
export function provenanceData(p: DataProvenance): Metadata {
  return {
    dataVersion: p.dataVersion,
    startedAt: p.startedAt,
    inputs: Object.fromEntries(
      Object.entries(p.inputs).map(([key, input]) => [key, input ? { ...input } : null]),
    ),
  };
}

/**
 * Reads a provenance back from stored JSON (an event's `provenance`, or the
 * text a SQL store keeps); `undefined` when absent or not of that shape.
 */
export function readProvenance(value: unknown): DataProvenance | undefined {
  const raw = typeof value === "string" ? safeParse(value) : value;
  if (typeof raw !== "object" || raw === null) return undefined;
  const p = raw as Record<string, unknown>;
  if (typeof p.dataVersion !== "string" || typeof p.startedAt !== "number") return undefined;
  const inputs: Record<string, DataProvenance["inputs"][string]> = {};
  for (const [key, input] of Object.entries((p.inputs ?? {}) as Record<string, unknown>)) {
    const i = input as Record<string, unknown> | null;
    inputs[key] = i && typeof i.dataVersion === "string" && typeof i.time === "number"
      ? {
        dataVersion: i.dataVersion,
        runId: String(i.runId ?? ""),
        partition: typeof i.partition === "string" ? i.partition : null,
        time: i.time,
      }
      : null;
  }
  return { dataVersion: p.dataVersion, startedAt: p.startedAt, inputs };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
