/**
 * Ephemeral models inlined as CTEs into the SQL that uses them.
 *
 * @module
 */

/** Leading blank lines and comments, which the CTEs go after. */
const LEAD = /^\s*(?:(?:--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)\s*)*/;

/**
 * Puts `ctes` in front of `sql`: into its own leading `WITH` when it has one
 * (after any leading blank lines and comments, such as what a leading
 * `{{ config(...) }}` leaves), else as a new `with ... ` prefix.
 *
 * @example
 * ```ts
 * import { injectCtes } from "./ctes.ts";
 * injectCtes("select * from __dbt__cte__a", [{ name: "__dbt__cte__a", sql: "select 1" }]);
 * // "with __dbt__cte__a as (\nselect 1\n)\nselect * from __dbt__cte__a"
 * ```
 */
export function injectCtes(sql: string, ctes: readonly { name: string; sql: string }[]): string {
  if (ctes.length === 0) return sql;
  const list = ctes.map((cte) => `${cte.name} as (\n${cte.sql.trim()}\n)`).join(", ");
  const lead = LEAD.exec(sql)?.[0] ?? "";
  const rest = sql.slice(lead.length);
  const withMatch = /^with\s+(?!recursive\b)/i.exec(rest);
  if (withMatch) return `${lead}with ${list},\n${rest.slice(withMatch[0].length)}`;
  const recursive = /^with\s+recursive\s+/i.exec(rest);
  if (recursive) return `${lead}with recursive ${list},\n${rest.slice(recursive[0].length)}`;
  return `${lead}with ${list}\n${rest}`;
}
