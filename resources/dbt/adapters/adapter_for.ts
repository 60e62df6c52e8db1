/**
 * Picks the adapter of a warehouse, and refuses a project compiled for
 * another warehouse type.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import { duckdbAdapter } from "./duckdb.ts";
import { postgresAdapter } from "./postgres.ts";
import type { DbtAdapter } from "./types.ts";

const ADAPTERS: Readonly<Record<string, DbtAdapter>> = {
  postgres: postgresAdapter,
  duckdb: duckdbAdapter,
};

/**
 * The adapter for a warehouse dialect or profile type (`postgres`,
 * `duckdb`), or undefined for a type this runner cannot build on (such a
 * project still compiles: `dbt compile`, `ls`, docs).
 */
export function adapterFor(type: string): DbtAdapter | undefined {
  return ADAPTERS[type];
}

/**
 * The adapter of `warehouse`. With `project`, also checks that the project
 * was compiled for that warehouse type (its `duckdb__` or `postgres__`
 * macros chose the SQL): a mismatch throws `dbt.invalid_project` naming the
 * target to pick instead.
 */
export function adapterOf(
  warehouse: { readonly dialect: string; readonly location?: string },
  project?: { readonly target: { readonly type: string; readonly name: string } },
): DbtAdapter {
  const adapter = ADAPTERS[warehouse.dialect];
  if (!adapter) {
    throw new RangeError(`Cannot build dbt nodes on a '${warehouse.dialect}' warehouse`);
  }
  const type = project?.target.type;
  if (type !== undefined && type !== adapter.type) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `the project was compiled for target '${project?.target.name}' of type '${type}', but ` +
        `the warehouse${
          warehouse.location ? ` at ${warehouse.location}` : ""
        } is ${adapter.type}: pick a target of type ` +
        `'${adapter.type}' (--target, or DBT_TARGET) so its SQL is written for it`,
      { file: "profiles.yml" },
    );
  }
  return adapter;
}
