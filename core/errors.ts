/**
 * Typed errors shared by the whole platform.
 *
 * Every error the platform raises on purpose is a {@linkcode PlatformError}
 * with a stable machine-readable `code` and structured fields that name the
 * input (asset key, resource key, path...). Messages say what could not be done
 * and why, so a person can act on them without reading the source.
 *
 * @module
 */

import { redact, redactError } from "./secrets.ts";

/** Structured fields carried by every {@linkcode PlatformError}. */
export interface ErrorFields {
  /** The asset involved, if any. */
  assetKey?: string;
  /** The resource involved, if any. */
  resourceKey?: string;
  /** The file, object key or environment variable involved, if any. */
  input?: string;
  /** The underlying error, kept for its stack. */
  cause?: unknown;
  /**
   * The failure may well not happen again shortly: a lost connection, a
   * server restarting, a deadlock. The executor retries a step failing so
   * even when its asset declares no retries (see `TRANSIENT_RETRY`).
   */
  transient?: boolean;
  /**
   * Only a restart of this process can recover: what it holds open is no
   * longer what others see (its run store file was deleted or replaced).
   * A long-running process (the sensor daemon) stops with this error
   * instead of failing the same way every tick.
   */
  restartRequired?: boolean;
}

/**
 * Base class of every deliberate platform error.
 *
 * @example Catch by code rather than by class
 * ```ts
 * import { PlatformError } from "./errors.ts";
 * try {
 *   throw new PlatformError("graph.cycle", "Cannot load the graph: a -> b -> a is a cycle");
 * } catch (error) {
 *   if (error instanceof PlatformError && error.code === "graph.cycle") {
 *     console.error(error.message);
 *   }
 * }
 * ```
 */
export class PlatformError extends Error {
  /** Stable identifier of the kind of failure, e.g. `graph.cycle`. */
  readonly code: string;
  /** The asset involved, if any. */
  readonly assetKey: string | undefined;
  /** The resource involved, if any. */
  readonly resourceKey: string | undefined;
  /** The file, object key or variable involved, if any. */
  readonly input: string | undefined;
  /** Whether the same work may well succeed if tried again shortly (see {@linkcode ErrorFields.transient}). */
  readonly transient: boolean;
  /** Whether only a restart of this process can recover (see {@linkcode ErrorFields.restartRequired}). */
  readonly restartRequired: boolean;

  /**
   * Creates an error with a stable `code` and a message a person can act on.
   * Secrets are redacted at the source: from the message, the fields and the
   * whole cause chain (core/secrets.ts), so no platform error ever carries a
   * URL's credentials, whoever prints or stores it.
   */
  constructor(code: string, message: string, fields: ErrorFields = {}) {
    super(
      redact(message),
      fields.cause === undefined ? undefined : { cause: redactError(fields.cause) },
    );
    this.name = new.target.name;
    this.code = code;
    this.assetKey = fields.assetKey;
    this.resourceKey = fields.resourceKey;
    this.input = typeof fields.input === "string" ? redact(fields.input) : fields.input;
    this.transient = fields.transient ?? false;
    this.restartRequired = fields.restartRequired ?? false;
  }
}

/**
 * The {@linkcode PlatformError} in `error`'s cause chain that only a restart
 * of this process can recover from, if any.
 *
 * @example
 * ```ts
 * import { restartRequiredError, ResourceError } from "./errors.ts";
 * const gone = new ResourceError("run_store.file_replaced", "deleted", { restartRequired: true });
 * restartRequiredError(new Error("tick failed", { cause: gone })) === gone; // true
 * ```
 */
export function restartRequiredError(error: unknown): PlatformError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof PlatformError && current.restartRequired) return current;
    current = current.cause;
  }
  return undefined;
}

/**
 * Whether `error`, or an error it was caused by (an asset may wrap a
 * resource's error), is a transient {@linkcode PlatformError}.
 *
 * @example
 * ```ts
 * import { isTransientError, ResourceError } from "./errors.ts";
 * const lost = new ResourceError("warehouse.unreachable", "connection lost", { transient: true });
 * isTransientError(new Error("loading failed", { cause: lost })); // true
 * ```
 */
export function isTransientError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof PlatformError && current.transient) return true;
    current = current.cause;
  }
  return false;
}

/**
 * A definition (asset, check, sensor, graph) is invalid. Raised while the graph
 * is built, before anything runs.
 */
export class InvalidDefinitionError extends PlatformError {}

/** A selection string or partition argument names something that does not exist. */
export class SelectionError extends PlatformError {
  /** The nearest valid name, when one is close enough to suggest. */
  readonly suggestion: string | undefined;

  /** Creates a selection error, optionally suggesting the nearest valid name. */
  constructor(code: string, message: string, suggestion?: string) {
    super(code, suggestion ? `${message} (did you mean '${suggestion}'?)` : message);
    this.suggestion = suggestion;
  }
}

