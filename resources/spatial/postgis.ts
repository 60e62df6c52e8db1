/**
 * The server {@linkcode SpatialEngine}: PostGIS. A workspace is a schema
 * `proc_<run_id>` that the run holds a session advisory lock on for its whole
 * life; {@linkcode PostgisEngine.open} starts with a janitor that drops every
 * `proc_*` schema whose lock nobody holds (its run was killed), so scratch
 * schemas never pile up, even after `kill -9`.
 *
 * @module
 */

import path from "node:path";
import { Buffer } from "node:buffer";
import type postgres from "postgres";
import { toError } from "../../core/errors.ts";
import { openSqlite } from "../_sqlite.ts";
import { redactUrl } from "../../core/secrets.ts";
import {
  connectPostgres,
  isConnectionFailure,
  isTransient,
  type PostgresConnection,
  serverMessage,
} from "../_postgres.ts";
import {
  assertTableName,
  type FeatureTable,
  quoteIdent,
  type SpatialEngine,
  SpatialEngineError,
  type Workspace,
  workspaceName,
} from "./engine.ts";

/** What the engine's connection is for, in messages. */
const SPATIAL_TARGET = {
  what: "PostGIS",
  variable: "SPATIAL_URL",
  code: "spatial.unreachable",
  resourceKey: "spatial",
} as const;

/** Options of {@linkcode PostgisEngine.open}. */
export interface PostgisEngineOptions {
  /**
   * Drop orphaned `proc_*` schemas (no run holds their lock) at open.
   *
   * @default {true}
   */
  janitor?: boolean;
  /**
   * Rows per INSERT when loading and per fetch when dumping.
   *
   * @default {1000}
   */
  batchSize?: number;
  /**
   * Longest a statement may run before the server cancels it, in
   * milliseconds; `0` for no bound.
   *
   * @default {3600000}
   */
  statementTimeoutMs?: number;
}

type Sql = postgres.Sql;
type Reserved = postgres.ReservedSql;

function pgType(declared: string): string {
  const t = declared.toUpperCase();
  if (t === "BOOLEAN") return "boolean";
  if (/INT/.test(t)) return "bigint";
  if (/REAL|FLOA|DOUB|NUMERIC|DECIMAL/.test(t)) return "double precision";
  return "text";
}

function sqliteType(pg: string): string {
  if (pg === "boolean") return "BOOLEAN";
  if (/int/.test(pg)) return "INTEGER";
  if (/double|real|numeric/.test(pg)) return "REAL";
  return "TEXT";
}

function failure(code: string, message: string, cause: unknown): SpatialEngineError {
  // A lost or refused connection names the variable to check, and is transient:
  // the executor retries the step (a server restarting is back in seconds).
  const lost = isConnectionFailure(cause);
  return new SpatialEngineError(
    lost ? "spatial.unreachable" : `spatial.${code}`,
    `${message}: ${lost ? "PostGIS (SPATIAL_URL) cannot be reached: " : ""}${serverMessage(cause)}`,
    { cause, transient: isTransient(cause), ...(lost ? { input: "SPATIAL_URL" } : {}) },
  );
}

class PostgisWorkspace implements Workspace {
  readonly name: string;
  readonly #conn: Reserved;
  readonly #batchSize: number;
  readonly #orphaned: () => void;
  #dropped = false;

  /** `orphaned` is told when the schema could not be dropped because the server was gone. */
  constructor(name: string, conn: Reserved, batchSize: number, orphaned: () => void) {
    this.name = name;
    this.#conn = conn;
    this.#batchSize = batchSize;
    this.#orphaned = orphaned;
  }

