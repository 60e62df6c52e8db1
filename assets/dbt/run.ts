/**
 * Runs a compiled project without the asset graph (like `dbt build`): models
 * in dependency order, each followed by its tests. A model that fails, or
 * whose error-severity test fails, skips its dependents; the rest go on.
 * Used by the benchmark and handy in scripts; the platform itself runs dbt
 * through the assets of `assets.ts`.
 *
 * @module
 */

import type { Warehouse } from "../../resources/warehouse/mod.ts";
import { type RunResultEntry, runResultEntry, RunResultsWriter } from "./artifacts.ts";
import type { DbtProject } from "./compile.ts";
import { buildModel } from "./materialize.ts";
import { runTest } from "./tests.ts";

/** Options of {@linkcode runProject}. */
export interface RunProjectOptions {
  /**
   * Rebuild incremental models from scratch.
   * @default {false}
   */
  readonly fullRefresh?: boolean;
  /**
   * Model names to build (their tests run too).
   * @default {every model}
   */
  readonly select?: readonly string[];
  /**
   * Run the tests after each model.
   * @default {true}
   */
  readonly tests?: boolean;
  /**
   * Write manifest.json and run_results.json to the project's target/.
   * @default {true}
   */
  readonly writeArtifacts?: boolean;
  /**
   * Invocation id recorded in the artifacts.
   * @default {crypto.randomUUID()}
   */
  readonly invocationId?: string;
}

/** What {@linkcode runProject} did. */
export interface RunProjectResult {
  /** One entry per model and test, as in run_results.json. */
  readonly results: readonly RunResultEntry[];
  /** Whether every model succeeded and no error-severity test failed. */
  readonly success: boolean;
}

/** Builds the selected models of `project` in `warehouse` and runs their tests. */
export async function runProject(
  project: DbtProject,
  warehouse: Warehouse,
  options: RunProjectOptions = {},
): Promise<RunProjectResult> {
  const writer = new RunResultsWriter(project, options.invocationId ?? crypto.randomUUID());
  const write = options.writeArtifacts ?? true;
  const results: RunResultEntry[] = [];
  const record = async (entry: RunResultEntry) => {
    results.push(entry);
    if (write) await writer.record(entry, { defer: true }); // one write at the end
  };
  if (write) await writer.writeManifest();
  const selected = options.select ? new Set(options.select) : undefined;
  const blocked = new Map<string, string>(); // model unique id -> why
  for (const model of project.models.values()) {
    if (selected && !selected.has(model.name)) continue;
    const tests = project.tests.filter((t) => t.attachedTo === model.uniqueId);
    const parent = model.dependsOn.find((id) => blocked.has(id));
    const startedAt = Date.now();
    if (parent !== undefined) {
      const why = `skipped: upstream ${parent} ${blocked.get(parent)}`;
      blocked.set(model.uniqueId, "was skipped");
      await record(runResultEntry({
        uniqueId: model.uniqueId,
        status: "skipped",
        startedAt,
        completedAt: startedAt,
        message: why,
        compiledCode: model.compiledCode,
        relationName: model.relation.toString(),
      }));
      for (const test of tests) {
        await record(runResultEntry({
          uniqueId: test.uniqueId,
          status: "skipped",
          startedAt,
          completedAt: startedAt,
          message: why,
          compiledCode: test.compiledCode,
          relationName: null,
        }));
      }
      continue;
    }
    try {
      const built = await buildModel(warehouse, project, model.name, {
        fullRefresh: options.fullRefresh ?? false,
      });
      await record(runResultEntry({
        uniqueId: model.uniqueId,
        status: "success",
        startedAt,
        completedAt: Date.now(),
        message: built.message,
        compiledCode: built.compiledCode,
        relationName: model.config.materialized === "ephemeral" ? null : built.relation,
        rowsAffected: built.rowsAffected,
      }));
    } catch (error) {
      blocked.set(model.uniqueId, "failed");
      await record(runResultEntry({
        uniqueId: model.uniqueId,
        status: "error",
        startedAt,
        completedAt: Date.now(),
        message: error instanceof Error ? error.message : String(error),
        compiledCode: model.compiledCode,
        relationName: model.relation.toString(),
      }));
      continue;
    }
    if (options.tests === false) continue;
    for (const test of tests) {
      const testStarted = Date.now();
      const outcome = await runTest(warehouse, test);
      if ((outcome.status === "fail" || outcome.status === "error") && test.severity === "error") {
        blocked.set(model.uniqueId, `failed test ${test.name}`);
      }
      await record(runResultEntry({
        uniqueId: test.uniqueId,
        status: outcome.status,
        startedAt: testStarted,
        completedAt: Date.now(),
        message: outcome.message,
        failures: outcome.failures,
        compiledCode: test.compiledCode,
        relationName: null,
      }));
    }
  }
  if (write) await writer.flush();
  const success = results.every((r) =>
    r.status === "success" || r.status === "pass" || r.status === "warn"
  );
  return { results, success };
}
