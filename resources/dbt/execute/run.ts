/**
 * Building nodes and recording their results: {@linkcode executeNode} and
 * {@linkcode executeTest} are the one place that builds (or tests) and
 * records a run_results entry, used by the asset layer (one asset per node)
 * and by {@linkcode runProject}, the `dbt build` invocation of the CLI.
 *
 * `runProject` schedules like dbt: a node runs once every parent is done; a
 * test runs only when every node it reads is built (or was not selected and
 * so already exists), and is skipped when one of them failed; a failing
 * error-severity test skips the children of the nodes it tests; unit tests
 * run before their model and skip it when they fail. Up to `threads` run at
 * once. It is its own small scheduler rather than the asset executor
 * because dbt's rules (tests as nodes with several parents, fail-fast,
 * unit tests before models) are not the asset graph's.
 *
 * @module
 */

import { commentNode, withQueryComment } from "./query_comment.ts";
import { type Clock, systemClock } from "../../../core/clock.ts";
import type { Warehouse } from "../../warehouse/types.ts";
import { type RunResultEntry, runResultEntry, RunResultsWriter } from "../artifacts.ts";
import type {
  BatchWindow,
  DbtProject,
  ModelNode,
  ProjectHook,
  TestNode,
  UnitTestNode,
} from "../nodes.ts";
import {
  BatchesFailedError,
  buildModel,
  type BuildModelResult,
  queryRunner,
} from "./materialize.ts";
import { renderHookText } from "./hooks.ts";
import { runTest, runUnitTest, type TestOutcome } from "./tests.ts";
import { toError } from "../../../core/errors.ts";

/** Options of {@linkcode executeNode}. */
export interface ExecuteOptions {
  /** Rebuild incremental models (`--full-refresh`). */
  readonly fullRefresh?: boolean | undefined;
  /** `--store-failures`: tests whose config does not say store their failing rows. */
  readonly storeFailures?: boolean | undefined;
  /**
   * `--warn-error` (or `--warn-error-options` including `LogTestResult`): a
   * data test that would warn fails instead, as dbt promotes it.
   */
  readonly warnError?: boolean | undefined;
  /**
   * Where time is read.
   * @default {the system clock}
   */
  readonly clock?: Pick<Clock, "now"> | undefined;
  /** Records the result (e.g. into the invocation's run_results.json). */
  readonly record?: ((entry: RunResultEntry) => Promise<unknown>) | undefined;
  /** Thread name recorded. */
  readonly threadId?: string | undefined;
  /** Where the node's `log()` / `print()` go while it builds (see BuildModelOptions.onLog). */
  readonly onLog?: ((message: string) => void) | undefined;
  /** Which batches microbatch models build (`--event-time-start/-end`, `dbt retry`). */
  readonly microbatch?: MicrobatchRunOptions | undefined;
  /**
   * Run at most this many at once (`--threads`): nodes of a run, and the
   * batches of a microbatch model that may run concurrently.
   * @default {the target's threads}
   */
  readonly threads?: number | undefined;
}

/** How microbatch models pick their batches in one invocation. */
export interface MicrobatchRunOptions {
  /** `--event-time-start`, ms since the epoch (UTC). */
  readonly eventTimeStart?: number | undefined;
  /** `--event-time-end`. */
  readonly eventTimeEnd?: number | undefined;
  /**
   * The invocation's time, where batches end unless `eventTimeEnd` says
   * (one value for every model of the invocation, as dbt has).
   */
  readonly now?: number | undefined;
  /**
   * `dbt retry`: by unique id, the batches that failed last time (the only
   * ones built) and those that succeeded then (kept in batch_results).
   */
  readonly retry?: ReadonlyMap<string, RetryBatches> | undefined;
}

/** A microbatch model's batches from the previous run_results.json. */
export interface RetryBatches {
  /** Failed last time: rebuilt. */
  readonly failed: readonly BatchWindow[];
  /** Succeeded last time: reported again as successful. */
  readonly successful: readonly { readonly start: number; readonly end: number }[];
}

