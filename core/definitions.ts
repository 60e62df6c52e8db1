/**
 * Building a graph: every asset, check, sensor, schedule and resource of a
 * project, indexed (`graph.ts`) and then validated at once, naming what is
 * wrong. It sits above `graph.ts` and `selection.ts`, which it uses.
 *
 * @module
 */

import { type AssetDefinition, buildCheck, type CheckDefinition } from "./asset.ts";
import type { ResourceSources } from "./resource.ts";
import type { ScheduleDefinition } from "./schedule.ts";
import type { SensorDefinition } from "./sensor.ts";
import { type Graph, GraphDefinitionError, indexAssets, topologicalOrder } from "./graph.ts";
import { nearest } from "./suggest.ts";
import { automationProblems } from "./_check_automation.ts";
import { FRESHNESS_CHECK, freshnessCheckDefinition } from "./automation/freshness_check.ts";

/** What {@linkcode defineGraph} takes. */
export interface GraphSpec<R> {
  /** Every asset. */
  readonly assets: readonly AssetDefinition[];
  /** Checks defined apart from their assets (e.g. dbt tests). */
  readonly checks?: readonly CheckDefinition[];
  /** Resources by key: values or factories. */
  readonly resources?: ResourceSources<R>;
  /** Sensors the daemon evaluates (`deno task sensor`). */
  readonly sensors?: readonly SensorDefinition[];
  /** Schedules the daemon evaluates. */
  readonly schedules?: readonly ScheduleDefinition[];
}

/**
 * Validates and indexes a graph. Fails at once, naming the assets involved, on
 * a duplicate key, an unknown dependency, a cycle (printed), a check on an
 * unknown asset, a resource an asset, check or sensor declares but the graph
 * does not give, two sensors or schedules with one name, or a schedule whose
 * selection does not resolve.
 *
 * @example
 * ```ts
 * import { defineAsset } from "./asset.ts";
 * import { defineGraph } from "./definitions.ts";
 * const a = defineAsset({ key: "a", materialize: () => {} });
 * const b = defineAsset({ key: "b", deps: ["a"], materialize: () => {} });
 * const graph = defineGraph({ assets: [a, b] });
 * graph.order; // ["a", "b"]
 * ```
 */
export function defineGraph<R>(spec: GraphSpec<R>): Graph<R> {
  const assets = indexAssets(spec.assets);
  const resources = spec.resources ?? ({} as ResourceSources<R>);
  const sensors = Object.freeze([...(spec.sensors ?? [])]);
  const schedules = Object.freeze([...(spec.schedules ?? [])]);
  checkDependencies(assets);
  checkCheckTargets(assets, spec.checks ?? []);
  const order = topologicalOrder(assets);
  const downstream = new Map<string, string[]>([...assets.keys()].map((key) => [key, []]));
  for (const asset of assets.values()) {
    for (const dep of asset.deps) downstream.get(dep)?.push(asset.key);
  }
  const checks = indexChecks(assets, spec.checks ?? []);
  const graph: Graph<R> = Object.freeze({
    assets,
    order,
    resources,
    upstream: (key: string) => assets.get(key)?.deps ?? [],
    downstream: (key: string) => downstream.get(key) ?? [],
    checksFor: (key: string) => checks.get(key) ?? [],
    sensors,
    schedules,
  });
  const problems = [
    ...resourceProblems(resourceUsers(assets, spec.checks ?? [], sensors), Object.keys(resources))
      .map((message) => ({ code: "graph.undeclared_resource", message })),
    ...automationProblems(graph as Graph<unknown>),
  ];
  if (problems[0]) {
    throw new GraphDefinitionError(problems[0].code, problems.map((p) => p.message));
  }
  return graph;
}

/** Something in a graph that declares resources, named for messages. */
interface ResourceUser {
  /** `asset 'a'`, `check 'c' on 'a'`, `sensor 's'`. */
  readonly who: string;
  /** The resource keys it declares. */
  readonly resources: readonly string[];
}

function resourceUsers(
  assets: ReadonlyMap<string, AssetDefinition>,
  checks: readonly CheckDefinition[],
  sensors: readonly SensorDefinition[],
): ResourceUser[] {
  return [
    ...[...assets.values()].flatMap((asset) => [
      { who: `asset '${asset.key}'`, resources: asset.resources },
      ...asset.checks.map((c) => ({
        who: `check '${c.name}' on '${asset.key}'`,
        resources: c.resources,
      })),
    ]),
    ...checks.map((c) => ({ who: `check '${c.name}' on '${c.assetKey}'`, resources: c.resources })),
    ...sensors.map((s) => ({ who: `sensor '${s.name}'`, resources: s.resources })),
  ];
}

/**
 * One sentence for each resource a user declares that `provided` lacks, e.g.
 * `asset 'loader' uses resource 'warehouse', but the graph gives 'lake'`.
 */
function resourceProblems(users: readonly ResourceUser[], provided: readonly string[]): string[] {
  const available = new Set(provided);
  const given = provided.length
    ? `the graph gives ${provided.map((k) => `'${k}'`).join(", ")}`
    : "the graph gives none";
  return users.flatMap(({ who, resources }) =>
    resources.filter((key) => !available.has(key)).map((key) =>
      `${who} uses resource '${key}', but ${given}`
    )
  );
}

function checkDependencies(assets: ReadonlyMap<string, AssetDefinition>): void {
  const problems: string[] = [];
  for (const asset of assets.values()) {
    for (const dep of asset.deps) {
      if (!assets.has(dep)) {
        problems.push(
          `asset '${asset.key}' depends on '${dep}', which is not defined${
            nearest(dep, assets.keys())
          }`,
        );
      }
    }
  }
  if (problems.length > 0) throw new GraphDefinitionError("graph.unknown_dependency", problems);
}

function checkCheckTargets(
  assets: ReadonlyMap<string, AssetDefinition>,
  checks: readonly CheckDefinition[],
): void {
  const problems = checks.filter((check) => !assets.has(check.assetKey)).map((check) =>
    `check '${check.name}' is on asset '${check.assetKey}', which is not defined${
      nearest(check.assetKey, assets.keys())
    }`
  );
  if (problems.length > 0) throw new GraphDefinitionError("graph.unknown_asset", problems);
}

function indexChecks(
  assets: ReadonlyMap<string, AssetDefinition>,
  extra: readonly CheckDefinition[],
): Map<string, CheckDefinition[]> {
  const byAsset = new Map<string, CheckDefinition[]>();
  for (const asset of assets.values()) byAsset.set(asset.key, [...asset.checks]);
  for (const check of extra) {
    const list = byAsset.get(check.assetKey) ?? [];
    if (list.some((c) => c.name === check.name)) {
      throw new GraphDefinitionError("graph.duplicate_check", [
        `asset '${check.assetKey}' has two checks named '${check.name}'`,
      ]);
    }
    list.push(buildCheck(check.assetKey, check, check.resources));
  }
  // A freshness policy is a check too (evaluated after each materialization
  // and, between them, by the daemon): the check history shows it.
  for (const asset of assets.values()) {
    if (!asset.freshness) continue;
    const list = byAsset.get(asset.key) ?? [];
    if (list.some((c) => c.name === FRESHNESS_CHECK)) {
      throw new GraphDefinitionError("graph.duplicate_check", [
        `asset '${asset.key}' has a freshness policy and a check named '${FRESHNESS_CHECK}': ` +
        `rename the check (the policy is the '${FRESHNESS_CHECK}' check)`,
      ]);
    }
    list.push(freshnessCheckDefinition(asset.key, asset.freshness));
  }
  return byAsset;
}
