/**
 * Runs one step: opens its resources, calls `materialize` with retries, records
 * the materialization and runs the asset's checks.
 *
 * @module
 */

import type {
  AssetContext,
  CheckDefinition,
  CheckResult,
  DataProvenance,
  FinishedStep,
  InputVersion,
  Materialization,
} from "./asset.ts";
import type { Clock } from "./clock.ts";
import type { Graph } from "./graph.ts";
import {
  AssetExecutionError,
  asTooManyOpenFiles,
  CanceledError,
  ConfigError,
  isTransientError,
  lastingFailure,
  PlatformError,
  toError,
} from "./errors.ts";
import { createLogger } from "./logger.ts";
import { assertMetadata, type Metadata } from "./metadata.ts";
import type { Step } from "./plan.ts";
import { policyFor, retryDelay } from "./retry.ts";
import type { ResourcePool } from "./_resource_pool.ts";
import { materializationEvent } from "./run_store/materialization.ts";
import type { RunEvent, RunStore, StepStatus } from "./run_store/types.ts";
import { samePartitioning } from "./partitions.ts";

/** Outcome of one check. */
export interface CheckOutcome {
  /** Check name. */
  readonly name: string;
  /** Whether it passed. */
  readonly passed: boolean;
  /** `error` or `warn`. */
  readonly severity: "error" | "warn";
  /** Whether a failure skips downstream. */
  readonly blocking: boolean;
  /** What went wrong, when it failed. */
  readonly description: string | null;
  /** Figures the check reported. */
  readonly metadata: Metadata;
}

/** What a step ended with. */
export interface StepOutcome {
  readonly status: "success" | "failed" | "skipped" | "canceled";
  readonly attempts?: number;
  readonly startedAt?: number;
  readonly durationMs?: number;
  readonly reason?: string;
  readonly error?: Error;
  readonly materialization?: Materialization;
  readonly checks?: readonly CheckOutcome[];
}

/** What a step needs from its run. */
export interface StepEnvironment {
  readonly runId: string;
  readonly graph: Graph<unknown>;
  readonly pool: ResourcePool;
  readonly store: RunStore;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signal: AbortSignal;
  readonly materialized: ReadonlyMap<string, Materialization>;
  /** Steps of the run that have finished so far. */
  finishedSteps(): readonly FinishedStep[];
  emit(event: Omit<RunEvent, "runId" | "time">): void;
  putStep(status: StepStatus, attempts: number, startedAt: number): Promise<void>;
}

type Attempt =
  | {
    ok: true;
    metadata: Metadata;
    startedAt: number;
    upstream: Readonly<Record<string, Materialization | undefined>>;
  }
  | { ok: false; error: Error };

/** Runs `step` to a final outcome; never throws. */
export async function runStep(step: Step, env: StepEnvironment): Promise<StepOutcome> {
  const startedAt = env.clock.now();
  const where = { assetKey: step.asset.key, partition: step.partition ?? null };
  const elapsed = () => env.clock.now() - startedAt;
  await env.putStep("running", 1, startedAt);
  env.emit({ type: "step_started", ...where, data: { attempt: 1 } });
  let attempt = 0;
  let last: Attempt = { ok: false, error: new Error("not run") };
  for (;;) {
    attempt++;
    last = await tryOnce(step, env, attempt);
    if (last.ok || env.signal.aborted || !retryable(last.error)) break;
    const transient = isTransientError(last.error);
    const policy = policyFor(step.asset.retry, transient);
    if (attempt >= policy.maxAttempts) break;
    const delay = retryDelay(policy, attempt, env.random);
    env.emit({
      type: "step_retry",
      ...where,
      data: { attempt, delay_ms: delay, transient, ...errorData(last.error) },
    });
    try {
      await env.clock.sleep(delay, env.signal);
    } catch {
      break;
    }
    await env.putStep("running", attempt + 1, startedAt);
  }
  if (!last.ok) {
    // Said with the limit to raise: the OS's words alone name only the file it refused.
    last = { ok: false, error: asTooManyOpenFiles(last.error) };
    const canceled = env.signal.aborted;
    const status = canceled ? "canceled" : "failed";
    const reason = canceled ? "canceled while running" : last.error.message;
    env.emit({
      type: canceled ? "step_canceled" : "step_failed",
      ...where,
      data: { attempt, duration_ms: elapsed(), ...errorData(last.error) },
    });
    return {
      status,
      attempts: attempt,
      startedAt,
      durationMs: elapsed(),
      reason,
      error: last.error,
    };
  }
  const materialization: Materialization = {
    runId: env.runId,
    assetKey: step.asset.key,
    partition: step.partition ?? null,
    time: env.clock.now(),
    metadata: last.metadata,
    codeVersion: step.asset.codeVersion,
    provenance: provenanceOf(env.runId, last),
  };
  const event = materializationEvent(materialization);
  env.emit({
    type: event.type,
    assetKey: event.assetKey,
    partition: event.partition,
    data: event.data,
  });
  const checks = await runChecks(step, env, materialization, attempt);
  const blocking = checks.find((c) => !c.passed && c.blocking);
  env.emit({
    type: "step_success",
    ...where,
    data: { attempt, duration_ms: elapsed(), metadata: last.metadata },
  });
  return {
    status: "success",
    attempts: attempt,
    startedAt,
    durationMs: elapsed(),
    materialization,
    checks,
    ...(blocking ? { reason: `blocking check '${blocking.name}' failed` } : {}),
  };
}