/** Builds one model, seed or snapshot and records its result; rethrows the build's error. */
export async function executeNode(
  warehouse: Warehouse,
  project: DbtProject,
  node: ModelNode,
  options: ExecuteOptions = {},
): Promise<BuildModelResult> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const retry = options.microbatch?.retry?.get(node.uniqueId);
  const batchesOf = (built: BuildModelResult) =>
    built.batches
      ? {
        batches: {
          successful: [...(retry?.successful ?? []), ...built.batches.successful]
            .sort((a, b) => a.start - b.start),
          failed: built.batches.failed.map((f) => f.batch),
        },
      }
      : {};
  try {
    const built = await buildModel(warehouse, project, node.name, {
      fullRefresh: options.fullRefresh ?? false,
      clock: { now: () => clock.now(), sleep: () => Promise.resolve() },
      onLog: options.onLog,
      eventTimeStart: options.microbatch?.eventTimeStart,
      eventTimeEnd: options.microbatch?.eventTimeEnd,
      now: options.microbatch?.now,
      batches: retry?.failed,
      threads: options.threads,
    });
    await options.record?.(runResultEntry({
      uniqueId: node.uniqueId,
      status: "success",
      startedAt,
      completedAt: clock.now(),
      message: built.message,
      compiledCode: built.compiledCode,
      relationName: node.config.materialized === "ephemeral" ? null : node.relation.relationName,
      rowsAffected: built.rowsAffected,
      ...(options.threadId ? { threadId: options.threadId } : {}),
      ...batchesOf(built),
    }));
    return built;
  } catch (error) {
    if (error instanceof BatchesFailedError) {
      const built = error.result;
      const some = (built.batches?.successful.length ?? 0) + (retry?.successful.length ?? 0) > 0;
      await options.record?.(runResultEntry({
        uniqueId: node.uniqueId,
        // As dbt 1.9: some batches in, some not.
        status: some ? "partial success" : "error",
        startedAt,
        completedAt: clock.now(),
        message: error.message,
        compiledCode: built.compiledCode,
        relationName: node.relation.relationName,
        rowsAffected: built.rowsAffected,
        ...(options.threadId ? { threadId: options.threadId } : {}),
        ...batchesOf(built),
      }));
      throw error;
    }
    await options.record?.(runResultEntry({
      uniqueId: node.uniqueId,
      status: "error",
      startedAt,
      completedAt: clock.now(),
      message: toError(error).message,
      compiledCode: compiledOrNull(node),
      relationName: node.config.materialized === "ephemeral" ? null : node.relation.relationName,
      ...(options.threadId ? { threadId: options.threadId } : {}),
    }));
    throw error;
  }
}

/** Runs one data or unit test and records its result. Never throws for a failing test. */
export async function executeTest(
  warehouse: Warehouse,
  test: TestNode | UnitTestNode,
  options: ExecuteOptions = {},
): Promise<TestOutcome> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const unit = "actualSql" in test;
  const outcome = unit
    ? await runUnitTest(warehouse, test, clock)
    : await runTest(warehouse, test, clock, options.storeFailures ?? false, options.warnError);
  await options.record?.(runResultEntry({
    uniqueId: test.uniqueId,
    status: outcome.status,
    startedAt,
    completedAt: clock.now(),
    message: outcome.message,
    failures: outcome.failures,
    compiledCode: unit ? test.actualSql : outcome.compiledCode ?? test.compiledCode,
    relationName: null,
    ...(options.threadId ? { threadId: options.threadId } : {}),
  }));
  return outcome;
}