/** User code inside an asset or check threw; the original error is the `cause`. */
export class AssetExecutionError extends PlatformError {}

/** Work was canceled by a signal (Ctrl-C, SIGTERM or an AbortSignal). */
export class CanceledError extends PlatformError {
  /** Creates a cancellation error naming what was canceled. */
  constructor(message = "The run was canceled", fields: ErrorFields = {}) {
    super("run.canceled", message, fields);
  }
}

/** Configuration from the environment is missing or malformed. */
export class ConfigError extends PlatformError {}

/** An outside system could not be reached or refused the request. */
export class ResourceError extends PlatformError {}

/**
 * Turns anything thrown into an `Error`, keeping the original as `cause`. Its
 * message says what was thrown, never `[object Object]`: a string as it is,
 * an object's own `message` when it has one (error-like objects of libraries
 * and other realms), else the value as JSON, else as Deno prints it (cycles,
 * BigInts).
 *
 * @example
 * ```ts
 * import { toError } from "./errors.ts";
 * toError({ code: 42 }).message; // '{"code":42}'
 * toError({ message: "socket hang up" }).message; // "socket hang up"
 * ```
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(describeThrown(thrown), { cause: thrown });
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === "string") return thrown;
  const message = (thrown as { message?: unknown } | null)?.message;
  if (typeof message === "string" && message !== "") return message;
  try {
    const json = JSON.stringify(thrown);
    if (json !== undefined) return json;
  } catch {
    // A cycle or a BigInt: printed below.
  }
  return Deno.inspect(thrown, { depth: 3, colors: false });
}

/**
 * A failure that waiting does not fix: the disk is full (`disk_full`), the
 * file system is mounted read-only (`read_only`), or the process may not
 * write there (`permission_denied`). A person has to act first, so retrying
 * (an asset's declared policy waits minutes between attempts) only delays
 * the report: the executor never retries these.
 */
export type LastingFailure = "disk_full" | "read_only" | "permission_denied";

/** errno names (Deno's and Node's `code`) of lasting failures. */
const LASTING_ERRNO: Readonly<Record<string, LastingFailure>> = {
  ENOSPC: "disk_full",
  EDQUOT: "disk_full",
  EROFS: "read_only",
  EACCES: "permission_denied",
  EPERM: "permission_denied",
};

/**
 * SQLite's primary result codes (`errcode` of node:sqlite's errors, whose
 * `code` is only `ERR_SQLITE_ERROR`): SQLITE_FULL (13), SQLITE_READONLY (8).
 */
const LASTING_SQLITE: Readonly<Record<number, LastingFailure>> = {
  13: "disk_full",
  8: "read_only",
};

/** Postgres SQLSTATEs (a server's or PGlite's): disk_full, insufficient_privilege. */
const LASTING_SQLSTATE: Readonly<Record<string, LastingFailure>> = {
  "53100": "disk_full",
  "42501": "permission_denied",
};

/**
 * Which {@linkcode LastingFailure} `error`, or an error it was caused by, is;
 * `undefined` for any other failure. Read from the error's errno name, SQLite
 * result code or SQLSTATE, else from the words every layer passes on
 * (DuckDB and the wasm engines only keep the OS's message).
 *
 * @example
 * ```ts
 * import { lastingFailure } from "./errors.ts";
 * const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * lastingFailure(new Error("writing the lake failed", { cause: full })); // "disk_full"
 * lastingFailure(new Error("connection reset")); // undefined
 * ```
 */
export function lastingFailure(error: unknown): LastingFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const kind = lastingKindOf(current);
    if (kind) return kind;
    current = current.cause;
  }
  return wasmFsFailure(current);
}

/**
 * Emscripten's file system (PGlite, gdal3.js) throws plain `ErrnoError`
 * objects numbered as WASI/musl does: 51 is ENOSPC, 69 EROFS, 2 EACCES, 63
 * EPERM. `toError` keeps them as the cause of the error it makes.
 */
function wasmFsFailure(thrown: unknown): LastingFailure | undefined {
  const { name, errno } = (thrown ?? {}) as { name?: unknown; errno?: unknown };
  if (name !== "ErrnoError" || typeof errno !== "number") return undefined;
  return WASM_ERRNO[errno];
}

const WASM_ERRNO: Readonly<Record<number, LastingFailure>> = {
  51: "disk_full",
  69: "read_only",
  2: "permission_denied",
  63: "permission_denied",
};

