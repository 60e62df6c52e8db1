/**
 * Software-defined assets: frozen data (key, deps, partitions, policy) plus the
 * function that materializes them.
 *
 * @module
 */

import { validateAssetKey } from "./asset_key.ts";
import { AutomationCondition } from "./automation/condition.ts";
import type { FreshnessPolicy } from "./automation/freshness_policy.ts";
import type { Clock } from "./clock.ts";
import { InvalidDefinitionError, toError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { Metadata } from "./metadata.ts";
import type { PartitionsDefinition } from "./partitions.ts";
import { type RetryPolicy, retryPolicy } from "./retry.ts";

/** The data version an asset consumed from one upstream, as its step began. */
export interface InputVersion {
  /** Data version of the upstream materialization read. */
  readonly dataVersion: string;
  /** Run that produced it. */
  readonly runId: string;
  /** Its partition, or `null`. */
  readonly partition: string | null;
  /** When it was materialized, milliseconds since the epoch. */
  readonly time: number;
}

/**
 * Where a materialization's data came from: what staleness and automation
 * compare. Recorded by the executor with every materialization.
 */
export interface DataProvenance {
  /**
   * Version of the data written: the `data_version` string the asset
   * returned in its metadata (a hash of its output), else the run id.
   */
  readonly dataVersion: string;
  /** When the step that wrote it began, milliseconds since the epoch (inputs are read after). */
  readonly startedAt: number;
  /** The data version consumed from each upstream key; `null` where it had never been materialized. */
  readonly inputs: Readonly<Record<string, InputVersion | null>>;
}

/** A recorded materialization of an asset (or one partition of it). */
export interface Materialization {
  /** Run that produced it. */
  readonly runId: string;
  /** Asset key. */
  readonly assetKey: string;
  /** Partition key, or `null` for an unpartitioned asset. */
  readonly partition: string | null;
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** What the asset reported. */
  readonly metadata: Metadata;
  /** Code version of the asset when it ran. */
  readonly codeVersion: string | null;
  /** Its data version and the versions of the inputs it consumed (absent in old records). */
  readonly provenance?: DataProvenance;
}

/** Everything an asset's `materialize` function receives. */
export interface AssetContext<R = Record<string, never>> {
  /** Id of the run. */
  readonly runId: string;
  /** Key of the asset being materialized. */
  readonly assetKey: string;
  /** Partition being materialized, or `undefined` for unpartitioned assets. */
  readonly partitionKey: string | undefined;
  /** The resources this asset declared, and only those. */
  readonly resources: R;
  /** Structured logger; lines are stored as run events. */
  readonly log: Logger;
  /** Aborts when the run is canceled; pass it to fetch, streams and sleeps. */
  readonly signal: AbortSignal;
  /** Attempt number, starting at 1. */
  readonly attempt: number;
  /** Clock of the run (faked in tests). */
  readonly clock: Clock;
  /**
   * Last materialization of each upstream asset (from this run when it ran
   * here, otherwise the latest recorded), or `undefined` if it never ran.
   */
  readonly upstream: Readonly<Record<string, Materialization | undefined>>;
  /**
   * The steps of this run that have finished so far, with how they ended. An
   * {@linkcode AssetSpec.alwaysRun} asset sees every upstream step here
   * (failed and skipped ones too): what a report or an on-run-end hook reads.
   */
  readonly finishedSteps: () => readonly FinishedStep[];
}

/** A step of the run that has finished (see {@linkcode AssetContext.finishedSteps}). */
export interface FinishedStep {
  /** Asset key. */
  readonly assetKey: string;
  /** Partition, or null. */
  readonly partition: string | null;
  /** How it ended. */
  readonly status: "success" | "failed" | "skipped" | "canceled";
  /** Why it failed, was skipped or canceled; null on success. */
  readonly reason: string | null;
}

/** What a check returns: pass or fail with metadata. */
export interface CheckResult {
  /** Whether the expectation holds. */
  readonly passed: boolean;
  /** Figures that explain the result, e.g. `{ failing_rows: 3 }`. */
  readonly metadata?: Metadata;
  /** A sentence for people, shown on failure. */
  readonly description?: string;
  /**
   * How bad this failure is, for a check that fails at either level (a dbt
   * test past `warn_if` but not `error_if`, a source past `warn_after` but not
   * `error_after`), as Dagster's `AssetCheckResult(severity=...)`. A `warn`
   * result never blocks downstream nor fails the run.
   * @default {the check's severity}
   */
  readonly severity?: CheckSeverity;
}

/** Context of a check: its asset's context plus the materialization it checks. */
export interface CheckContext<R = Record<string, never>> extends AssetContext<R> {
  /** The materialization just recorded. */
  readonly materialization: Materialization;
}

/** How bad a failing check is. */
export type CheckSeverity = "error" | "warn";

/** Declaration of a check inside an asset spec. */
export interface CheckSpec<R = Record<string, never>> {
  /** Name, unique per asset. */
  readonly name: string;
  /** What the check expects. */
  readonly description?: string;
  /**
   * `error` fails the run, `warn` only reports.
   * @default {"error"}
   */
  readonly severity?: CheckSeverity;
  /**
   * A failing blocking check skips everything downstream of its asset.
   * @default {false}
   */
  readonly blocking?: boolean;
  /** Evaluates the check; `true`/`false` is short for `{ passed }`. */
  run(ctx: CheckContext<R>): Promise<CheckResult | boolean> | CheckResult | boolean;
}

/** A check attached to an asset, as stored in the graph. */
export interface CheckDefinition {
  /** Key of the checked asset. */
  readonly assetKey: string;
  /** Name, unique per asset. */
  readonly name: string;
  /** What the check expects. */
  readonly description: string;
  /** `error` fails the run, `warn` only reports. */
  readonly severity: CheckSeverity;
  /** Whether a failure skips downstream assets. */
  readonly blocking: boolean;
  /** Resource keys the check uses. */
  readonly resources: readonly string[];
  /** Evaluates the check. */
  readonly run: (
    ctx: CheckContext<Record<string, unknown>>,
  ) => Promise<CheckResult | boolean> | CheckResult | boolean;
}

/** What `materialize` may return: metadata, or nothing. */
export type MaterializeOutput = Metadata | void;

/** The spec of an asset, as written by users. */
export interface AssetSpec<R, K extends keyof R> {
  /** Path-like key, e.g. `raw_weather` or `marts/fct_weather_daily`. */
  readonly key: string;
  /** Keys of upstream assets. */
  readonly deps?: readonly string[];
  /**
   * Group shown in listings and selectable with `group:NAME`.
   * @default {"default"}
   */
  readonly group?: string;
  /** Tags selectable with `tag:NAME`. */
  readonly tags?: readonly string[];
  /** What the asset holds. */
  readonly description?: string;
  /** Partitioning; unpartitioned when absent. */
  readonly partitions?: PartitionsDefinition;
  /**
   * Partition `p` waits for partition `p - 1` of this same asset, so backfills
   * run in order.
   * @default {false}
   */
  readonly dependsOnPast?: boolean;
  /**
   * Run even when upstream steps fail or are skipped: the step waits until
   * every upstream step of the run (transitively) has finished, whatever its
   * outcome, then runs (cleanup, reports, dbt's on-run-end hooks). Only a
   * canceled run stops it.
   * @default {false}
   */
  readonly alwaysRun?: boolean;
  /** Retry policy; one attempt when absent. */
  readonly retry?: Partial<RetryPolicy>;
  /** Bump when the logic changes; recorded with each materialization. */
  readonly codeVersion?: string;
  /** Resource keys the asset uses; `ctx.resources` holds exactly these. */
  readonly resources?: readonly K[];
  /** Checks run after each materialization. */
  readonly checks?: readonly CheckSpec<Pick<R, K>>[];
  /** Static metadata about the definition (owners, docs links...). */
  readonly metadata?: Metadata;
  /**
   * When the daemon materializes it on its own, e.g. `eager()` or
   * `onCron("0 6 * * *")` (see `core/automation/condition.ts`).
   * @default {undefined (only when a run selects it)}
   */
  readonly automation?: AutomationCondition;
  /**
   * How old its data may get; the daemon checks it every tick (`freshness()`).
   * @default {undefined}
   */
  readonly freshness?: FreshnessPolicy;
  /**
   * Loads what `materialize` imports on first use (a heavy library, a WASM
   * module) while the step's resources open, so the two overlap instead of
   * adding up in a fresh process (e.g. a GDAL host starting); a no-op once
   * loaded. Its failure fails the attempt, as the import would have.
   * @default {undefined (nothing loaded ahead)}
   */
  readonly preload?: () => Promise<unknown>;
  /** Builds the asset and reports what it wrote. */
  materialize(ctx: AssetContext<Pick<R, K>>): Promise<MaterializeOutput> | MaterializeOutput;
}

/** A validated, frozen asset definition. */
export interface AssetDefinition {
  /** Path-like key. */
  readonly key: string;
  /** Upstream keys. */
  readonly deps: readonly string[];
  /** Group name. */
  readonly group: string;
  /** Tags. */
  readonly tags: readonly string[];
  /** Description, empty if none. */
  readonly description: string;
  /** Partitioning, if any. */
  readonly partitions: PartitionsDefinition | undefined;
  /** Whether partition `p` waits for `p - 1`. */
  readonly dependsOnPast: boolean;
  /** Runs after upstream failures too (see {@linkcode AssetSpec.alwaysRun}). */
  readonly alwaysRun: boolean;
  /** Complete retry policy. */
  readonly retry: RetryPolicy;
  /** Code version, or `null`. */
  readonly codeVersion: string | null;
  /** Declared resource keys. */
  readonly resources: readonly string[];
  /** Checks declared with the asset. */
  readonly checks: readonly CheckDefinition[];
  /** Static metadata. */
  readonly metadata: Metadata;
  /** Automation condition, if any. */
  readonly automation: AutomationCondition | undefined;
  /** Freshness policy, if any. */
  readonly freshness: FreshnessPolicy | undefined;
  /** Loads what the asset imports lazily, while its resources open (see {@linkcode AssetSpec.preload}). */
  readonly preload?: () => Promise<unknown>;
  /** Builds the asset. */
  readonly materialize: (
    ctx: AssetContext<Record<string, unknown>>,
  ) => Promise<MaterializeOutput> | MaterializeOutput;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Returns an `asset()` function typed by the resources the application
 * provides, so `ctx.resources` only shows what an asset declared.
 *
 * @example
 * ```ts
 * import { assetFactory } from "./asset.ts";
 * interface Resources { greeting: string }
 * const asset = assetFactory<Resources>();
 * const hello = asset({
 *   key: "hello",
 *   resources: ["greeting"],
 *   materialize: (ctx) => ({ text: ctx.resources.greeting }),
 * });
 * ```
 */
export function assetFactory<R extends object>() {
  return <const K extends keyof R & string = never>(spec: AssetSpec<R, K>): AssetDefinition =>
    buildAsset(spec as unknown as AssetSpec<Record<string, unknown>, string>);
}

/**
 * Declares an asset that uses no resources.
 *
 * @example
 * ```ts
 * import { defineAsset } from "./asset.ts";
 * const numbers = defineAsset({ key: "numbers", materialize: () => ({ rows: 3 }) });
 * ```
 */
export const defineAsset: <const K extends never = never>(
  spec: AssetSpec<Record<string, never>, K>,
) => AssetDefinition = assetFactory<Record<string, never>>();

function buildAsset(spec: AssetSpec<Record<string, unknown>, string>): AssetDefinition {
  const key = validateAssetKey(String(spec.key));
  const fail = (message: string) => {
    throw new InvalidDefinitionError("definition.invalid_asset", `Asset '${key}': ${message}`, {
      assetKey: key,
    });
  };
  if (typeof spec.materialize !== "function") fail("materialize must be a function");
  const deps = spec.deps ?? [];
  deps.forEach((dep) => validateAssetKey(dep, `dependency of '${key}'`));
  if (new Set(deps).size !== deps.length) fail("a dependency is listed twice");
  if (deps.includes(key)) {
    fail("it depends on itself; use dependsOnPast for its own past partitions");
  }
  if (spec.dependsOnPast && !spec.partitions) fail("dependsOnPast needs partitions");
  const group = spec.group ?? "default";
  if (!NAME.test(group)) fail(`group '${group}' must be a simple name`);
  for (const tag of spec.tags ?? []) {
    if (!NAME.test(tag)) fail(`tag '${tag}' must be a simple name`);
  }
  let retry: RetryPolicy;
  try {
    retry = retryPolicy(spec.retry);
  } catch (error) {
    return fail(toError(error).message);
  }
  if (spec.automation !== undefined && !(spec.automation instanceof AutomationCondition)) {
    fail("automation must be an automation condition, e.g. eager() or onCron('0 6 * * *')");
  }
  if (
    spec.freshness !== undefined &&
    (typeof spec.freshness !== "object" || typeof spec.freshness.maxLagMs !== "number")
  ) {
    fail("freshness must be made with freshness({ maxLagMinutes })");
  }
  const resources = [...(spec.resources ?? [])];
  const checks = (spec.checks ?? []).map((check) => buildCheck(key, check, resources));
  const names = checks.map((check) => check.name);
  if (new Set(names).size !== names.length) fail("two checks share a name");
  return Object.freeze({
    key,
    deps: Object.freeze([...deps]),
    group,
    tags: Object.freeze([...(spec.tags ?? [])]),
    description: spec.description ?? "",
    partitions: spec.partitions,
    dependsOnPast: spec.dependsOnPast ?? false,
    alwaysRun: spec.alwaysRun ?? false,
    retry,
    codeVersion: spec.codeVersion ?? null,
    resources: Object.freeze(resources),
    checks: Object.freeze(checks),
    // Descriptors, not values: a getter (SQL compiled on demand) stays lazy.
    metadata: Object.freeze(
      Object.defineProperties({}, Object.getOwnPropertyDescriptors(spec.metadata ?? {})),
    ),
    automation: spec.automation,
    freshness: spec.freshness,
    ...(spec.preload ? { preload: spec.preload } : {}),
    materialize: spec.materialize.bind(spec),
  });
}

/**
 * Builds a check definition for `assetKey`; used for checks declared in an
 * asset spec and for checks defined apart (e.g. dbt tests).
 */
export function buildCheck<R>(
  assetKey: string,
  spec: CheckSpec<R>,
  resources: readonly string[],
): CheckDefinition {
  if (!NAME.test(spec.name)) {
    throw new InvalidDefinitionError(
      "definition.invalid_check",
      `Check '${spec.name}' on '${assetKey}': the name must be a simple name`,
      { assetKey },
    );
  }
  return Object.freeze({
    assetKey,
    name: spec.name,
    description: spec.description ?? "",
    severity: spec.severity ?? "error",
    blocking: spec.blocking ?? false,
    resources: Object.freeze([...resources]),
    run: spec.run.bind(spec) as CheckDefinition["run"],
  });
}

/** Options of {@linkcode defineCheck}. */
export interface DefineCheckSpec<R, K extends keyof R> extends CheckSpec<Pick<R, K>> {
  /** Key of the asset the check is about. */
  readonly asset: string;
  /** Resource keys the check uses. */
  readonly resources?: readonly K[];
}

/**
 * Returns a `check()` function typed by the application's resources, for checks
 * defined apart from their asset (e.g. generated from dbt tests).
 */
export function checkFactory<R extends object>() {
  return <const K extends keyof R & string = never>(spec: DefineCheckSpec<R, K>): CheckDefinition =>
    buildCheck(validateAssetKey(spec.asset), spec as unknown as CheckSpec<unknown>, [
      ...(spec.resources ?? []),
    ]);
}