/** A line of progress, like dbt's console output. */
export interface ProgressEvent {
  /** `start` or `done`. */
  readonly phase: "start" | "done";
  /** 1-based position and total. */
  readonly index: number;
  /** Number of items. */
  readonly total: number;
  /** `model`, `seed`, `snapshot`, `test`, `unit_test`, or `hook` (on-run-start/-end, named `<package>.on-run-start.<n>`). */
  readonly kind: string;
  /** Node name. */
  readonly name: string;
  /** Relation or description. */
  readonly what: string;
  /** On `done`: the status. */
  readonly status?: RunResultEntry["status"];
  /** On `done`: the message. */
  readonly message?: string | null;
  /** On `done`: seconds taken. */
  readonly seconds?: number;
}

/** Options of {@linkcode runProject}. */
export interface RunProjectOptions extends ExecuteOptions {
  /**
   * Unique ids to run (nodes, tests, unit tests).
   * @default {every node and test}
   */
  readonly select?: ReadonlySet<string> | undefined;
  /** Stop at the first failure (`--fail-fast`): the rest is skipped. */
  readonly failFast?: boolean | undefined;
  /**
   * Cancels the run (SIGTERM, Ctrl-C): what is running finishes (each node is
   * one statement or transaction, so the warehouse stays consistent), what
   * has not started is skipped, and the run counts as failed.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Write manifest.json and run_results.json.
   * @default {true}
   */
  readonly writeArtifacts?: boolean | undefined;
  /** Invocation id. */
  readonly invocationId?: string | undefined;
  /** Invocation arguments for run_results.json. */
  readonly args?: Record<string, unknown> | undefined;
  /** Told at the start and end of each item. */
  readonly onProgress?: ((event: ProgressEvent) => void) | undefined;
  /**
   * Run on-run-start / on-run-end hooks.
   * @default {true}
   */
  readonly hooks?: boolean | undefined;
}

/** What {@linkcode runProject} did. */
export interface RunProjectResult {
  /** One entry per node and test run or skipped. */
  readonly results: readonly RunResultEntry[];
  /** Whether no node errored and no error-severity test failed. */
  readonly success: boolean;
  /**
   * By unique id, the statements each model or snapshot built with executed
   * (dbt's target/run/ files).
   */
  readonly executed: ReadonlyMap<string, string>;
}

type Item =
  | { kind: "node"; id: string; node: ModelNode }
  | { kind: "test"; id: string; test: TestNode }
  | { kind: "unit"; id: string; test: UnitTestNode };

