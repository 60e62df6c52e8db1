/**
 * Automation conditions: when an asset (or one partition of it) should be
 * materialized, declared on the asset and composed like Dagster's
 * `AutomationCondition` — presets ({@linkcode eager}, {@linkcode onCron},
 * {@linkcode onMissing}), building blocks ({@linkcode missing},
 * {@linkcode anyDepsUpdated}, {@linkcode inProgress}, ...) and operators
 * ({@linkcode and}, {@linkcode or}, {@linkcode not}, `.since()`).
 *
 * A condition is frozen data: the daemon's evaluator (`evaluate.ts`) gives it
 * meaning. Every node answers, for one partition, whether it is true now and
 * the time it last became true (its `at`, `-Infinity` for never). Event-like
 * blocks (`newlyUpdated`, `newlyRequested`, `anyDepsUpdated`,
 * `cronTickPassed`) carry the time of their latest occurrence, so
 * `a.since(b)` ("a happened after b last did") is read from the run store's
 * history, not from a memory kept by one daemon: two daemons, or one
 * restarted after a crash, reach the same answer.
 *
 * @example
 * ```ts
 * import { and, eager, inLatestTimeWindow, not, onCron, or } from "./condition.ts";
 * const marts = eager();
 * const nightly = onCron("0 6 * * *");
 * const custom = or(eager(), onCron("0 0 * * 1")).and(not(inLatestTimeWindow()));
 * custom.describe(); // "(eager or on_cron(0 0 * * 1)) and not in_latest_time_window"
 * ```
 *
 * @module
 */

import { Cron } from "croner";
import { InvalidDefinitionError, toError } from "../errors.ts";

/** A building block: a fact about one partition, read from the run store. */
export type LeafNode =
  | { readonly kind: "missing" }
  | { readonly kind: "newly_updated" }
  | { readonly kind: "newly_requested" }
  | { readonly kind: "in_progress" }
  | { readonly kind: "execution_failed" }
  | { readonly kind: "code_version_changed" }
  | { readonly kind: "initial_evaluation" }
  | { readonly kind: "in_latest_time_window"; readonly lookbackDays: number }
  | { readonly kind: "cron_tick_passed"; readonly cron: string; readonly timezone: string }
  | { readonly kind: "any_deps_updated" }
  | { readonly kind: "any_deps_missing" }
  | { readonly kind: "any_deps_in_progress" }
  | {
    readonly kind: "all_deps_updated_since_cron";
    readonly cron: string;
    readonly timezone: string;
  };

/** An operator over conditions. */
export type OperatorNode =
  | { readonly kind: "and"; readonly children: readonly AutomationCondition[] }
  | { readonly kind: "or"; readonly children: readonly AutomationCondition[] }
  | { readonly kind: "not"; readonly children: readonly [AutomationCondition] }
  | {
    readonly kind: "since";
    readonly children: readonly [trigger: AutomationCondition, reset: AutomationCondition];
  };

/** Any node of a condition tree. */
export type ConditionNode = LeafNode | OperatorNode;

/** Kinds of nodes. */
export type ConditionKind = ConditionNode["kind"];

/** A condition tree as plain data, for records and the UI. */
export interface ConditionDescription {
  /** Node kind. */
  readonly kind: ConditionKind;
  /** Label: the preset's name, or the kind with its arguments. */
  readonly label: string;
  /** Children (operators only). */
  readonly children: readonly ConditionDescription[];
}

/**
 * A composable automation condition. Build one with the functions of this
 * module; combine with `.and()`, `.or()`, `.since()`; name it with
 * `.withLabel()`.
 */
export class AutomationCondition {
  /** The node. */
  readonly node: ConditionNode;
  /** Name shown in evaluations (presets have theirs), or `undefined`. */
  readonly label: string | undefined;

  /** Use the builder functions ({@linkcode eager}, {@linkcode and}, ...). */
  constructor(node: ConditionNode, label?: string) {
    this.node = node;
    this.label = label;
    Object.freeze(this);
  }

  /** True when this and every one of `others` are. */
  and(...others: readonly AutomationCondition[]): AutomationCondition {
    return and(this, ...others);
  }

