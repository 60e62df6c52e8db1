/**
 * Snapshots (type-2 slowly changing dimensions), as dbt builds them: the
 * first run copies the rows with `dbt_scd_id`, `dbt_updated_at`,
 * `dbt_valid_from` and `dbt_valid_to` (null while current); later runs close
 * the current version of every changed record and insert its new version.
 * A record is changed when its `updated_at` is newer (timestamp strategy)
 * or a `check_cols` value differs (check strategy). Records gone from the
 * source stay current (`hard_deletes: ignore`), are closed (`invalidate`),
 * or are closed and get a deletion row with `dbt_is_deleted` (`new_record`):
 * text `'True'` on the deletion row and `'False'` elsewhere, as dbt-adapters
 * writes it (a table dbt made reads the same; one made before as boolean
 * still compares, the literals cast to it).
 * The meta columns take the names `snapshot_meta_column_names` gives, and
 * current rows the `dbt_valid_to_current` value instead of null when set.
 *
 * @module
 */

import type { Warehouse } from "../../warehouse/types.ts";
import type { ModelNode } from "../nodes.ts";
import { quote } from "../relation.ts";
import { adapterOf } from "../adapters/adapter_for.ts";
import { runSqlHeader } from "./model_extras.ts";

/** What a snapshot run did. */
export interface SnapshotResult {
  /** Rows inserted or closed. */
  readonly rows: number;
  /** Whether the snapshot table existed before. */
  readonly existed: boolean;
  /** dbt-like status. */
  readonly message: string;
}

/** Runs snapshot `node` whose source query is `sql`, at `nowMs`. */
export async function runSnapshot(
  warehouse: Warehouse,
  node: ModelNode,
  sql: string,
  nowMs: number,
): Promise<SnapshotResult> {
  const s = node.snapshot;
  if (!s) throw new RangeError(`Cannot snapshot '${node.name}': not a snapshot`);
  const target = node.relation.toString();
  const key = s.uniqueKey.map((k) => `src.${quote(k)}`).join(` || '|' || `);
  const adapter = adapterOf(warehouse);
  const now = `'${new Date(nowMs).toISOString()}'::timestamp`;
  const updated = s.strategy === "timestamp" ? `src.${quote(s.updatedAt as string)}` : now;
  const scd =
    `md5(coalesce(cast(${key} as text), '') || '|' || coalesce(cast(${updated} as text), ''))`;
  // Meta columns under the project's names (snapshot_meta_column_names); current rows carry
  // dbt_valid_to_current instead of null when it is set (a far-future date, for BI joins).
  const m = s.metaColumns;
  const [validFrom, validTo, scdId, updatedAt, isDeleted] = [
    quote(m.dbt_valid_from),
    quote(m.dbt_valid_to),
    quote(m.dbt_scd_id),
    quote(m.dbt_updated_at),
    quote(m.dbt_is_deleted),
  ];
  const openTo = s.validToCurrent === undefined
    ? "cast(null as timestamp)"
    : `cast(${s.validToCurrent} as timestamp)`;
  const isOpen = (alias: string) =>
    s.validToCurrent === undefined
      ? `${alias}.${validTo} is null`
      : `(${alias}.${validTo} is null or ${alias}.${validTo} = ${openTo})`;
  const newRecord = s.hardDeletes === "new_record";
  // dbt-adapters' `'True' as dbt_is_deleted` / `'False' as ...`: text, compared with 'True'.
  const deleted = (alias: string) => `${alias}.${isDeleted} = 'True'`;
  return await warehouse.transaction(async (tx) => {
    const existed = await tx.tableExists(node.relation.schema, node.relation.identifier);
    if (!existed) {
      await runSqlHeader(tx, node.config.all);
      const rows = await tx.execute(
        `create table ${target} as (select src.*, ${scd} as ${scdId}, ${updated} as ${updatedAt}, ` +
          `${updated} as ${validFrom}, ${openTo} as ${validTo}` +
          `${newRecord ? `, 'False' as ${isDeleted}` : ""} from (\n${sql}\n) src)`,
      );
      return { rows, existed, message: `SELECT ${rows}` };
    }
    const tmpName = `${node.relation.identifier}__dbt_snapshot_src`;
    const tmp = quote(tmpName);
    const temp = adapter.tempTable(tmp);
    await runSqlHeader(tx, node.config.all);
    await tx.execute(`${temp.prefix}${sql}\n)`);
    const columns = (await adapter.tempColumns(tx, tmpName)).map((c) => c.name);
    const joinOn = s.uniqueKey.map((k) => `cur.${quote(k)} = src.${quote(k)}`).join(" and ");
    const changed = s.strategy === "timestamp"
      ? `src.${quote(s.updatedAt as string)} > cur.${updatedAt}`
      : (s.checkCols === "all" ? columns : s.checkCols)
        .map((c) => `cur.${quote(c)} is distinct from src.${quote(c)}`).join(" or ");
    const current = `${isOpen("cur")}${
      newRecord ? ` and not coalesce(${deleted("cur")}, false)` : ""
    }`;
    // Close changed records.
    let rows = await tx.execute(
      `update ${target} cur set ${validTo} = ${updated}
       from ${tmp} src where ${joinOn} and ${current} and (${changed})`,
    );
    // A deleted record back in the source: its deletion row is closed (the new version is
    // inserted below), as dbt-adapters' `snapshotted_data.dbt_is_deleted = 'True'` update does;
    // it stayed current beside the new row before.
    if (newRecord) {
      rows += await tx.execute(
        `update ${target} cur set ${validTo} = ${updated}
         from ${tmp} src where ${joinOn} and ${isOpen("cur")} and ${deleted("cur")}`,
      );
    }
    // Insert new versions and new records.
    const list = columns.map((c) => `src.${quote(c)}`).join(", ");
    const colList = columns.map(quote).join(", ");
    rows += await tx.execute(
      `insert into ${target} (${colList}, ${scdId}, ${updatedAt}, ${validFrom}, ${validTo}${
        newRecord ? `, ${isDeleted}` : ""
      })
       select ${list}, ${scd}, ${updated}, ${updated}, ${openTo}${newRecord ? ", 'False'" : ""}
       from ${tmp} src
       where not exists (select 1 from ${target} cur where ${joinOn} and ${current})`,
    );
    if (s.hardDeletes !== "ignore") {
      const gone = `not exists (select 1 from ${tmp} src where ${joinOn})`;
      if (newRecord) {
        rows += await tx.execute(
          `insert into ${target} (${colList}, ${scdId}, ${updatedAt}, ${validFrom}, ${validTo}, ${isDeleted})
           select ${
            columns.map((c) => `cur.${quote(c)}`).join(", ")
          }, md5(cur.${scdId} || 'deleted'), ${now}, ${now}, ${openTo}, 'True'
           from ${target} cur where ${current} and ${gone}`,
        );
        rows += await tx.execute(
          `update ${target} cur set ${validTo} = ${now}
           where ${isOpen("cur")} and not coalesce(${deleted("cur")}, false) and ${gone}`,
        );
      } else {
        rows += await tx.execute(
          `update ${target} cur set ${validTo} = ${now} where ${current} and ${gone}`,
        );
      }
    }
    if (temp.drop) await tx.execute(temp.drop);
    return { rows, existed, message: `SNAPSHOT ${rows}` };
  });
}
