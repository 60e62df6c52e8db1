/**
 * The `SpatialEngine` role: where an intent's spatial SQL runs. Each run gets
 * a private workspace (PostGIS: schema `proc_<run_id>`; SpatiaLite: a
 * temporary database inside gdal3.js) that is loaded, queried, dumped and
 * always dropped, in `finally`, by {@linkcode withWorkspace}.
 *
 * @module
 */

import { PlatformError } from "../../core/errors.ts";

/** Which implementation is behind a {@linkcode SpatialEngine}. */
export type SpatialEngineKind = "spatialite" | "postgis";

/** A feature table on disk: a SQLite file (GeoPackage or plain) and a table in it. */
export interface FeatureTable {
  /** Real path of the SQLite file. */
  path: string;
  /** Table (layer) name. */
  table: string;
  /** Geometry column name. */
  geometryColumn: string;
}

/** A private place to run spatial SQL for one run. */
export interface Workspace {
  /** Identifier (the PostGIS schema name, or the SpatiaLite database name). */
  readonly name: string;
  /**
   * Loads a feature table as `table`. The geometries must be in EPSG:`srid`.
   * Attribute columns keep their names; the geometry column is named `geom`.
   */
  load(table: string, source: FeatureTable, srid: number): Promise<void>;
  /** Column names of a loaded or computed table, without `geom`. */
  columns(table: string): Promise<string[]>;
  /** Runs a `SELECT` and keeps its result as table `into` (its geometry column must be `geom`). */
  run(sql: string, into: string): Promise<void>;
  /** Writes `table` to a SQLite file in `dir`, geometries as WKB in column `geom`. */
  dump(table: string, dir: string): Promise<FeatureTable>;
  /** Removes the workspace and everything in it; safe to repeat. */
  drop(): Promise<void>;
}

/** A spatial SQL engine. */
export interface SpatialEngine extends AsyncDisposable {
  /** Which implementation this is. */
  readonly kind: SpatialEngineKind;
  /** Creates the workspace of a run. */
  createWorkspace(runId: string): Promise<Workspace>;
}

/** Spatial SQL failed or a workspace could not be created or dropped. */
export class SpatialEngineError extends PlatformError {}

/**
 * Runs `fn` in a fresh workspace of `runId` and drops the workspace
 * afterwards, whether `fn` succeeded or threw.
 *
 * @example
 * ```ts
 * import { openSpatialEngine, withWorkspace } from "./mod.ts";
 * await using engine = await openSpatialEngine("spatialite:");
 * await withWorkspace(engine, "run-1", async (ws) => {
 *   await ws.run("SELECT 1 AS one, MakePoint(0, 0, 4326) AS geom", "one");
 * });
 * ```
 */
export async function withWorkspace<T>(
  engine: SpatialEngine,
  runId: string,
  fn: (workspace: Workspace) => Promise<T>,
): Promise<T> {
  const workspace = await engine.createWorkspace(runId);
  try {
    return await fn(workspace);
  } finally {
    await workspace.drop();
  }
}

/** A safe SQL identifier of a workspace for `runId`: `proc_` and lowercase letters, digits, `_`. */
export function workspaceName(runId: string): string {
  const cleaned = runId.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (cleaned === "") throw new RangeError(`Run id '${runId}' has no letter or digit`);
  return `proc_${cleaned}`.slice(0, 63);
}

/** Quotes an SQL identifier (same rule in PostgreSQL and SQLite). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Throws unless `name` is a plain table name usable in both engines. */
export function assertTableName(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new RangeError(
      `Table name '${name}' must be 1-63 lowercase letters, digits or '_', not starting with a digit`,
    );
  }
}