  /** True when this or any one of `others` is. */
  or(...others: readonly AutomationCondition[]): AutomationCondition {
    return or(this, ...others);
  }

  /**
   * True when this condition last became true after `reset` last did, e.g.
   * `anyDepsUpdated().since(newlyRequested())`: an upstream changed after
   * the last request of this partition.
   */
  since(reset: AutomationCondition): AutomationCondition {
    return new AutomationCondition({ kind: "since", children: [this, reset] });
  }

  /** The same condition, shown under `label` in evaluations. */
  withLabel(label: string): AutomationCondition {
    if (typeof label !== "string" || label.trim() === "") {
      throw new TypeError("Cannot label an automation condition with an empty string");
    }
    return new AutomationCondition(this.node, label);
  }

  /**
   * This condition without the sub-conditions equal to `removed` (compared by
   * description), e.g. `eager().without(not(anyDepsMissing()))`.
   */
  without(removed: AutomationCondition): AutomationCondition {
    const target = removed.describe();
    if (this.node.kind !== "and" && this.node.kind !== "or") {
      throw new TypeError(`Cannot remove '${target}' from '${this.describe()}': not an and/or`);
    }
    const kept = this.node.children.filter((child) => child.describe() !== target);
    if (kept.length === this.node.children.length) {
      throw new TypeError(
        `Cannot remove '${target}' from '${this.describe()}': not one of its parts`,
      );
    }
    return new AutomationCondition({ kind: this.node.kind, children: kept }, this.label);
  }

  /** The label, or the kind with its arguments. */
  get name(): string {
    return this.label ?? nodeName(this.node);
  }

  /** The condition as one line, e.g. `eager or on_cron(0 6 * * *)`. */
  describe(): string {
    if (this.label !== undefined) return this.label;
    const n = this.node;
    switch (n.kind) {
      case "and":
      case "or":
        return n.children.map((c) => wrap(c, n.kind)).join(` ${n.kind} `);
      case "not":
        return `not ${wrap(n.children[0], "not")}`;
      case "since":
        return `${wrap(n.children[0], "since")} since ${wrap(n.children[1], "since")}`;
      default:
        return nodeName(n);
    }
  }

  /** The tree as plain data (children of labelled presets included). */
  toDescription(): ConditionDescription {
    return {
      kind: this.node.kind,
      label: this.name,
      children: children(this.node).map((c) => c.toDescription()),
    };
  }
}

function wrap(c: AutomationCondition, parent: string): string {
  const kind = c.node.kind;
  const compound = c.label === undefined &&
    (kind === "and" || kind === "or" || kind === "since") && kind !== parent;
  return compound ? `(${c.describe()})` : c.describe();
}

/** Children of a node, in order (none for leaves). */
export function children(node: ConditionNode): readonly AutomationCondition[] {
  return "children" in node ? node.children : [];
}

function nodeName(node: ConditionNode): string {
  switch (node.kind) {
    case "in_latest_time_window":
      return node.lookbackDays === 0
        ? "in_latest_time_window"
        : `in_latest_time_window(${node.lookbackDays}d)`;
    case "cron_tick_passed":
    case "all_deps_updated_since_cron":
      return `${node.kind}(${node.cron}${node.timezone === "UTC" ? "" : ` ${node.timezone}`})`;
    default:
      return node.kind;
  }
}

const leaf = (node: LeafNode) => new AutomationCondition(node);

/** The partition was never materialized; true since it came to exist. */
export const missing = (): AutomationCondition => leaf({ kind: "missing" });
/** The partition was materialized since the previous evaluation; `at` = its latest materialization. */
export const newlyUpdated = (): AutomationCondition => leaf({ kind: "newly_updated" });
/** A run planning the partition started since the previous evaluation; `at` = the latest such run's start. */
export const newlyRequested = (): AutomationCondition => leaf({ kind: "newly_requested" });
/**
 * A run that plans the partition is running (until the run ends, even when
 * the partition's own step is done: the rest of its chain is still running).
 */
