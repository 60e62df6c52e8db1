/**
 * The run queue: launched runs wait here until a coordinator admits them
 * within the limits and a worker executes them. `openQueue(RUNS_URL)` picks
 * the Postgres queue (graphile-worker delivery) or the in-memory twin.
 *
 * @module
 */

export * from "./open.ts";
export * from "./postgres.ts";
