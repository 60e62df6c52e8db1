/**
 * The one way this project connects to PostgreSQL (warehouse, run store,
 * PostGIS): pool creation through postgres.js, the classification of driver
 * errors (connection failure, transient, permanent) and the messages, which
 * name the configuration variable (`WAREHOUSE_URL`, `RUNS_URL`,
 * `SPATIAL_URL`) and never the URL's password: the location is shown
 * through `redactUrl` (core/secrets.ts), which also registers the password so
 * that a driver message repeating it is redacted by every platform error.
 *
 * Kysely's driver habit: the driver owns its pool and one place maps errors.
 *
 * @module
 */

import postgres from "postgres";
import { ResourceError } from "../core/errors.ts";
import { redactUrl } from "../core/secrets.ts";

/** Socket and postgres.js codes meaning the statement never reached a working server. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/**
 * SQLSTATEs worth retrying: the same statement may well succeed a moment
 * later (the server restarting, a lost race with another transaction, a full
 * connection table).
 */
const TRANSIENT_STATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "53300", // too_many_connections
  "55P03", // lock_not_available
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, in recovery)
  "58000", // system_error
]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

interface DriverErrorShape {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly detail?: unknown;
  readonly where?: unknown;
}

function shapeOf(error: unknown): DriverErrorShape {
  return typeof error === "object" && error !== null ? error : { message: String(error) };
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** The SQLSTATE of a server error, or `undefined` for socket and library errors. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = text(shapeOf(error).code);
  return code && SQLSTATE.test(code) && /\d/.test(code) ? code : undefined;
}

/**
 * Whether `error` means the server could not be reached, went away, or
 * refused the session (bad login, no such database): "unreachable" rather
 * than "bad statement".
 *
 * @example
 * ```ts
 * import { isConnectionFailure } from "./_postgres.ts";
 * isConnectionFailure(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })); // true
 * isConnectionFailure(Object.assign(new Error("syntax"), { code: "42601" })); // false
 * ```
 */
export function isConnectionFailure(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state) {
    return state.startsWith("08") || state.startsWith("28") || state === "3D000" ||
      state === "57P01" || state === "57P02" || state === "57P03";
  }
  const code = text(shapeOf(error).code);
  return code !== undefined && CONNECTION_CODES.has(code);
}

/**
 * Whether retrying the same work later may succeed: a lost or refused
 * connection (not a bad login or a missing database, which need a person),
 * a server shutting down or starting up, a serialization failure or deadlock.
 *
 * @example
 * ```ts
 * import { isTransient } from "./_postgres.ts";
 * isTransient(Object.assign(new Error("gone"), { code: "CONNECTION_CLOSED" })); // true
 * isTransient(Object.assign(new Error("bad password"), { code: "28P01" })); // false
 * ```
 */
export function isTransient(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state) return state.startsWith("08") || TRANSIENT_STATES.has(state);
  const code = text(shapeOf(error).code);
  return code !== undefined && CONNECTION_CODES.has(code);
}

/** The driver's message with the server's detail, context and code appended. */
export function serverMessage(error: unknown): string {
  const shape = shapeOf(error);
  const parts = [text(shape.message) ?? String(error)];
  const detail = text(shape.detail);
  const where = text(shape.where);
  if (detail) parts.push(`detail: ${detail}`);
  if (where) parts.push(`at ${where}`);
  const state = sqlStateOf(error);
  const code = text(shape.code);
  if (state) parts.push(`SQLSTATE ${state}`);
  else if (code) parts.push(code);
  return parts.join("; ");
}

/** What a connection is for, so its errors say so. */
export interface PostgresTarget {
  /** Who connects, in messages: `the run store`, `the warehouse`, `PostGIS`. */
  readonly what: string;
  /** The configuration variable holding the URL, e.g. `RUNS_URL`. */
  readonly variable: string;
  /** Code of the error when the server cannot be reached, e.g. `run_store.unreachable`. */
  readonly code: string;
  /** Resource key recorded on errors, e.g. `warehouse`. */
  readonly resourceKey?: string;
}

/** Options of {@linkcode connectPostgres}. */
export interface ConnectPostgresOptions {
  /** `application_name` the server shows in `pg_stat_activity`. */
  readonly application: string;
  /**
   * Most connections kept open at once.
   * @default {4}
   */
  readonly max?: number;
  /**
   * Seconds to wait for a connection before failing.
   * @default {5}
   */
  readonly connectTimeoutSeconds?: number;
  /**
   * Server-side bound on every statement (`statement_timeout`), in
   * milliseconds; `0` for none.
   * @default {0}
   */
  readonly statementTimeoutMs?: number;
  /** Server notices (e.g. "schema already exists, skipping"); dropped by default. */
  readonly onNotice?: (message: string) => void;
  /** Type parsers and serializers (postgres.js `types`). */
  readonly types?: Record<string, postgres.PostgresType>;
  /** More startup parameters (e.g. `TimeZone`). */
  readonly parameters?: Readonly<Record<string, string>>;
}

