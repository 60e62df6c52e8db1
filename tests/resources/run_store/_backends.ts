/**
 * The run store backends the tests reach: memory and SQLite always,
 * Postgres on a throwaway cluster (or a database on `DATABASE_URL`) when
 * PostgreSQL is installed or that variable is set (tests probe it with
 * `needs("postgres")` from `tests/_helpers/tools.ts`).
 *
 * @module
 */

import { MemoryRunStore, type RunStore } from "../../../core/mod.ts";
import { PostgresRunStore, SqliteRunStore } from "../../../resources/run_store/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { startPgliteServer } from "../../_helpers/pglite_server.ts";
import { probe } from "../../_helpers/tools.ts";

/** Fresh, empty stores of one backend; `reopen` gives a second handle on the same data. */
export interface Target extends AsyncDisposable {
  /** A new empty store. */
  open(): Promise<Place>;
}

/** One empty store and a way to open it again (another connection or file handle). */
export interface Place {
  /** The store under test. */
  readonly store: RunStore;
  /** Another store on the same data, or `undefined` when the backend has no shared data. */
  readonly reopen: (() => Promise<RunStore>) | undefined;
}

/** Memory: nothing shared between stores. */
export function memoryTarget(): Target {
  return {
    open: () => Promise.resolve({ store: new MemoryRunStore(), reopen: undefined }),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/** SQLite: a new file in a temp dir per store. */
export async function sqliteTarget(): Promise<Target> {
  const dir = await Deno.makeTempDir({ prefix: "run_store_test_" });
  let n = 0;
  return {
    open: () => {
      const path = `${dir}/runs_${n++}.db`;
      return Promise.resolve({
        store: SqliteRunStore.open(path),
        reopen: () => Promise.resolve(SqliteRunStore.open(path)),
      });
    },
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * Postgres: one database for the file, a new schema per store.
 * `maxConnections` is the store's pool size (the store's default when unset).
 */
export function postgresTarget(url: string, maxConnections?: number): Target {
  let n = 0;
  return {
    open: async () => {
      const schema = `t${n++}_${crypto.randomUUID().slice(0, 8)}`;
      const options = maxConnections === undefined ? { schema } : { schema, maxConnections };
      return {
        store: await PostgresRunStore.open(url, options),
        reopen: () => PostgresRunStore.open(url, options),
      };
    },
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/** One check of a contract, on a fresh empty store. */
export type Check = (place: Place) => Promise<void>;

/** Runs every check of `checks` against one backend, as steps of one test. */
function contractOn(
  title: string,
  backend: string,
  checks: Readonly<Record<string, Check>>,
  target: () => Promise<Target>,
  options: { ignore?: boolean } = {},
): void {
  Deno.test({
    name: `${title} on ${backend}`,
    ignore: options.ignore ?? false,
    async fn(t) {
      await using targets = await target();
      for (const [name, check] of Object.entries(checks)) {
        await t.step(name, async () => {
          const place = await targets.open();
          try {
            await check(place);
          } finally {
            await place.store[Symbol.asyncDispose]();
          }
        });
      }
    },
  });
}

/**
 * Registers `checks` against every backend: memory, SQLite, Postgres (a
 * throwaway cluster) and, where PostgreSQL is absent, the Postgres store's
 * SQL on PGlite over the wire protocol (one shared session: see
 * tests/_helpers/pglite_server.ts). `skipPostgres` is the calling file's
 * `await needs("postgres")`, so a skip names that file.
 */
export async function runContract(
  title: string,
  checks: Readonly<Record<string, Check>>,
  skipPostgres: boolean,
): Promise<void> {
  contractOn(title, "memory", checks, () => Promise.resolve(memoryTarget()));
  contractOn(title, "sqlite", checks, sqliteTarget);
  contractOn(title, "postgres", checks, async () => {
    const pg = await startPostgres();
    const target = postgresTarget(pg.url);
    return { open: target.open, [Symbol.asyncDispose]: () => pg.stop() };
  }, { ignore: skipPostgres });
  if (!(await probe("postgres")).present) {
    contractOn(title, "postgres wire protocol served by PGlite", checks, async () => {
      const pg = await startPgliteServer();
      // One connection: the stand-in interleaves the extended-protocol messages of
      // concurrent connections outside a transaction (tests/_helpers/pglite_server.ts).
      const target = postgresTarget(pg.url, 1);
      return { open: target.open, [Symbol.asyncDispose]: () => pg.stop() };
    });
  }
}
