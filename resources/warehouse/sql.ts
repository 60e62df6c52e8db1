/**
 * Identifier helpers: the only way a schema, table or column name reaches SQL.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";
import { WarehouseErrorCode } from "./errors.ts";
import type { TableRef } from "./types.ts";

/** Postgres truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

// Control characters (NUL included) and double quotes have no legitimate use
// in a name and are how injection attempts look, so they are refused even
// though quoting alone would neutralise them.
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f"]/;

/**
 * Validates a schema, table or column name and returns it double-quoted.
 *
 * Any other name is accepted (spaces, capitals, accents, reserved words) and
 * quoted, so it means exactly what it says. Throws a `ResourceError` with code
 * `warehouse.invalid_identifier` for an empty name, a name over 63 bytes
 * (Postgres would silently truncate it) or one holding a double quote or
 * control character.
 *
 * @example
 * ```ts
 * import { quoteIdent } from "./sql.ts";
 * quoteIdent("raw_weather"); // '"raw_weather"'
 * quoteIdent("Daily Activity"); // '"Daily Activity"'
 * ```
 */
export function quoteIdent(name: string): string {
  const problem = identifierProblem(name);
  if (problem) {
    throw new ResourceError(
      WarehouseErrorCode.invalidIdentifier,
      `Cannot use ${JSON.stringify(name)} as a SQL identifier: ${problem}`,
      { resourceKey: "warehouse", input: name },
    );
  }
  return `"${name}"`;
}

/**
 * `"schema"."name"` for a table, both parts validated by {@linkcode quoteIdent}.
 *
 * @example
 * ```ts
 * import { quoteTable } from "./sql.ts";
 * quoteTable({ schema: "raw", name: "sleep" }); // '"raw"."sleep"'
 * ```
 */
export function quoteTable(table: TableRef): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

function identifierProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "it is not a string";
  if (name.length === 0) return "it is empty";
  if (FORBIDDEN.test(name)) return "it contains a double quote or a control character";
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_IDENTIFIER_BYTES) {
    return `it is ${bytes} bytes long, Postgres keeps only ${MAX_IDENTIFIER_BYTES}`;
  }
  return undefined;
}