async function tryOnce(step: Step, env: StepEnvironment, attempt: number): Promise<Attempt> {
  try {
    const startedAt = env.clock.now();
    const [ctx] = await Promise.all([
      buildContext(step, env, attempt, step.asset.resources),
      step.asset.preload?.(),
    ]);
    const output = await step.asset.materialize(ctx);
    const metadata = output ?? {};
    assertMetadata(metadata, `Asset '${step.asset.key}'`);
    return { ok: true, metadata, startedAt, upstream: ctx.upstream };
  } catch (thrown) {
    if (env.signal.aborted) {
      return { ok: false, error: new CanceledError(`Asset '${step.asset.key}' was canceled`) };
    }
    return { ok: false, error: wrap(step, thrown) };
  }
}

/**
 * The data version of what an attempt wrote (the `data_version` string it
 * reported, a hash of its output, else the run id) and the versions of the
 * upstream materializations it was given.
 */
function provenanceOf(
  runId: string,
  attempt: Extract<Attempt, { ok: true }>,
): DataProvenance {
  const inputs: Record<string, InputVersion | null> = {};
  for (const [key, m] of Object.entries(attempt.upstream)) {
    inputs[key] = m
      ? { dataVersion: dataVersionOf(m), runId: m.runId, partition: m.partition, time: m.time }
      : null;
  }
  const reported = attempt.metadata.data_version;
  return {
    dataVersion: typeof reported === "string" && reported !== "" ? reported : runId,
    startedAt: attempt.startedAt,
    inputs,
  };
}

/** The data version of a recorded materialization (older records: their run id). */
export function dataVersionOf(m: Materialization): string {
  if (m.provenance) return m.provenance.dataVersion;
  const reported = m.metadata.data_version;
  return typeof reported === "string" && reported !== "" ? reported : m.runId;
}

/** User errors keep their class and message (the event names the asset); non-errors are wrapped. */
function wrap(step: Step, thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new AssetExecutionError(
    "asset.failed",
    `Asset '${step.asset.key}' threw ${toError(thrown).message}`,
    {
      assetKey: step.asset.key,
      cause: thrown,
    },
  );
}

/**
 * An error may opt out of retries with `retryable: false`; cancellations,
 * configuration errors (a setting does not fix itself while we wait) and
 * lasting failures (a full disk, a read-only file system, a permission: see
 * `lastingFailure`, also when an asset wrapped them) never retry, whatever
 * the asset's policy says: the policy is for outages that pass.
 */
function retryable(error: Error): boolean {
  if (error instanceof CanceledError || error instanceof ConfigError) return false;
  if (lastingFailure(error) !== undefined) return false;
  return (error as { retryable?: unknown }).retryable !== false;
}

async function buildContext(
  step: Step,
  env: StepEnvironment,
  attempt: number,
  resourceKeys: readonly string[],
): Promise<AssetContext<Record<string, unknown>>> {
  const where = { assetKey: step.asset.key, partition: step.partition ?? null };
  const log = createLogger((record) =>
    env.emit({
      type: "log",
      ...where,
      data: { level: record.level, message: record.message, fields: record.fields },
    }), () => env.clock.now());
  return {
    runId: env.runId,
    assetKey: step.asset.key,
    partitionKey: step.partition,
    resources: await env.pool.pick(resourceKeys, `asset '${step.asset.key}'`),
    log,
    signal: env.signal,
    attempt,
    clock: env.clock,
    upstream: await upstreamMaterializations(step, env),
    finishedSteps: () => env.finishedSteps(),
  };
}

async function upstreamMaterializations(
  step: Step,
  env: StepEnvironment,
): Promise<Record<string, Materialization | undefined>> {
  const result: Record<string, Materialization | undefined> = {};
  for (const dep of step.asset.deps) {
    const partitions = env.graph.assets.get(dep)?.partitions;
    const aligned = step.partition !== undefined && partitions !== undefined &&
      step.asset.partitions !== undefined && samePartitioning(partitions, step.asset.partitions);
    const key = aligned ? `${dep}\0${step.partition}` : dep;
    result[dep] = env.materialized.get(key) ??
      await env.store.lastMaterialization(dep, aligned ? step.partition : undefined);
  }
  return result;
}

async function runChecks(
  step: Step,
  env: StepEnvironment,
  materialization: Materialization,
  attempt: number,
): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of env.graph.checksFor(step.asset.key)) {
    const outcome = await runCheck(step, env, check, materialization, attempt);
    outcomes.push(outcome);
    env.emit({
      type: "check",
      assetKey: step.asset.key,
      partition: step.partition ?? null,
      data: { ...outcome },
    });
  }
  return outcomes;
}

async function runCheck(
  step: Step,
  env: StepEnvironment,
  check: CheckDefinition,
  materialization: Materialization,
  attempt: number,
): Promise<CheckOutcome> {
  const base = { name: check.name, severity: check.severity, blocking: check.blocking };
  try {
    const ctx = await buildContext(step, env, attempt, check.resources);
    const raw = await check.run({ ...ctx, materialization });
    const result: CheckResult = typeof raw === "boolean" ? { passed: raw } : raw;
    const metadata = result.metadata ?? {};
    assertMetadata(metadata, `Check '${check.name}' on '${step.asset.key}'`);
    const description = result.passed
      ? null
      : result.description ?? (check.description || "the check failed");
    const severity = result.severity ?? check.severity;
    return {
      ...base,
      severity,
      blocking: check.blocking && severity === "error",
      passed: result.passed,
      description,
      metadata,
    };
  } catch (thrown) {
    const error = toError(thrown);
    return {
      ...base,
      passed: false,
      description: `the check threw: ${error.message}`,
      metadata: errorData(error),
    };
  }
}

/** Error fields recorded in events: message, class, code and stack. */
export function errorData(error: Error): Metadata {
  const code = error instanceof PlatformError ? error.code : null;
  const cause = error.cause instanceof Error ? error.cause.message : null;
  return { error: error.message, error_class: error.name, code, cause, stack: error.stack ?? null };
}
