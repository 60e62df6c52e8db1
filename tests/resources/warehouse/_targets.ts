/**
 * The warehouse implementations the contract suite runs against: PGlite in
 * memory, PGlite on a temp data dir, and PostgreSQL (a throwaway cluster, or
 * a throwaway database on DATABASE_URL).
 *
 * @module
 */

import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";

/** An open warehouse plus whatever must be torn down after it. */
export interface WarehouseFixture extends AsyncDisposable {
  readonly warehouse: Warehouse;
}

/** One implementation under test. */
export interface Target {
  readonly name: string;
  open(): Promise<WarehouseFixture>;
}

/** Every implementation reachable here. */
export const TARGETS: readonly Target[] = [
  { name: "pglite (memory)", open: () => fixture(openWarehouse("pglite:memory:")) },
  { name: "pglite (data dir)", open: openPgliteOnDisk },
  { name: "postgres", open: openPostgres },
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

async function openPostgres(): Promise<WarehouseFixture> {
  const server = await startPostgres();
  return await fixture(openWarehouse(server.url), () => server.stop());
}