  async load(table: string, source: FeatureTable, srid: number): Promise<void> {
    assertTableName(table);
    const db = openSqlite(source.path, { mode: "read" });
    try {
      const info = (db.prepare(`PRAGMA table_info(${quoteIdent(source.table)})`).all() as {
        name: string;
        type: string;
        pk: number;
      }[]).filter((c) => c.name !== source.geometryColumn && !(c.pk === 1 && /INT/i.test(c.type)));
      const defs = info.map((c) => `${quoteIdent(c.name)} ${pgType(c.type)}`);
      await this.#conn.unsafe(
        `CREATE TABLE ${quoteIdent(table)} (${[...defs, "geom geometry"].join(", ")})`,
      );
      const names = [...info.map((c) => quoteIdent(c.name)), "geom"].join(", ");
      const select = [...info.map((c) => quoteIdent(c.name)), quoteIdent(source.geometryColumn)]
        .join(", ");
      const stmt = db.prepare(`SELECT ${select} FROM ${quoteIdent(source.table)}`);
      let batch: unknown[][] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const width = info.length + 1;
        const tuples = batch.map((_, r) =>
          `(${
            info.map((_, c) => `$${r * width + c + 1}`).concat(
              `ST_SetSRID(ST_GeomFromWKB($${r * width + width}), ${srid})`,
            ).join(", ")
          })`
        );
        await this.#conn.unsafe(
          `INSERT INTO ${quoteIdent(table)} (${names}) VALUES ${tuples.join(", ")}`,
          batch.flat() as postgres.ParameterOrJSON<never>[],
        );
        batch = [];
      };
      for (const row of stmt.iterate()) {
        const values: unknown[] = info.map((c) => {
          const v = row[c.name];
          if (v === undefined || v === null) return null;
          if (pgType(c.type) === "boolean") return Boolean(Number(v));
          if (v instanceof Uint8Array) return new TextDecoder().decode(v);
          return typeof v === "bigint" ? v.toString() : v;
        });
        const blob = row[source.geometryColumn];
        values.push(blob instanceof Uint8Array ? Buffer.from(gpkgWkb(blob)) : null);
        batch.push(values);
        if (batch.length >= this.#batchSize) await flush();
      }
      await flush();
    } catch (error) {
      throw failure("load_failed", `Cannot load '${table}' into PostGIS '${this.name}'`, error);
    } finally {
      db.close();
    }
  }

  async columns(table: string): Promise<string[]> {
    return (await this.#columnTypes(table)).map((c) => c.name);
  }

  async run(sql: string, into: string): Promise<void> {
    assertTableName(into);
    try {
      await this.#conn.unsafe(`CREATE TABLE ${quoteIdent(into)} AS ${sql}`);
    } catch (error) {
      throw failure("sql_failed", `Cannot run SQL into '${into}' in PostGIS '${this.name}'`, error);
    }
  }

  async dump(table: string, dir: string): Promise<FeatureTable> {
    const columns = await this.#columnTypes(table);
    const target = path.join(dir, `${table}.sqlite`);
    const db = openSqlite(target, { mode: "scratch" });
    try {
      const defs = columns.map((c) => `${quoteIdent(c.name)} ${sqliteType(c.type)}`);
      db.exec(`CREATE TABLE ${quoteIdent(table)} (${[...defs, "geom BLOB"].join(", ")})`);
      const insert = db.prepare(
        `INSERT INTO ${quoteIdent(table)} VALUES (${[...columns, null].map(() => "?").join(", ")})`,
      );
      const select = [...columns.map((c) => quoteIdent(c.name)), "ST_AsBinary(geom) AS geom"]
        .join(", ");
      const cursor = this.#conn.unsafe(`SELECT ${select} FROM ${quoteIdent(table)}`)
        .cursor(this.#batchSize);
      for await (const rows of cursor) {
        db.exec("BEGIN");
        for (const row of rows) {
          const values = columns.map((c) => {
            const v = (row as Record<string, unknown>)[c.name];
            if (v === null || v === undefined) return null;
            if (typeof v === "boolean") return v ? 1 : 0;
            if (sqliteType(c.type) === "INTEGER") return BigInt(v as string | number);
            return v as string | number;
          });
          const geom = (row as Record<string, unknown>).geom;
          insert.run(...values, geom instanceof Uint8Array ? geom : null);
        }
        db.exec("COMMIT");
      }
    } catch (error) {
      throw failure("dump_failed", `Cannot dump '${table}' from PostGIS '${this.name}'`, error);
    } finally {
      db.close();
    }
    return { path: target, table, geometryColumn: "geom" };
  }

  async drop(): Promise<void> {
    if (this.#dropped) return;
    this.#dropped = true;
    try {
      await this.#conn.unsafe(`DROP SCHEMA IF EXISTS ${quoteIdent(this.name)} CASCADE`);
      await this.#conn.unsafe("SELECT pg_advisory_unlock(hashtext($1))", [this.name]);
    } catch (error) {
      // The session died with the connection, and its lock with it: the schema is an
      // orphan that the janitor drops once the server answers again (the engine's next
      // workspace or its close; a daemon keeps its engine open for days). Throwing here
      // would hide the failure that ended the work.
      if (isConnectionFailure(error)) return this.#orphaned();
      throw failure("drop_failed", `Cannot drop PostGIS workspace '${this.name}'`, error);
    } finally {
      this.#conn.release();
    }
  }

  async #columnTypes(table: string): Promise<{ name: string; type: string }[]> {
    let rows;
    try {
      rows = await this.#conn.unsafe(
        `SELECT column_name AS name, data_type AS type FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 AND column_name <> 'geom'
         ORDER BY ordinal_position`,
        [this.name, table],
      );
    } catch (error) {
      throw failure("sql_failed", `Cannot read the columns of '${table}' in '${this.name}'`, error);
    }
    if (rows.length === 0) {
      throw new SpatialEngineError(
        "spatial.unknown_table",
        `Workspace '${this.name}' has no table '${table}'; load or compute it first.`,
      );
    }
    return rows as unknown as { name: string; type: string }[];
  }
}

/** The WKB inside a GeoPackage blob (or the blob, if already WKB). */
function gpkgWkb(blob: Uint8Array): Uint8Array {
  if (blob.length < 8 || blob[0] !== 0x47 || blob[1] !== 0x50) return blob;
  const envelope = (blob[3]! >> 1) & 0x07;
  return blob.subarray(8 + ([0, 32, 48, 48, 64][envelope] ?? 0));
}