export const inProgress = (): AutomationCondition => leaf({ kind: "in_progress" });
/** The partition's latest step failed (and nothing materialized it since). */
export const executionFailed = (): AutomationCondition => leaf({ kind: "execution_failed" });
/**
 * The partition's latest materialization was made by another code version
 * than the asset's; `at` = the time the evaluator loaded the code.
 */
export const codeVersionChanged = (): AutomationCondition => leaf({ kind: "code_version_changed" });

/**
 * True in the automation's very first evaluation; `at` = the time of that
 * evaluation, so `x.since(initialEvaluation())` ignores what happened before
 * automation was first switched on (no storm of runs for old changes).
 */
export const initialEvaluation = (): AutomationCondition => leaf({ kind: "initial_evaluation" });

/** Options of {@linkcode inLatestTimeWindow}. */
export interface TimeWindowOptions {
  /**
   * Also the partitions this many days before the latest.
   * @default {0}
   */
  readonly lookbackDays?: number;
}

/**
 * The partition is the latest daily partition (or within `lookbackDays` of
 * it); always true for unpartitioned, static and dynamic partitions.
 */
export function inLatestTimeWindow(options: TimeWindowOptions = {}): AutomationCondition {
  const lookbackDays = options.lookbackDays ?? 0;
  if (!Number.isSafeInteger(lookbackDays) || lookbackDays < 0) {
    throw new RangeError(
      `Cannot use inLatestTimeWindow with lookbackDays ${lookbackDays}: expected a whole number >= 0`,
    );
  }
  return leaf({ kind: "in_latest_time_window", lookbackDays });
}

/** Options of the cron conditions. */
export interface CronOptions {
  /**
   * IANA time zone the cron expression is read in.
   * @default {"UTC"}
   */
  readonly timezone?: string;
}

/** A tick of `cron` passed since the previous evaluation; `at` = the latest tick. */
export function cronTickPassed(cron: string, options: CronOptions = {}): AutomationCondition {
  const timezone = options.timezone ?? "UTC";
  parseCron(cron, timezone);
  return leaf({ kind: "cron_tick_passed", cron, timezone });
}

/**
 * An upstream partition this one depends on holds data newer than the data
 * this partition last consumed (or will be requested in this same
 * evaluation); `at` = the newest such change.
 */
export const anyDepsUpdated = (): AutomationCondition => leaf({ kind: "any_deps_updated" });
/**
 * An upstream partition this one depends on was never materialized and is
 * not requested in this evaluation. A partitioned upstream of an
 * unpartitioned asset counts as missing only when none of its partitions
 * was ever materialized.
 */
export const anyDepsMissing = (): AutomationCondition => leaf({ kind: "any_deps_missing" });
/** An upstream partition this one depends on is in progress (see {@linkcode inProgress}). */
export const anyDepsInProgress = (): AutomationCondition => leaf({ kind: "any_deps_in_progress" });

/** Every upstream changed (or is requested now) since the latest tick of `cron`. */
export function allDepsUpdatedSinceCron(
  cron: string,
  options: CronOptions = {},
): AutomationCondition {
  const timezone = options.timezone ?? "UTC";
  parseCron(cron, timezone);
  return leaf({ kind: "all_deps_updated_since_cron", cron, timezone });
}

/** True when every condition is. */
export function and(...conditions: readonly AutomationCondition[]): AutomationCondition {
  return operator("and", conditions);
}

/** True when any condition is. */
export function or(...conditions: readonly AutomationCondition[]): AutomationCondition {
  return operator("or", conditions);
}

/** True when `condition` is not. */
export function not(condition: AutomationCondition): AutomationCondition {
  assertCondition(condition, "not");
  return new AutomationCondition({ kind: "not", children: [condition] });
}

function operator(kind: "and" | "or", conditions: readonly AutomationCondition[]) {
  if (conditions.length === 0) throw new TypeError(`Cannot build '${kind}' of no conditions`);
  conditions.forEach((c) => assertCondition(c, kind));
  return new AutomationCondition({ kind, children: Object.freeze([...conditions]) });
}

