/**
 * `bulkLoad` on DuckDB: the caller's rows through the Appender, converted
 * per target column type (`_duckdb_values.ts`), as whole data chunks when
 * the load names every column, row by row with the columns' defaults
 * otherwise. The caller runs it inside a transaction, so a failure loads
 * nothing.
 *
 * @module
 */

import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import {
  columnWriter,
  type ValueConverter,
  valueConverter,
  ValueRejected,
} from "./_duckdb_values.ts";
import { RowSourceError } from "./_values.ts";
import { WarehouseQueryError } from "./errors.ts";
import type { BulkRows, SqlValue, TableRef } from "./types.ts";

/** Rows per appender flush in row-by-row loads. */
const FLUSH_ROWS = 100_000;

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/** The body of `bulkLoad`, on a connection inside a transaction. */
export async function appendRows(
  connection: DuckDBConnection,
  context: { readonly location: string },
  statement: string,
  table: TableRef,
  columns: readonly string[],
  rows: BulkRows,
): Promise<number> {
  const target = await targetColumns(connection, statement, table);
  const positions = columns.map((column) => {
    const index = target.findIndex((name) => name.toLowerCase() === column.toLowerCase());
    if (index < 0) {
      throw queryError(
        context,
        statement,
        `column "${column}" of relation "${table.schema}.${table.name}" does not exist`,
        "42703",
      );
    }
    return index;
  });
  const duplicate = positions.find((p, i) => positions.indexOf(p) !== i);
  if (duplicate !== undefined) {
    const name = target[duplicate] ?? "";
    throw queryError(context, statement, `column "${name}" specified more than once`, "42701");
  }
  const appender = await connection.createAppender(target.table, target.schema);
  const types = target.map((_, i) => appender.columnType(i));
  const sourceOf: number[] = target.map(() => -1);
  positions.forEach((position, i) => (sourceOf[position] = i));
  const rejected = (error: unknown, column: number, line: number) => {
    if (!(error instanceof ValueRejected)) return error;
    return queryError(
      context,
      statement,
      `${error.message} (column ${target[column]}, line ${line})`,
      error.sqlState,
    );
  };
  const converters = types.map(valueConverter);
  const sink = sourceOf.every((s) => s >= 0) && converters.every((c) => c !== undefined)
    ? chunkSink(appender, types, converters as ValueConverter[], sourceOf, rejected)
    : rowSink(appender, types, sourceOf, rejected);
  const width = columns.length;
  let count = 0;
  const take = (row: readonly SqlValue[]) => {
    if (!Array.isArray(row) || row.length !== width) {
      const got = Array.isArray(row) ? `${row.length} values` : typeof row;
      throw new RangeError(`Cannot load row ${count}: it has ${got}, expected ${width} values`);
    }
    sink.add(row, ++count);
  };
  try {
    if (Symbol.asyncIterator in rows) {
      const iterator = rows[Symbol.asyncIterator]();
      for (let next = await nextRow(iterator); !next.done; next = await nextRow(iterator)) {
        take(next.value);
      }
    } else {
      // Walked synchronously: an `await` per row would cost more than appending it.
      const iterator = rows[Symbol.iterator]();
      for (let next = nextRowSync(iterator); !next.done; next = nextRowSync(iterator)) {
        take(next.value);
      }
    }
    sink.finish();
    appender.closeSync(); // flushes: constraint violations surface here
  } catch (error) {
    discard(appender);
    throw error;
  }
  return count;
}

/** Where converted rows go: whole data chunks, or the appender row by row. */
interface Sink {
  /** Adds row number `line` (1-based). */
  add(row: readonly SqlValue[], line: number): void;
  /** Hands over what is still buffered. */
  finish(): void;
}

type Rejected = (error: unknown, column: number, line: number) => unknown;

/**
 * Rows gathered into data chunks of DuckDB's vector size: the fast path, used
 * when the load names every column of the table and each has a converter
 * (per-row appends cost up to 25 µs a value for DECIMAL; a chunk ~1 µs).
 */