function lastingKindOf(error: Error): LastingFailure | undefined {
  if (error instanceof DiskFullError) return "disk_full";
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === "string") {
    const kind = LASTING_ERRNO[code] ?? LASTING_SQLSTATE[code];
    if (kind) return kind;
  }
  // The low byte is the primary code (SQLITE_FULL's extended codes keep it).
  if (typeof errcode === "number" && LASTING_SQLITE[errcode & 0xff]) {
    return LASTING_SQLITE[errcode & 0xff];
  }
  // The OS's refusal, and Deno's own permission flags (a command line to change).
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return "permission_denied";
  }
  if (/no space left on device|database or disk is full|disk quota exceeded/i.test(error.message)) {
    return "disk_full";
  }
  if (/read-only file system/i.test(error.message)) return "read_only";
  return undefined;
}

/**
 * A write failed because the disk is full. The message names what was being
 * written (the user's file, the run store, the ledger...) and the folder whose
 * disk needs space; `input` is the path. Never retried (see
 * {@linkcode lastingFailure}).
 *
 * @example
 * ```ts
 * import { DiskFullError } from "./errors.ts";
 * new DiskFullError("the run store '/srv/state/runs.db'", "/srv/state/runs.db").message;
 * // "no space left on device writing the run store '/srv/state/runs.db': free space on the
 * // disk holding '/srv/state' (`df -h '/srv/state'` shows it), then run again"
 * ```
 */
export class DiskFullError extends ResourceError {
  /** Waiting does not free a disk: see {@linkcode lastingFailure}. */
  readonly retryable = false;

  /**
   * `what` names what was being written, with its name or path; `path` is the
   * file written (its folder is named as the place to free space, unless
   * `fields.folder` names another) and the error's `input` unless
   * `fields.input` names the user's own name for it (e.g. an object key).
   */
  constructor(what: string, path: string, fields: ErrorFields & { folder?: string } = {}) {
    const folder = fields.folder ?? folderOf(path);
    super(
      "disk_full",
      `no space left on device writing ${what}: free space on the disk holding '${folder}' ` +
        `(\`df -h '${folder}'\` shows it), then run again`,
      { ...fields, input: fields.input ?? path },
    );
  }
}

function folderOf(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut > 0 ? path.slice(0, cut) : cut === 0 ? "/" : ".";
}

/**
 * `error` as a {@linkcode DiskFullError} naming `what` and `path` (the name
 * the user knows, not a temp file's) when a full disk caused it; any other
 * error is returned as it is.
 *
 * @example
 * ```ts
 * import { asDiskFull } from "./errors.ts";
 * const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * (asDiskFull(full, "dbt's run_results.json", "/p/target/run_results.json") as Error).message;
 * // "no space left on device writing dbt's run_results.json: free space on the disk holding '/p/target' ..."
 * ```
 */
export function asDiskFull(error: unknown, what: string, path: string): unknown {
  if (error instanceof DiskFullError || lastingFailure(error) !== "disk_full") return error;
  return new DiskFullError(what, path, { cause: error });
}

/**
 * The OS refused this process a file descriptor: it reached its limit of
 * open files (`EMFILE`, `ulimit -n`) or the system's (`ENFILE`). The message
 * keeps what failed (the OS's words name the file) and says which limit to
 * raise; `input` is that limit's name.
 */
export class TooManyOpenFilesError extends ResourceError {
  /** Creates the error from the OS's refusal `cause` (its message is kept). */
  constructor(cause: Error) {
    super(
      "too_many_open_files",
      `${cause.message}: this process reached its limit of open files; raise it and run ` +
        "again (`ulimit -n` shows it: e.g. `ulimit -n 4096` in the shell that starts it, " +
        "LimitNOFILE= for a systemd service, --ulimit nofile=4096:4096 for a container), or " +
        "run fewer runs at once",
      { cause, input: "ulimit -n" },
    );
  }
}

/** errno names and Rust's `os error` numbers of a refused file descriptor. */
const NO_DESCRIPTOR = /^(?:EMFILE|ENFILE)$/;
const NO_DESCRIPTOR_MESSAGE = /too many open files|\(os error (?:23|24)\)/i;

/**
 * `error` as a {@linkcode TooManyOpenFilesError} when it, or an error it was
 * caused by, is the OS refusing a file descriptor; any other error as it is.
 * Left alone, a run said only `Too many open files (os error 24): readfile
 * '<a metadata file>'`, which names neither the limit nor what to do.
 *
 * @example
 * ```ts
 * import { asTooManyOpenFiles } from "./errors.ts";
 * const refused = Object.assign(new Error("Too many open files (os error 24): open '/lake/a.csv'"), { code: "EMFILE" });
 * asTooManyOpenFiles(refused).message; // "Too many open files (os error 24): open '/lake/a.csv': this process reached its limit..."
 * ```
 */
export function asTooManyOpenFiles(error: Error): Error {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof TooManyOpenFilesError) return error;
    const { code } = current as { code?: unknown };
    if (
      (typeof code === "string" && NO_DESCRIPTOR.test(code)) ||
      NO_DESCRIPTOR_MESSAGE.test(current.message)
    ) {
      return new TooManyOpenFilesError(error);
    }
    current = current.cause;
  }
  return error;
}
