/**
 * The warehouse implementations the contract suite runs against: PGlite in
 * memory, PGlite on a temp data dir, PostgreSQL (a throwaway cluster, or
 * a throwaway database on DATABASE_URL), and DuckDB in memory and on a file.
 *
 * @module
 */

import {
  openWarehouse,
  type Warehouse,
  type WarehouseDialect,
} from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import type { Tool } from "../../_helpers/tools.ts";

/** An open warehouse plus whatever must be torn down after it. */
export interface WarehouseFixture extends AsyncDisposable {
  readonly warehouse: Warehouse;
}

/** One implementation under test. */
export interface Target {
  readonly name: string;
  /** The dialect the warehouse must report. */
  readonly dialect: WarehouseDialect;
  /** Native tools or servers it needs (the test's `ignore:` probes them). */
  readonly needs: readonly Tool[];
  open(): Promise<WarehouseFixture>;
}

/** Every implementation reachable here. */
export const TARGETS: readonly Target[] = [
  {
    name: "pglite (memory)",
    dialect: "postgres",
    needs: [],
    open: () => fixture(openWarehouse("pglite:memory:")),
  },
  { name: "pglite (data dir)", dialect: "postgres", needs: [], open: openPgliteOnDisk },
  { name: "postgres", dialect: "postgres", needs: ["postgres"], open: openPostgres },
  {
    name: "duckdb (memory)",
    dialect: "duckdb",
    needs: [],
    open: () => fixture(openWarehouse("duckdb::memory:")),
  },
  { name: "duckdb (file)", dialect: "duckdb", needs: [], open: openDuckdbOnDisk },
];

async function fixture(
  opening: Promise<Warehouse>,
  after: () => Promise<void> = async () => {},
): Promise<WarehouseFixture> {
  let warehouse: Warehouse;
  try {
    warehouse = await opening;
  } catch (error) {
    await after();
    throw error;
  }
  return {
    warehouse,
    async [Symbol.asyncDispose]() {
      try {
        await warehouse.close();
      } finally {
        await after();
      }
    },
  };
}

async function openPgliteOnDisk(): Promise<WarehouseFixture> {
  const dir = await Deno.makeTempDir({ prefix: "warehouse-test-" });
  return await fixture(
    openWarehouse(`pglite:${dir}/warehouse`),
    () => Deno.remove(dir, { recursive: true }),
  );
}

async function openDuckdbOnDisk(): Promise<WarehouseFixture> {
  const dir = await Deno.makeTempDir({ prefix: "warehouse-test-" });
  return await fixture(
    openWarehouse(`duckdb:${dir}/warehouse.duckdb`),
    () => Deno.remove(dir, { recursive: true }),
  );
}

async function openPostgres(): Promise<WarehouseFixture> {
  const server = await startPostgres();
  return await fixture(openWarehouse(server.url), () => server.stop());
}