/** Runs the selected nodes and tests of `project` like `dbt build`. */
export async function runProject(
  project: DbtProject,
  warehouse: Warehouse,
  options: RunProjectOptions = {},
): Promise<RunProjectResult> {
  const clock = options.clock ?? systemClock;
  // Every microbatch model of the invocation ends its batches at the same instant, as in dbt.
  const microbatch = { ...options.microbatch, now: options.microbatch?.now ?? clock.now() };
  const writer = new RunResultsWriter(project, options.invocationId ?? crypto.randomUUID(), clock);
  if (options.args) writer.args = JSON.parse(JSON.stringify(options.args));
  const write = options.writeArtifacts ?? true;
  const results: RunResultEntry[] = [];
  const executed = new Map<string, string>();
  const selected = (id: string) => !options.select || options.select.has(id);
  const items = runItems(project, selected);
  const { waitsFor } = dependencies(project, items);
  const state = new Map<string, "ok" | "failed" | "skipped">();
  const blockedBy = new Map<string, string>(); // node id -> why its children skip
  const record = async (entry: RunResultEntry) => {
    // As dbt: a built ephemeral model was only inlined, so it is no result (not in
    // run_results.json, nor in PASS/TOTAL); a failed one stays, its error is the user's lead.
    const node = project.nodes.get(entry.unique_id);
    if (node && isEphemeral(node) && entry.status === "success") return;
    results.push(entry);
    if (write) await writer.record(entry, { defer: true });
  };
  if (write) await writer.writeManifest();
  const query = queryRunner(warehouse);
  const hooksOn = options.hooks ?? true;
  // on-run-start/-end statements carry the query comment with `node` none, as in dbt.
  const hookWarehouse = hooksOn ? await withQueryComment(warehouse, project, null) : warehouse;
  // As dbt 1.9: each project hook is a result (thread "main"); after a failed one the rest of
  // its kind are skipped, and the nodes still run (dbt's skip_nodes_if_on_run_start_fails).
  const runHooks = async (kind: "on-run-start" | "on-run-end", hooks: readonly ProjectHook[]) => {
    // on-run-end's `results`, as dbt's: what ran, and of the hooks only those that failed.
    const before = results.filter((r) => r.thread_id !== "main" || r.status === "error");
    let failed = false;
    for (const [i, hook] of hooks.entries()) {
      const name = `${hook.packageName}.${kind}.${String(i)}`;
      const startedAt = clock.now();
      // dbt's LogHookStartLine / LogHookEndLine: `i of n START hook: <name>`, then its outcome.
      const progress = (phase: "start" | "done", status?: RunResultEntry["status"]) =>
        options.onProgress?.({
          phase,
          index: i + 1,
          total: hooks.length,
          kind: "hook",
          name,
          what: name,
          ...(status ? { status, seconds: (clock.now() - startedAt) / 1000 } : {}),
        });
      const entry = (status: RunResultEntry["status"], message: string, sql: string | null) => {
        progress("done", status);
        return record(runResultEntry({
          uniqueId: `operation.${hook.packageName}.${hook.packageName}-${kind}-${hook.index}`,
          status,
          startedAt,
          completedAt: clock.now(),
          message,
          failures: status === "success" ? 0 : 1,
          compiledCode: sql,
          relationName: null,
          threadId: "main",
        }));
      };
      if (failed) {
        await entry("skipped", `${name} skipped`, null);
        continue;
      }
      let sql: string | null = null;
      try {
        sql = await renderHookText(project, hook.sql, {
          file: "dbt_project.yml",
          packageName: hook.packageName,
          query,
          ...(kind === "on-run-end" ? { results: before } : {}),
        });
        progress("start");
        await hookWarehouse.exec(sql);
        await entry("success", `${name} passed`, sql);
      } catch (error) {
        failed = true;
        await entry("error", `${name} failed, error:\n ${toError(error).message}`, sql);
      }
    }
  };
  if (hooksOn) await runHooks("on-run-start", project.onRunStart);
  // As dbt: an ephemeral model is never run on its own, so progress lines do not count it.
  const counted = (item: Item) => item.kind !== "node" || !isEphemeral(item.node);
  const total = items.filter(counted).length;
  let index = 0;
  let stop = false;
  const pending = new Set(items);
  const running = new Set<Promise<void>>();
  const threads = Math.max(1, options.threads ?? project.target.threads);
  const skip = async (item: Item, why: string) => {
    state.set(item.id, "skipped");
    pending.delete(item);
    const at = clock.now();
    await record(runResultEntry({
      uniqueId: item.id,
      status: "skipped",
      startedAt: at,
      completedAt: at,
      message: why,
      compiledCode: item.kind === "node"
        ? null // never compiled: a skipped node's Jinja is not rendered
        : item.kind === "test"
        ? item.test.compiledCode
        : item.test.actualSql,
      relationName: item.kind === "node" && item.node.config.materialized !== "ephemeral"
        ? item.node.relation.relationName
        : null,
    }));
  };
  const runItem = async (item: Item, position: number, threadId: string) => {
    const name = item.kind === "node" ? item.node.name : item.test.name;
    const kind = item.kind === "node"
      ? item.node.resourceType
      : item.kind === "unit"
      ? "unit_test"
      : "test";
    const what = item.kind === "node"
      ? `${item.node.config.materialized} ${item.node.relation}`
      : name;
    const report = counted(item) ? options.onProgress : undefined;
    report?.({ phase: "start", index: position, total, kind, name, what });
    const started = clock.now();
    let failed = false;
    if (item.kind === "node") {
      try {
        const built = await executeNode(warehouse, project, item.node, {
          ...options,
          clock,
          record,
          threadId,
          microbatch,
        });
        if (built.executedSql !== undefined) executed.set(item.id, built.executedSql);
      } catch (error) {
        const sql = error instanceof BatchesFailedError ? error.result.executedSql : undefined;
        if (sql !== undefined) executed.set(item.id, sql);
        failed = true;
        blockedBy.set(item.id, "failed");
      }
    } else {
      const outcome = await executeTest(
        await withQueryComment(warehouse, project, commentNode(item.test)),
        item.test,
        {
          clock,
          record,
          threadId,
          storeFailures: options.storeFailures,
          warnError: options.warnError,
        },
      );
      // A warn-severity test fails only when --warn-error promoted its warning.
      const severe = item.kind === "unit" || item.test.severity === "error" ||
        options.warnError === true;
      failed = outcome.status === "error" || (outcome.status === "fail" && severe);
      if (failed && item.kind === "test") {
        for (const parent of item.test.dependsOn) blockedBy.set(parent, `failed test ${name}`);
      }
      if (failed && item.kind === "unit") blockedBy.set(item.id, `failed unit test ${name}`);
    }
    state.set(item.id, failed ? "failed" : "ok");
    if (failed && options.failFast) stop = true;
    const entry = results.findLast((e) => e.unique_id === item.id);
    report?.({
      phase: "done",
      index: position,
      total,
      kind,
      name,
      what,
      ...(entry ? { status: entry.status, message: entry.message } : {}),
      seconds: (clock.now() - started) / 1000,
    });
  };
  let thread = 0;
  while (pending.size > 0) {
    let progressed = false;
    for (const item of [...pending]) {
      if (running.size >= threads) break;
      if (stop) {
        await skip(item, "skipped: --fail-fast stopped the run after a failure");
        progressed = true;
        continue;
      }
      if (options.signal?.aborted) {
        await skip(item, "skipped: the run was canceled before it started");
        progressed = true;
        continue;
      }
      const waits = waitsFor(item);
      if (waits.some((w) => !state.has(w))) continue;
      // A failed test blocks the nodes downstream of what it tests, never its sibling tests.
      const bad = waits.find((w) =>
        state.get(w) !== "ok" || (item.kind === "node" && blockedBy.has(w))
      );
      if (bad !== undefined) {
        const why = blockedBy.get(bad) ?? (state.get(bad) === "skipped" ? "was skipped" : "failed");
        await skip(item, `skipped: upstream ${bad} ${why}`);
        if (item.kind === "node") blockedBy.set(item.id, "was skipped");
        progressed = true;
        continue;
      }
      pending.delete(item);
      if (counted(item)) index++;
      const task = runItem(item, index, `Thread-${(thread++ % threads) + 1}`).finally(() =>
        running.delete(task)
      );
      running.add(task);
      progressed = true;
    }
    if (running.size > 0) await Promise.race(running);
    else if (!progressed) {
      // Nothing can start and nothing runs: a dependency outside the selection never resolves.
      for (const item of [...pending]) await skip(item, "skipped: a dependency could not run");
    }
  }
  await Promise.all(running);
  // dbt runs on-run-end whatever happened, with the invocation's results.
  if (hooksOn) await runHooks("on-run-end", project.onRunEnd);
  if (write) await Promise.all([writer.rewriteManifest(), writer.flush()]);
  // As dbt (since 1.9.1): a microbatch model with failed batches fails the invocation.
  const success = !options.signal?.aborted &&
    !results.some((r) =>
      r.status === "error" || r.status === "fail" || r.status === "partial success"
    );
  return { results, success, executed };
}