/** A postgres.js pool with where it points (without the password) for its messages. */
export class PostgresConnection {
  /** The pool. */
  readonly sql: postgres.Sql;
  /** The URL without its password, safe to log. */
  readonly location: string;
  /** What the pool is for. */
  readonly target: PostgresTarget;

  /** Wraps a pool; use {@linkcode connectPostgres}. */
  constructor(sql: postgres.Sql, location: string, target: PostgresTarget) {
    this.sql = sql;
    this.location = location;
    this.target = target;
  }

  /**
   * The error for a server that cannot be reached (or refuses the session),
   * naming the variable and the location, never the password.
   */
  unreachable(error: unknown): ResourceError {
    return unreachableError(this.target, this.location, error);
  }

  /** Closes the pool, waiting at most `timeoutSeconds` for queries in flight. */
  async close(timeoutSeconds = 5): Promise<void> {
    await this.sql.end({ timeout: timeoutSeconds });
  }
}

/**
 * Creates a pool for `url` (no connection is made until the first query).
 * A URL postgres.js cannot even parse (a port out of range...) fails here
 * with `target.code`, naming `target.variable` and never the password.
 *
 * @example
 * ```ts
 * import { connectPostgres } from "./_postgres.ts";
 * const db = connectPostgres("postgres://etl:secret@127.0.0.1:5432/platform", {
 *   what: "the run store", variable: "RUNS_URL", code: "run_store.unreachable",
 * }, { application: "platform-run-store" });
 * db.location; // "postgres://etl:***@127.0.0.1:5432/platform"
 * await db.close();
 * ```
 */
export function connectPostgres(
  url: string,
  target: PostgresTarget,
  options: ConnectPostgresOptions,
): PostgresConnection {
  const location = redactUrl(url);
  const malformed = urlProblem(url);
  if (malformed) {
    throw unreachableError(target, location, new Error(`the URL is malformed: ${malformed}`));
  }
  const statementTimeout = options.statementTimeoutMs ?? 0;
  if (!Number.isInteger(statementTimeout) || statementTimeout < 0) {
    throw new RangeError(
      `Cannot connect ${target.what}: statementTimeoutMs must be a whole number >= 0, ` +
        `got ${statementTimeout}`,
    );
  }
  try {
    const sql = postgres(url, {
      // v3's parameter typing (a Date as timestamptz, a bigint as int8...): the
      // warehouse's value rules were written for it (postgres.js 4 upgrade notes).
      infer: true,
      max: options.max ?? 4,
      connect_timeout: options.connectTimeoutSeconds ?? 5,
      backoff: reconnectBackoffSeconds,
      onnotice: (notice) => options.onNotice?.(String(notice.message ?? "")),
      connection: {
        application_name: options.application,
        ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
        ...options.parameters,
      },
      ...(options.types ? { types: options.types } : {}),
      // postgres.js's typings give a pool with the custom types' generic; every
      // caller here uses `unsafe` with explicit parameters, so the plain type fits.
    }) as unknown as postgres.Sql;
    return new PostgresConnection(sql, location, target);
  } catch (error) {
    throw unreachableError(target, location, error);
  }
}

/** The longest pause of {@linkcode reconnectBackoffSeconds}, in seconds. */
export const MAX_RECONNECT_BACKOFF_SECONDS = 2;

/**
 * Seconds a pool waits before it tries to connect again after `retries`
 * failed tries (answering meanwhile with the last error): postgres.js's own
 * curve, 3^retries / 100 with jitter, but at most
 * {@linkcode MAX_RECONNECT_BACKOFF_SECONDS} instead of its 20. After a
 * Postgres restart of a dozen seconds a pool had reached its 20 s step, and
 * stayed failing that long after the server was back: run heartbeats then
 * missed their lease (15 s by default) and live runs were stopped or failed,
 * and workers took no run. A try every 2 s at most is no load for a server.
 */
export function reconnectBackoffSeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, MAX_RECONNECT_BACKOFF_SECONDS);
}

/** What is wrong with a `postgres://` URL before any connection is tried, if anything. */
function urlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "it does not parse as a URL (expected postgres://USER:PASSWORD@HOST:PORT/DB)";
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
    return `the scheme is '${parsed.protocol}', expected postgres: or postgresql:`;
  }
  // `new URL` keeps the port of a special scheme only; read it from the text.
  const port = /^[a-z]+:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*)(?::(\d*))?/i.exec(url)?.[1];
  if (port !== undefined && port !== "" && !(Number(port) >= 1 && Number(port) <= 65535)) {
    return `port ${port} is not between 1 and 65535`;
  }
  return undefined;
}

function unreachableError(
  target: PostgresTarget,
  location: string,
  error: unknown,
): ResourceError {
  return new ResourceError(
    target.code,
    `Cannot connect to ${target.what} at ${location} (${target.variable}): ` +
      `${serverMessage(error)}; check the URL and that the server is running`,
    {
      input: target.variable,
      cause: error,
      transient: isTransient(error),
      ...(target.resourceKey ? { resourceKey: target.resourceKey } : {}),
    },
  );
}