/** PostGIS as a {@linkcode SpatialEngine}. Close it with `await using` or `[Symbol.asyncDispose]`. */
export class PostgisEngine implements SpatialEngine {
  /** Always `postgis`. */
  readonly kind = "postgis" as const;
  /** The server, password removed. */
  readonly location: string;
  readonly #sql: Sql;
  readonly #batchSize: number;
  /** A workspace could not be dropped (the server was gone): the janitor runs when it is back. */
  #orphansLeft = false;

  private constructor(url: string, sql: Sql, batchSize: number) {
    this.location = redactUrl(url);
    this.#sql = sql;
    this.#batchSize = batchSize;
  }

  /** Connects, checks PostGIS is installed, and (by default) runs the janitor. */
  static async open(url: string, options: PostgisEngineOptions = {}): Promise<PostgisEngine> {
    let db: PostgresConnection;
    try {
      db = connectPostgres(url, SPATIAL_TARGET, {
        application: "platform-spatial",
        max: 4,
        statementTimeoutMs: options.statementTimeoutMs ?? 3_600_000,
      });
    } catch (error) {
      // A URL postgres.js cannot parse: the connector's message names SPATIAL_URL.
      throw new SpatialEngineError("spatial.unreachable", toError(error).message, {
        input: "SPATIAL_URL",
        cause: error,
      });
    }
    const sql = db.sql;
    const engine = new PostgisEngine(url, sql, options.batchSize ?? 1000);
    try {
      const [row] = await sql.unsafe(
        "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'postgis'",
      );
      if (row?.n !== 1) {
        throw new SpatialEngineError(
          "spatial.postgis_missing",
          `PostGIS is not installed in the database at ${engine.location}; run ` +
            `'CREATE EXTENSION postgis' there (Debian package postgresql-15-postgis-3).`,
          { input: "SPATIAL_URL" },
        );
      }
      if (options.janitor ?? true) await engine.dropOrphans();
    } catch (error) {
      await sql.end({ timeout: 5 });
      if (error instanceof SpatialEngineError) throw error;
      throw new SpatialEngineError(
        "spatial.unreachable",
        `Cannot open PostGIS at ${engine.location} (SPATIAL_URL): ${serverMessage(error)}`,
        { input: "SPATIAL_URL", cause: error, transient: isTransient(error) },
      );
    }
    return engine;
  }

  /**
   * Drops every `proc_*` schema whose advisory lock no session holds: its run
   * ended without dropping it (killed, or the machine died). Returns their names.
   */
  async dropOrphans(): Promise<string[]> {
    const schemas = await this.#sql.unsafe(
      "SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'proc\\_%' ORDER BY 1",
    );
    const dropped: string[] = [];
    const conn = await this.#sql.reserve();
    try {
      for (const { name } of schemas as unknown as { name: string }[]) {
        const [lock] = await conn.unsafe("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [name]);
        if (!lock?.ok) continue;
        try {
          await conn.unsafe(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
          dropped.push(name);
        } finally {
          await conn.unsafe("SELECT pg_advisory_unlock(hashtext($1))", [name]);
        }
      }
    } finally {
      conn.release();
    }
    return dropped;
  }

  /** Creates schema `proc_<run_id>` and holds its lock on a dedicated connection. */
  async createWorkspace(runId: string): Promise<Workspace> {
    const name = workspaceName(runId);
    // The server answers again after an outage that left workspaces behind: drop them now,
    // not at the next open, which a long-running daemon may never reach.
    if (this.#orphansLeft) await this.#dropLeftOrphans();
    let conn: Reserved;
    try {
      conn = await this.#sql.reserve();
    } catch (error) {
      throw failure("workspace_failed", `Cannot create PostGIS workspace '${name}'`, error);
    }
    try {
      const [lock] = await conn.unsafe("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [name]);
      if (!lock?.ok) {
        throw new SpatialEngineError(
          "spatial.workspace_busy",
          `Cannot create PostGIS workspace '${name}': another process is using it.`,
          { input: runId },
        );
      }
      await conn.unsafe(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
      await conn.unsafe(`CREATE SCHEMA ${quoteIdent(name)}`);
      await conn.unsafe(`SET search_path TO ${quoteIdent(name)}, public`);
    } catch (error) {
      conn.release();
      if (error instanceof SpatialEngineError) throw error;
      throw failure("workspace_failed", `Cannot create PostGIS workspace '${name}'`, error);
    }
    return new PostgisWorkspace(name, conn, this.#batchSize, () => (this.#orphansLeft = true));
  }

  /** Runs the janitor for workspaces left by an outage; a failure leaves it for next time. */
  async #dropLeftOrphans(): Promise<void> {
    this.#orphansLeft = false;
    try {
      await this.dropOrphans();
    } catch (error) {
      if (!isConnectionFailure(error)) throw error;
      this.#orphansLeft = true; // gone again: the next workspace or the close tries again
    }
  }

  /** Closes the connections. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      if (this.#orphansLeft) await this.#dropLeftOrphans();
    } finally {
      await this.#sql.end({ timeout: 5 });
    }
  }
}