function isEphemeral(node: ModelNode): boolean {
  return node.resourceType === "model" && node.config.materialized === "ephemeral";
}

/** A node's compiled SQL, or null when compiling it is what failed. */
function compiledOrNull(node: ModelNode): string | null {
  try {
    return node.compiledCode;
  } catch {
    return null; // the render error is the node's error, reported with its result
  }
}

/** The items of a run: unit tests, nodes, then tests, as selected. */
function runItems(project: DbtProject, selected: (id: string) => boolean): Item[] {
  return [
    ...project.unitTests.filter((u) => selected(u.uniqueId)).map((test) => ({
      kind: "unit" as const,
      id: test.uniqueId,
      test,
    })),
    ...[...project.nodes.values()].filter((n) => selected(n.uniqueId)).map((node) => ({
      kind: "node" as const,
      id: node.uniqueId,
      node,
    })),
    ...project.tests.filter((t) => selected(t.uniqueId)).map((test) => ({
      kind: "test" as const,
      id: test.uniqueId,
      test,
    })),
  ];
}

/**
 * What each item waits for in `dbt build`: its parents in the run (a source
 * whose relation is a seed's waits for that seed; a unit test for its
 * model's parents; a node for its unit tests), and for a node also the
 * error-severity tests of its parents, except a test that reads the node's
 * own descendants.
 */