function assertCondition(value: unknown, where: string): void {
  if (!(value instanceof AutomationCondition)) {
    // Deno.inspect: String() printed an uncalled factory's whole source and an object as
    // [object Object].
    throw new TypeError(
      `Cannot build '${where}': ${
        Deno.inspect(value, { depth: 1, colors: false })
      } is not an automation condition`,
    );
  }
}

/**
 * Materialize whenever an upstream holds newer data than this partition
 * consumed and it was not requested since, once no upstream is missing or in
 * progress and it is not in progress itself; daily partitions: the latest
 * only (or the last `lookbackDays` before it). Upstream changes from before
 * automation's first evaluation do not count (as in Dagster).
 */
export function eager(options: TimeWindowOptions = {}): AutomationCondition {
  return and(
    inLatestTimeWindow(options),
    anyDepsUpdated().since(or(newlyRequested(), initialEvaluation())),
    not(anyDepsMissing()),
    not(anyDepsInProgress()),
    not(inProgress()),
  ).withLabel(options.lookbackDays ? `eager(${options.lookbackDays}d)` : "eager");
}

/**
 * Materialize once per tick of `cron`, after every upstream has updated
 * since that tick; daily partitions: the latest only. A tick from before
 * automation's first evaluation does not count.
 */
export function onCron(cron: string, options: CronOptions = {}): AutomationCondition {
  return and(
    inLatestTimeWindow(),
    cronTickPassed(cron, options).since(or(newlyRequested(), newlyUpdated(), initialEvaluation())),
    allDepsUpdatedSinceCron(cron, options),
    not(inProgress()),
  ).withLabel(`on_cron(${cron})`);
}

/**
 * Materialize partitions that were never materialized (once: a failed
 * attempt is not repeated until something else requests it), when no
 * upstream is missing or in progress.
 */
export function onMissing(): AutomationCondition {
  return and(
    missing().since(newlyRequested()),
    not(anyDepsMissing()),
    not(anyDepsInProgress()),
    not(inProgress()),
  ).withLabel("on_missing");
}

/** Parses `cron` (five fields) in `timezone`; throws {@linkcode InvalidDefinitionError} on a bad one. */
export function parseCron(cron: string, timezone: string): Cron {
  if (typeof cron !== "string" || cron.trim().split(/\s+/).length !== 5) {
    throw new InvalidDefinitionError(
      "automation.invalid_cron",
      `Cannot use cron '${cron}' in an automation condition: expected five fields ` +
        "(minute hour day month weekday)",
    );
  }
  try {
    return new Cron(cron, { timezone, paused: true });
  } catch (error) {
    throw new InvalidDefinitionError(
      "automation.invalid_cron",
      `Cannot use cron '${cron}' (${timezone}) in an automation condition: ${
        toError(error).message
      }`,
    );
  }
}

/**
 * Reads the automation config a dbt model (or any metadata) may carry:
 * `eager`, `on_missing`, `on_cron:<cron>` (also `{ on_cron: "<cron>" }`).
 * Returns `undefined` for no config.
 *
 * @throws {InvalidDefinitionError} naming the value when it is not one of those.
 */
export function conditionFromConfig(
  value: unknown,
  where: string,
): AutomationCondition | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === "string" ? value.trim() : value;
  if (text === "eager") return eager();
  if (text === "on_missing") return onMissing();
  // A bad cron is named with where it was written.
  const cronOf = (cron: string) => {
    try {
      return onCron(cron);
    } catch (error) {
      throw new InvalidDefinitionError(
        "automation.invalid_config",
        `${where}: ${toError(error).message}`,
      );
    }
  };
  if (typeof text === "string" && text.startsWith("on_cron:")) {
    return cronOf(text.slice("on_cron:".length).trim());
  }
  if (typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    const [key, cron] = entries[0] ?? [];
    if (entries.length === 1 && key === "on_cron" && typeof cron === "string") return cronOf(cron);
  }
  throw new InvalidDefinitionError(
    "automation.invalid_config",
    `${where}: automation '${JSON.stringify(value)}' is not one of eager, on_missing, ` +
      "on_cron:<cron expression>",
  );
}
