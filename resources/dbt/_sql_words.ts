/**
 * SQL words the dbt runner's text scans share.
 *
 * @module
 */

/**
 * Words that may follow a table in FROM without being its alias (Postgres and
 * DuckDB): one list for the microbatch/`--empty` alias fix and DuckDB's
 * `information_schema` rewrite, which had drifted into two.
 */
export const NOT_ALIAS_WORDS: ReadonlySet<string> = new Set([
  "on",
  "join",
  "left",
  "right",
  "inner",
  "outer",
  "full",
  "cross",
  "natural",
  "where",
  "group",
  "order",
  "limit",
  "offset",
  "union",
  "intersect",
  "except",
  "having",
  "window",
  "using",
  "lateral",
  "fetch",
  "for",
  "qualify",
  "returning",
  "into",
  "and",
  "or",
  "then",
  "when",
  "else",
  "end",
  "tablesample",
  "positional",
  "asof",
  "anti",
  "semi",
  "pivot",
  "unpivot",
]);
