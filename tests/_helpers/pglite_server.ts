/**
 * PGlite served over the PostgreSQL wire protocol on a loopback port
 * (npm:@electric-sql/pglite-socket), so `postgres://` code can be exercised
 * on a machine with no PostgreSQL installed.
 *
 * What it is good for, measured here (pglite 0.5.16, pglite-socket 0.2.17):
 * the run store's whole contract suite passes on it through postgres.js,
 * pooled connections included (`maxConnections` > 1: the server multiplexes
 * them onto PGlite's one session, keeping a transaction's statements
 * together).
 *
 * What it cannot stand in for, which is why tests that need these still
 * require a real PostgreSQL (`needs("postgres")`):
 * - `COPY … FROM STDIN` kills the WASM backend (`ExitStatus: Program
 *   terminated with exit(1)`) and every later connection times out, so the
 *   warehouse's `bulkLoad` (activity, weather, dbt seeds, PostGIS loads)
 *   cannot run on it;
 * - outside a transaction it interleaves the extended-protocol messages
 *   (Parse/Bind/Execute) of concurrent connections, so two connections'
 *   unnamed statements clobber each other ("bind message supplies 4
 *   parameters, but prepared statement \"\" requires 2"): open clients of it
 *   with one connection;
 * - every connection shares one session: advisory locks, `FOR UPDATE SKIP
 *   LOCKED` and session settings never conflict between connections, so a
 *   test of concurrency between sessions would pass vacuously;
 * - no PostGIS (the pglite-postgis build lags the PGlite release we pin).
 *
 * @example
 * ```ts ignore
 * import { startPgliteServer } from "./pglite_server.ts";
 * await using pg = await startPgliteServer();
 * console.log(pg.url); // postgres://postgres@127.0.0.1:40123/postgres
 * ```
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { ThrowawayPostgres } from "./postgres.ts";

/** Options of {@linkcode startPgliteServer}. */
export interface StartPgliteServerOptions {
  /**
   * Connections served at once (multiplexed onto PGlite's one session).
   * @default 16
   */
  maxConnections?: number;
}

/** Starts an in-memory PGlite behind a loopback Postgres wire-protocol server. */
export async function startPgliteServer(
  options: StartPgliteServerOptions = {},
): Promise<ThrowawayPostgres> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: 0,
    maxConnections: options.maxConnections ?? 16,
  });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  const port = Number(server.getServerConn().split(":").at(-1));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await server.stop();
    } finally {
      await db.close();
    }
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
