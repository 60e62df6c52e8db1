/**
 * Mapping between run store rows and records, shared by the SQL backends so
 * they agree on every field.
 *
 * @module
 */

import type { Materialization } from "../../core/asset.ts";
import type { Metadata } from "../../core/metadata.ts";
import { readProvenance } from "../../core/run_store/materialization.ts";
import type {
  AutomationRecordKind,
  AutomationState,
  RunEventType,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
  StoredAutomationRecord,
  StoredRunEvent,
  TickRecord,
  TickStatus,
} from "../../core/run_store/types.ts";

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

const text = (value: unknown): string => String(value);
const nullableText = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);
const num = (value: unknown): number => Number(value);
const nullableNum = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
/** `""` is how "no partition" is stored. */
const partition = (value: unknown): string | null =>
  value === null || value === undefined || value === "" ? null : String(value);

/** Stored form of a partition key. */
export function partitionColumn(partitionKey: string | null): string {
  return partitionKey ?? "";
}

/** A `pipeline_runs` row as a record. */
export function toRun(row: Row): RunRecord {
  return {
    runId: text(row.run_id),
    status: text(row.status) as RunStatus,
    selection: text(row.selection),
    partitions: nullableText(row.partitions),
    tags: JSON.parse(text(row.tags)) as Record<string, string>,
    startedAt: num(row.started_at),
    finishedAt: nullableNum(row.finished_at),
    errorSummary: nullableText(row.error_summary),
    owner: row.owner_id === null || row.owner_id === undefined ? null : {
      instanceId: text(row.owner_id),
      host: text(row.owner_host ?? ""),
      pid: num(row.owner_pid ?? 0),
    },
    heartbeatAt: nullableNum(row.heartbeat_at),
    heartbeatTimeoutMs: nullableNum(row.heartbeat_timeout_ms),
    cancelRequestedAt: nullableNum(row.cancel_requested_at),
    cancelReason: nullableText(row.cancel_reason),
  };
}

/** A `run_steps` row as a record. */
export function toStep(row: Row): StepRecord {
  return {
    runId: text(row.run_id),
    assetKey: text(row.asset_key),
    partition: partition(row.partition_key),
    status: text(row.status) as StepStatus,
    attempts: num(row.attempts),
    startedAt: nullableNum(row.started_at),
    finishedAt: nullableNum(row.finished_at),
    reason: nullableText(row.reason),
  };
}

/** A `run_events` row as a record. */
export function toEvent(row: Row): StoredRunEvent {
  return {
    id: num(row.id),
    runId: text(row.run_id),
    type: text(row.type) as RunEventType,
    time: num(row.time),
    assetKey: nullableText(row.asset_key),
    partition: partition(row.partition_key),
    data: JSON.parse(text(row.data)) as Metadata,
  };
}

/** A `materializations` row as a record. */
export function toMaterialization(row: Row): Materialization {
  return {
    runId: text(row.run_id),
    assetKey: text(row.asset_key),
    partition: partition(row.partition_key),
    time: num(row.time),
    metadata: JSON.parse(text(row.metadata)) as Metadata,
    codeVersion: nullableText(row.code_version),
    ...provenanceOf(row.provenance),
  };
}

function provenanceOf(value: unknown): Pick<Materialization, "provenance"> {
  const provenance = value === null || value === undefined ? undefined : readProvenance(value);
  return provenance ? { provenance } : {};
}

/** The stored form of a materialization's provenance (JSON text, or `null`). */
export function provenanceColumn(m: Materialization): string | null {
  return m.provenance ? JSON.stringify(m.provenance) : null;
}

/** An `automation_records` row as a record. */
export function toAutomationRecord(row: Row): StoredAutomationRecord {
  return {
    id: num(row.id),
    kind: text(row.kind) as AutomationRecordKind,
    time: num(row.time),
    assetKey: nullableText(row.asset_key),
    name: text(row.name),
    data: JSON.parse(text(row.data)) as Metadata,
  };
}

/** An `automation_state` row as a record. */
export function toAutomationState(row: Row): AutomationState {
  return {
    name: text(row.name),
    enabled: num(row.enabled) === 1,
    updatedAt: num(row.updated_at),
    updatedBy: nullableText(row.updated_by),
  };
}

/** An `automation_ticks` row as a record. */
export function toTick(row: Row): TickRecord {
  return {
    id: num(row.id),
    name: text(row.name),
    kind: text(row.kind) as TickRecord["kind"],
    time: num(row.time),
    lastTime: num(row.last_time),
    count: num(row.count),
    status: text(row.status) as TickStatus,
    runIds: JSON.parse(text(row.run_ids)) as string[],
    duplicateKeys: JSON.parse(text(row.duplicate_keys)) as string[],
    reason: nullableText(row.reason),
    cursor: nullableText(row.cursor),
  };
}
