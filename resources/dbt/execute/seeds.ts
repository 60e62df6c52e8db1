/**
 * Seeds: a CSV file loaded into a table, replaced whole on each run. Column
 * types come from `column_types`, else are inferred from the values
 * (integer, numeric, boolean, date, timestamp, else text), as dbt does, and
 * spelled by the adapter. The rows go in the adapter's way: the warehouse's
 * bulk load (COPY on PGlite and Postgres), DuckDB's own CSV reader.
 *
 * @module
 */

import type { Warehouse } from "../../warehouse/types.ts";
import { adapterOf } from "../adapters/adapter_for.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { ModelNode } from "../nodes.ts";
import { quote } from "../relation.ts";
import { toError } from "../../../core/errors.ts";

/**
 * Splits CSV text (RFC 4180: quoted fields, doubled quotes, newlines inside
 * quotes) into rows. A blank line after the first row is a row of one empty
 * field, as Python's csv module (and so dbt's agate) reads it; blank lines
 * before it are skipped. Throws `RangeError` at an unterminated quote.
 */
export function parseCsv(text: string, delimiter = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (row.length > 1 || row[0] !== "" || rows.length > 0) rows.push(row);
      row = [];
    } else field += c;
  }
  if (quoted) throw new RangeError("unterminated quoted field at the end of the file");
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const INTEGER = /^-?\d+$/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const BOOLEAN = /^(true|false)$/i;

/** The type dbt would infer for a column's values (empty values are null and say nothing). */
export function inferType(values: readonly string[]): string {
  const present = values.filter((v) => v !== "");
  if (present.length === 0) return "text";
  if (present.every((v) => INTEGER.test(v))) {
    return present.every((v) => Math.abs(Number(v)) < 2 ** 31) ? "integer" : "bigint";
  }
  if (present.every((v) => NUMBER.test(v))) return "numeric";
  if (present.every((v) => BOOLEAN.test(v))) return "boolean";
  if (present.every((v) => DATE.test(v))) return "date";
  if (present.every((v) => TIMESTAMP.test(v))) return "timestamp";
  return "text";
}

/**
 * Loads seed `node` into its relation in one transaction; returns rows. As
 * dbt does, a table that already has the file's columns is emptied and
 * refilled, so views over it survive `dbt seed`; a changed header, changed
 * column types or `fullRefresh` drop it (with what depends on it) and create
 * it anew.
 */
export async function loadSeed(
  warehouse: Warehouse,
  node: ModelNode,
  fullRefresh = false,
): Promise<number> {
  const seed = node.seed;
  if (!seed) throw new RangeError(`Cannot load '${node.name}': not a seed`);
  let rows: string[][];
  try {
    rows = parseCsv(await Deno.readTextFile(seed.csvPath), seed.delimiter);
  } catch (error) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `seed '${node.name}' cannot be read: ${toError(error).message}`,
      { file: node.file },
      error,
    );
  }
  const [header, ...rest] = rows;
  if (!header || header.length === 0 || header.every((h) => h.trim() === "")) {
    throw new DbtError(DbtErrorCode.invalidProject, `seed '${node.name}' has no header row`, {
      file: node.file,
      line: 1,
    });
  }
  const names = header.map((h) => h.trim());
  // A blank line is a row whose every value is null: agate pads a short row with nulls, and
  // dbt-utils' not_null_proportion test data counts on it (5 values in 10 rows, one blank).
  const isBlank = (r: readonly string[]) => r.length === 1 && r[0] === "" && names.length > 1;
  const blankLines = rest.filter(isBlank).length;
  const body = blankLines === 0 ? rest : rest.map((r) => isBlank(r) ? names.map(() => "") : r);
  const bad = body.findIndex((r) => r.length !== names.length);
  if (bad >= 0) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `seed '${node.name}': row ${bad + 2} has ${
        body[bad]?.length
      } fields, the header has ${names.length}`,
      { file: node.file, line: bad + 2 },
    );
  }
  const adapter = adapterOf(warehouse);
  const columns = names.map((name, i) => ({
    name,
    sql: seed.quoteColumns || !/^[a-z_][a-z0-9_]*$/.test(name) ? quote(name) : name,
    type: seed.columnTypes[name] ?? adapter.seedType(inferType(body.map((r) => r[i] ?? ""))),
  }));
  const relation = node.relation;
  await warehouse.ensureSchema(relation.schema);
  return await warehouse.transaction(async (tx) => {
    try {
      const live = fullRefresh ? [] : await tx.columns(relation.schema, relation.identifier);
      const keepTable = live.length === columns.length &&
        live.every((c, i) => {
          const want = columns[i];
          return want !== undefined && c.name === want.name &&
            adapter.normalType(c.type) === adapter.normalType(want.type);
        });
      return await adapter.loadSeed(tx, {
        keepTable,
        relation,
        csvPath: seed.csvPath,
        delimiter: seed.delimiter,
        columns,
        rows: body.map((r) => r.map((v) => (v === "" ? null : v))),
        blankLines,
      });
    } catch (error) {
      throw new DbtError(
        DbtErrorCode.modelFailed,
        `seed '${node.name}' does not load: ${toError(error).message}` +
          " (set column_types for the column named, or fix the value)",
        { file: node.file },
        error,
      );
    }
  });
}
