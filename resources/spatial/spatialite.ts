/**
 * The embedded {@linkcode SpatialEngine}: SpatiaLite inside GDAL (gdal3.js by
 * default). A workspace is a temporary GeoPackage in a GDAL scratch folder; SQL runs
 * through OGR's SQLite dialect (SpatiaLite functions), and each result is
 * kept as a GeoPackage of its own.
 *
 * @module
 */

import path from "node:path";
import { openSqlite } from "../_sqlite.ts";
import { type GdalEngine, type GdalScratch, scratchGpkgOptions } from "./gdal.ts";

/** A workspace table's GeoPackage options: its geometry column is `geom`, as the recipes name it. */
const WORKSPACE_GPKG_OPTIONS = scratchGpkgOptions("geom");
import { wasmGdal } from "./gdal_wasm.ts";
import {
  assertTableName,
  type FeatureTable,
  type SpatialEngine,
  SpatialEngineError,
  type Workspace,
  workspaceName,
} from "./engine.ts";
import { toError } from "../../core/errors.ts";

/** Reads the attribute column names of a GeoPackage layer. */
function gpkgColumns(file: string, table: string): string[] {
  const db = openSqlite(file, { mode: "read" });
  try {
    const rows = db.prepare(`PRAGMA table_info("${table}")`).all() as {
      name: string;
      type: string;
      pk: number;
    }[];
    return rows.filter((c) => c.name !== "geom" && !(c.pk === 1 && /INT/i.test(c.type)))
      .map((c) => c.name);
  } finally {
    db.close();
  }
}

class SpatialiteWorkspace implements Workspace {
  readonly name: string;
  readonly #scratch: GdalScratch & AsyncDisposable;
  /** Table name to the GeoPackage (relative to the scratch folder) holding it. */
  readonly #tables = new Map<string, string>();
  #dropped = false;

  constructor(name: string, scratch: GdalScratch & AsyncDisposable) {
    this.name = name;
    this.#scratch = scratch;
  }

  async load(table: string, source: FeatureTable, srid: number): Promise<void> {
    assertTableName(table);
    const staged = `src_${table}${path.extname(source.path) || ".gpkg"}`;
    await Deno.copyFile(source.path, this.#scratch.hostPath(staged));
    await this.#scratch.gdal.ogr2ogr(
      this.#scratch.gdalPath(staged),
      [...WORKSPACE_GPKG_OPTIONS, "-nln", table, "-a_srs", `EPSG:${srid}`, source.table],
      table,
    );
    await Deno.remove(this.#scratch.hostPath(staged));
    this.#tables.set(table, `${table}.gpkg`);
  }

  columns(table: string): Promise<string[]> {
    return Promise.resolve(gpkgColumns(this.#scratch.hostPath(this.#file(table)), table));
  }

  async run(sql: string, into: string): Promise<void> {
    assertTableName(into);
    // OGR's SQLite dialect sees the layers of one dataset: the first loaded
    // table's file, into which every other loaded table is attached by name.
    const [first] = this.#tables.keys();
    if (first === undefined) {
      throw new SpatialEngineError(
        "spatial.workspace_empty",
        `Cannot run SQL in workspace '${this.name}': load a table first.`,
      );
    }
    try {
      await this.#scratch.gdal.ogr2ogr(
        this.#scratch.gdalPath(this.#file(first)),
        [...WORKSPACE_GPKG_OPTIONS, "-dialect", "SQLite", "-sql", sql, "-nln", into],
        into,
      );
    } catch (error) {
      throw new SpatialEngineError(
        "spatial.sql_failed",
        `Cannot run SQL into '${into}' in workspace '${this.name}': ${toError(error).message}`,
        { cause: error },
      );
    }
    this.#tables.set(into, `${into}.gpkg`);
  }

  async dump(table: string, dir: string): Promise<FeatureTable> {
    const target = path.join(dir, `${table}.gpkg`);
    await Deno.copyFile(this.#scratch.hostPath(this.#file(table)), target);
    return { path: target, table, geometryColumn: "geom" };
  }

  async drop(): Promise<void> {
    if (this.#dropped) return;
    this.#dropped = true;
    await this.#scratch[Symbol.asyncDispose]();
  }

  #file(table: string): string {
    const file = this.#tables.get(table);
    if (file === undefined) {
      throw new SpatialEngineError(
        "spatial.unknown_table",
        `Workspace '${this.name}' has no table '${table}'; load or compute it first.`,
      );
    }
    return file;
  }
}

/**
 * SpatiaLite (through GDAL's SQLite dialect) as a {@linkcode SpatialEngine};
 * holds no connection.
 */
export class SpatialiteEngine implements SpatialEngine {
  /** Always `spatialite`. */
  readonly kind = "spatialite" as const;
  readonly #gdal: GdalEngine;

  /** An engine whose SQL runs in `gdal` (default: gdal3.js, which always has SpatiaLite). */
  constructor(gdal: GdalEngine = wasmGdal) {
    this.#gdal = gdal;
  }

  /** Creates a workspace: a scratch folder of the GDAL engine. */
  async createWorkspace(runId: string): Promise<Workspace> {
    return new SpatialiteWorkspace(workspaceName(runId), await this.#gdal.createScratch());
  }

  /** Nothing to close: workspaces are dropped by their runs. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
