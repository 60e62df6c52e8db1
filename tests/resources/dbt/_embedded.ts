/**
 * The two embedded warehouses (PGlite and DuckDB, in memory) with the
 * profile that targets each, a small project written for one of them, and
 * rows read back with bigints as numbers: for tests of what a project's
 * macros do on the warehouse.
 *
 * @module
 */

import { loadProject } from "../../../resources/dbt/mod.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "./_fixture.ts";

const DUCK_PROFILE = `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: ":memory:"
`;

/** An embedded warehouse, its adapter type, the files that target it and its default schema. */
export interface EmbeddedTarget {
  /** Shown in test names. */
  readonly name: string;
  /** The dbt adapter type. */
  readonly type: "postgres" | "duckdb";
  /** Its warehouse URL. */
  readonly url: string;
  /** profiles.yml when not the fixture's default (Postgres). */
  readonly profile: Readonly<Record<string, string>>;
  /** The target's schema. */
  readonly schema: string;
}

/** PGlite. */
export const PGLITE_TARGET: EmbeddedTarget = {
  name: "pglite",
  type: "postgres",
  url: "pglite:memory:",
  profile: {},
  schema: "analytics",
};

/** PGlite and DuckDB. */
export const EMBEDDED_TARGETS: readonly EmbeddedTarget[] = [
  PGLITE_TARGET,
  {
    name: "duckdb",
    type: "duckdb",
    url: "duckdb::memory:",
    profile: { "profiles.yml": DUCK_PROFILE },
    schema: "main",
  },
];

/** A project of `files` for `target` and a fresh warehouse of its kind; both go on dispose. */
export async function embeddedProject(target: EmbeddedTarget, files: Record<string, string>) {
  const project = await writeProject({ ...target.profile, ...files });
  const warehouse = await openWarehouse(target.url, { onNotice: () => {} });
  return {
    warehouse,
    load: () => loadProject(project.dir, { cache: false }),
    async [Symbol.asyncDispose]() {
      await warehouse.close();
      await project[Symbol.asyncDispose]();
    },
  };
}

/** Rows of `sql` with bigints as numbers. */
export async function rows(warehouse: Warehouse, sql: string): Promise<unknown[]> {
  return (await warehouse.query<Record<string, unknown>>(sql)).map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]),
    )
  );
}