function dependencies(
  project: DbtProject,
  items: readonly Item[],
): { waitsFor: (item: Item) => string[] } {
  const inRun = new Set(items.map((i) => i.id));
  const byId = new Map(items.map((i) => [i.id, i]));
  // Parents of each item that run in this invocation.
  // A source that is a seed's relation (seeds loading raw data) waits for that seed.
  const seedOfRelation = new Map<string, string>();
  for (const item of items) {
    if (item.kind === "node" && item.node.resourceType === "seed") {
      seedOfRelation.set(item.node.relation.toString(), item.id);
    }
  }
  const withSeeds = (deps: readonly string[]): string[] =>
    deps.flatMap((d) => {
      const source = project.sources.get(d);
      const seed = source ? seedOfRelation.get(source.relation.toString()) : undefined;
      return seed ? [d, seed] : [d];
    });
  const parentsOf = (item: Item): string[] => {
    if (item.kind === "unit") {
      // A unit test runs once its model's parents exist: its inputs take their columns.
      return withSeeds(project.models.get(item.test.model)?.dependsOn ?? []).filter((d) =>
        inRun.has(d)
      );
    }
    const deps = withSeeds(item.kind === "node" ? item.node.dependsOn : item.test.dependsOn);
    const units = item.kind === "node"
      ? project.unitTests.filter((u) => u.model === item.node.name).map((u) => u.uniqueId)
      : [];
    return [...deps, ...units].filter((d) => inRun.has(d));
  };
  // Tests that must pass before a node's children run (dbt build).
  const testsOf = new Map<string, string[]>();
  for (const item of items) {
    if (item.kind !== "test" || item.test.severity !== "error") continue;
    for (const parent of item.test.dependsOn) {
      if (inRun.has(parent)) testsOf.set(parent, [...(testsOf.get(parent) ?? []), item.id]);
    }
  }
  // Upstream closure of each node, so a test that reads a node's own descendants never gates it.
  const ancestors = new Map<string, Set<string>>();
  for (const node of project.nodes.values()) {
    const set = new Set<string>();
    for (const parent of node.dependsOn) {
      set.add(parent);
      for (const a of ancestors.get(parent) ?? []) set.add(a);
    }
    ancestors.set(node.uniqueId, set);
  }
  const readsDescendantOf = (test: TestNode, id: string) =>
    test.dependsOn.some((p) => p === id || ancestors.get(p)?.has(id));
  const waitsFor = (item: Item): string[] => {
    const parents = parentsOf(item);
    if (item.kind !== "node") return parents;
    // A node also waits for the blocking tests of its parents (dbt build).
    return [
      ...parents,
      ...parents.flatMap((p) => testsOf.get(p) ?? []).filter((t) => {
        const test = byId.get(t);
        return test?.kind === "test" && !readsDescendantOf(test.test, item.id);
      }),
    ];
  };
  return { waitsFor };
}
