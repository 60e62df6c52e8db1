/**
 * `dbt show`: runs a node's compiled SQL (or an inline query, Jinja with
 * `ref()` / `source()`) and previews its first rows, as dbt-core 1.8 prints
 * them: `Previewing node 'x':` then agate's table, or `--output json`'s
 * `{"node": ..., "show": [...]}`.
 *
 * @module
 */

import { toError } from "../../core/errors.ts";
import { printTableLines } from "./jinja/print_table.ts";
import type { DbtProject, QueryRunner } from "./nodes.ts";

/** What one preview shows. */
export interface ShowRequest {
  /** The node's name (`x`, `x.v2`), or undefined for `--inline`. */
  readonly name: string | undefined;
  /** Where its SQL comes from, for the error message (`models/x.sql`, `--inline`). */
  readonly origin: string;
  /** Compiles the SQL to run. */
  readonly sql: () => Promise<string>;
}

/** Options of {@linkcode showPreview}. */
export interface ShowOptions {
  /** Rows shown; negative shows all (dbt's `--limit -1`). */
  readonly limit: number;
  /** `text` (agate's table) or `json`. */
  readonly output: "text" | "json";
  /** Runs the query. */
  readonly query: QueryRunner;
  /** Prints one line. */
  readonly out: (line: string) => void;
  /** Prints an error line. */
  readonly err: (line: string) => void;
}

/**
 * Previews one node or inline query; false (the error said) when it does
 * not compile or the warehouse refuses it.
 */
export async function showPreview(request: ShowRequest, options: ShowOptions): Promise<boolean> {
  const what = request.name === undefined ? "inline node" : `node '${request.name}'`;
  let columns: readonly string[];
  let rows: readonly (readonly unknown[])[];
  try {
    const sql = (await request.sql()).trim().replace(/;\s*$/, "");
    // As dbt's get_show_sql: the limit wraps the query, so its own ORDER BY is kept.
    const limited = options.limit < 0
      ? sql
      : `select * from (\n${sql}\n) as model_limit_subq\nlimit ${options.limit}`;
    ({ columns, rows } = await options.query(limited));
  } catch (error) {
    options.err(`error: Cannot preview ${what} (${request.origin}): ${toError(error).message}`);
    return false;
  }
  if (options.output === "json") {
    const show = rows.map((row) =>
      Object.fromEntries(columns.map((c, i) => [c, jsonValue(row[i])]))
    );
    options.out(
      JSON.stringify(
        { ...(request.name === undefined ? {} : { node: request.name }), show },
        null,
        2,
      ),
    );
    return true;
  }
  options.out(`Previewing ${what}:`);
  for (const line of printTableLines(columns, rows, { max_rows: null })) options.out(line);
  return true;
}

/** A value as JSON can hold it: a bigint as a number when exact, else its digits. */
function jsonValue(value: unknown): unknown {
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) {
    return `\\x${[...value].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }
  return value;
}

/** The request of a selected node: its compiled SQL, or a seed's or snapshot's table. */
export function nodeRequest(
  project: DbtProject,
  id: string,
  query: QueryRunner,
): ShowRequest | undefined {
  const node = project.nodes.get(id);
  if (node) {
    return {
      name: node.name,
      origin: node.file,
      sql: () =>
        node.resourceType === "model"
          ? project.compileNode(node.name, { isIncremental: false, query })
          : Promise.resolve(`select * from ${node.relation}`),
    };
  }
  const analysis = project.analyses.find((a) => a.uniqueId === id);
  if (analysis) {
    return { name: analysis.name, origin: analysis.file, sql: () => analysis.compile(query) };
  }
  return undefined;
}