function chunkSink(
  appender: DuckDBAppender,
  types: readonly DuckDBType[],
  converters: readonly ValueConverter[],
  sourceOf: readonly number[],
  rejected: Rejected,
): Sink {
  const size = CHUNK_ROWS;
  const chunk = DuckDBDataChunk.create(types);
  const columns: DuckDBValue[][] = types.map(() => new Array<DuckDBValue>(size));
  let filled = 0;
  const flush = () => {
    if (filled === 0) return;
    chunk.setColumns(filled === size ? columns : columns.map((c) => c.slice(0, filled)));
    appender.appendDataChunk(chunk);
    filled = 0;
  };
  return {
    add(row, line) {
      for (let c = 0; c < columns.length; c++) {
        const value = row[sourceOf[c] as number];
        try {
          (columns[c] as DuckDBValue[])[filled] = value === null || value === undefined
            ? null
            : (converters[c] as ValueConverter)(value);
        } catch (error) {
          throw rejected(error, c, line);
        }
      }
      if (++filled === size) flush();
    },
    finish: flush,
  };
}

/** Row by row through the appender, with the columns' defaults for columns not loaded. */
function rowSink(
  appender: DuckDBAppender,
  types: readonly DuckDBType[],
  sourceOf: readonly number[],
  rejected: Rejected,
): Sink {
  const writers = types.map((type, c) =>
    (sourceOf[c] as number) >= 0 ? columnWriter(type) : undefined
  );
  return {
    add(row, line) {
      for (let c = 0; c < writers.length; c++) {
        const write = writers[c];
        if (write === undefined) {
          appender.appendDefault();
          continue;
        }
        const value = row[sourceOf[c] as number];
        if (value === null || value === undefined) appender.appendNull();
        else {
          try {
            write(appender, value);
          } catch (error) {
            throw rejected(error, c, line);
          }
        }
      }
      appender.endRow();
      if (line % FLUSH_ROWS === 0) appender.flushSync();
    },
    finish() {},
  };
}

type RowResult = IteratorResult<readonly SqlValue[]>;

/** The next of the caller's rows; what their iterator throws is theirs (see `RowSourceError`). */
async function nextRow(iterator: AsyncIterator<readonly SqlValue[]>): Promise<RowResult> {
  try {
    return await iterator.next();
  } catch (error) {
    throw new RowSourceError(error);
  }
}

function nextRowSync(iterator: Iterator<readonly SqlValue[]>): RowResult {
  try {
    return iterator.next();
  } catch (error) {
    throw new RowSourceError(error);
  }
}

/** Drops what an appender still buffers, after a failure that already decides the outcome. */
function discard(appender: DuckDBAppender): void {
  try {
    appender.clear();
    appender.closeSync();
  } catch {
    // the load failed already; the transaction's rollback discards the rest
  }
}

/** The target table's column names in order, plus its exact schema and name as stored. */
async function targetColumns(
  connection: DuckDBConnection,
  statement: string,
  table: TableRef,
): Promise<string[] & { schema: string; table: string }> {
  const reader = await connection.runAndReadAll(
    `SELECT schema_name, table_name, column_name FROM duckdb_columns()
     WHERE database_name = current_database() AND lower(schema_name) = lower($1)
       AND lower(table_name) = lower($2) AND NOT internal
     ORDER BY column_index`,
    [table.schema, table.name],
  );
  const rows = reader.getRows();
  const first = rows[0];
  if (!first) {
    throw new WarehouseQueryError(
      `Cannot run "${statement}" on the warehouse: relation "${table.schema}.${table.name}" ` +
        "does not exist; SQLSTATE 42P01",
      statement,
      "42P01",
    );
  }
  return Object.assign(rows.map((r) => String(r[2])), {
    schema: String(first[0]),
    table: String(first[1]),
  });
}

function queryError(
  context: { readonly location: string },
  statement: string,
  message: string,
  sqlState: string,
): WarehouseQueryError {
  return new WarehouseQueryError(
    `Cannot run "${statement}" on the warehouse: ${message}; SQLSTATE ${sqlState}`,
    statement,
    sqlState,
    { input: context.location },
  );
}
