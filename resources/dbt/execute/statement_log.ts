/**
 * The statements a build ran, kept for target/run/ (dbt writes the SQL it
 * executed there, beside the compiled SQL in target/compiled/): a session
 * that passes every call through and notes the text of each statement
 * (`execute`, `exec`, in transactions too). Catalog reads (`query`,
 * `queryTable`) are not statements of the build and are not noted.
 *
 * @module
 */

import type { Warehouse, WarehouseSession } from "../../warehouse/types.ts";

const STATEMENT_METHODS = new Set(["execute", "exec"]);

/** `session`, noting into `log` the SQL of each statement it runs, in order. */
export function loggingStatements<T extends WarehouseSession>(session: T, log: string[]): T {
  return new Proxy(session, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      if (typeof key === "string" && STATEMENT_METHODS.has(key)) {
        return (sql: string, ...rest: unknown[]) => {
          log.push(sql);
          return (value as (...a: unknown[]) => Promise<unknown>).call(target, sql, ...rest);
        };
      }
      if (key === "transaction") {
        return <R>(fn: (tx: WarehouseSession) => Promise<R>) =>
          (target as unknown as Warehouse).transaction((tx) => fn(loggingStatements(tx, log)));
      }
      return value.bind(target);
    },
  });
}

/** The noted statements as one SQL file, each ended by `;`. */
export function statementsText(log: readonly string[]): string {
  return log.map((sql) => `${sql.trim().replace(/;$/, "")};\n`).join("\n");
}
