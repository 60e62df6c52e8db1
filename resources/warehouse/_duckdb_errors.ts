/**
 * Turns DuckDB errors into the warehouse's typed errors. DuckDB reports an
 * error class in its message ("Catalog Error: ...", "Constraint Error: ...")
 * and no SQLSTATE, so the class and wording are mapped to the SQLSTATE
 * Postgres gives for the same failure: callers that test `sqlState`
 * (`23505` duplicate key, `42P01` missing table, `40001` write conflict) work
 * on every backend.
 *
 * @module
 */

import { ResourceError, toError } from "../../core/errors.ts";
import { WarehouseQueryError } from "./errors.ts";
import { type FailureContext, firstLine, unreachable, warehouseDiskFull } from "./_errors.ts";
import { RowSourceError } from "./_values.ts";

/** [pattern on DuckDB's message, SQLSTATE], first match wins. */
const STATES: readonly (readonly [RegExp, string])[] = [
  [/^Catalog Error: Table( or view)? with name .* does not exist/, "42P01"],
  [/^Catalog Error: (View|Relation) with name .* does not exist/, "42P01"],
  [/^Catalog Error: Schema with name .* does not exist/, "3F000"],
  [
    /^Catalog Error: .*(Function|Macro) with name .* (does not exist|is not in the catalog)/,
    "42883",
  ],
  [/^Catalog Error: Type with name .* does not exist/, "42704"],
  [/^Catalog Error: (Table|View) with name .* already exists/, "42P07"],
  [/^Catalog Error: Schema with name .* already exists/, "42P06"],
  [/^Catalog Error: .* already exists/, "42710"],
  [
    /^Binder Error: (Referenced column|Values list .* does not have a column|Column) .*(not found|does not exist)/,
    "42703",
  ],
  [/^Binder Error: .*(No function matches|Could not choose a best candidate)/, "42883"],
  [/^Binder Error: .*(is ambiguous|Ambiguous reference)/, "42702"],
  [/^Binder Error/, "42000"],
  [/^Parser Error/, "42601"],
  // Constraint errors also arrive from the appender as "Failed to append: ...".
  [
    /^(Constraint Error|Failed to append): .*(duplicate key|violates (primary key|unique) constraint|PRIMARY KEY or UNIQUE)/i,
    "23505",
  ],
  [/^(Constraint Error|Failed to append): .*NOT NULL constraint failed/, "23502"],
  [/^(Constraint Error|Failed to append): .*CHECK constraint failed/, "23514"],
  [/^(Constraint Error|Failed to append): .*foreign key/i, "23503"],
  [/^Constraint Error/, "23000"],
  [/^Conversion Error: .*(out of range|Overflow)/i, "22003"],
  [/^(Conversion|Invalid Input) Error/, "22P02"],
  [/^Out of Range Error/, "22003"],
  [/^TransactionContext Error: .*(Conflict|conflict)/, "40001"],
  [/^TransactionContext Error: Current transaction is aborted/, "25P02"],
  [/^TransactionContext Error/, "25000"],
  [/^Out of Memory Error/, "53200"],
  [/^Interrupt Error/, "57014"],
  [/^Permission Error/, "42501"],
  [/^(Missing Extension Error|Extension Autoloading Error)/, "0A000"],
  [/^Not implemented Error/, "0A000"],
  [/^IO Error/, "58030"],
];

/** The Postgres SQLSTATE for a DuckDB error message, or undefined. */
export function duckdbSqlState(message: string): string | undefined {
  for (const [pattern, state] of STATES) if (pattern.test(message)) return state;
  return undefined;
}

/** The message of a DuckDB error, caret lines dropped and lines joined. */
export function duckdbMessage(error: unknown): string {
  const raw = toError(error).message;
  return raw.split("\n").map((line) => line.trim())
    .filter((line) => line.length > 0 && !/^\^+$/.test(line))
    .join(" ");
}

/** Whether the error means the database itself is gone (a fatal error invalidated it). */
function isFatal(message: string): boolean {
  return /^(FATAL Error|INTERNAL Error)|database has been invalidated/i.test(message);
}

/** The extension a failure says is missing, when it says so. */
export function missingExtension(message: string): string | undefined {
  const patterns = [
    /required extension '([a-z0-9_]+)'/i,
    /exists in the ([a-z0-9_]+) extension/i,
    /Extension "?([a-z0-9_]+)"? is an existing extension/i,
    /install local extension "([a-z0-9_]+)"/i,
    /Missing Extension Error: .*?'([a-z0-9_]+)'/i,
    /install(?:ing)? (?:it first using )?"?INSTALL ([a-z0-9_]+)/i,
  ];
  for (const pattern of patterns) {
    const name = pattern.exec(message)?.[1];
    if (name) return name.toLowerCase();
  }
  return undefined;
}

/** Explains how to make a missing extension available, for one warehouse. */
export type ExtensionAdvice = (extension: string) => string;

/**
 * The typed error for a failed DuckDB statement: `warehouse.query_failed`
 * with a mapped SQLSTATE, `warehouse.unreachable` when the database was
 * invalidated, and what the caller's row source threw, unwrapped.
 */
export function duckdbFailure(
  context: FailureContext,
  sql: string,
  cause: unknown,
  advice?: ExtensionAdvice,
): unknown {
  if (cause instanceof RowSourceError) return cause.error;
  if (cause instanceof ResourceError || cause instanceof TypeError || cause instanceof RangeError) {
    return cause;
  }
  const message = duckdbMessage(cause);
  const statement = firstLine(sql);
  const full = warehouseDiskFull(context, cause, statement);
  if (full) return full;
  if (isFatal(message)) return unreachable(context, new Error(message));
  const state = duckdbSqlState(message);
  const extension = state === "0A000" || /extension/i.test(message)
    ? missingExtension(message)
    : undefined;
  const explained = extension && advice ? `${message} — ${advice(extension)}` : message;
  return new WarehouseQueryError(
    `Cannot run "${statement}" on the warehouse: ${explained}${state ? `; SQLSTATE ${state}` : ""}`,
    statement,
    state,
    { input: context.location, cause },
  );
}

/**
 * A write through the warehouse from inside one of its own transactions: it
 * would wait for that transaction for ever, so it is refused at once.
 */
export function writeInsideTransaction(location: string): TypeError {
  return new TypeError(
    `Cannot write through the warehouse at ${location} inside one of its own transactions ` +
      "(it would wait for that transaction for ever): use the transaction's session (tx)",
  );
}
