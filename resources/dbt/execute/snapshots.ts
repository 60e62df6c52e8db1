/**
 * Snapshots (type-2 slowly changing dimensions), as dbt builds them: the
 * first run copies the rows with `dbt_scd_id`, `dbt_updated_at`,
 * `dbt_valid_from` and `dbt_valid_to` (null while current); later runs close
 * the current version of every changed record and insert its new version.
 * A record is changed when its `updated_at` is newer (timestamp strategy)
 * or a `check_cols` value differs (check strategy). Records gone from the
 * source stay current (`hard_deletes: ignore`), are closed (`invalidate`),
 * or are closed and get a deletion row with `dbt_is_deleted` (`new_record`).
 *
 * @module
 */

import type { Warehouse } from "../../warehouse/types.ts";
import type { ModelNode } from "../nodes.ts";
import { quote } from "../relation.ts";
import { adapterOf } from "../adapters/adapter_for.ts";

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
  return await warehouse.transaction(async (tx) => {
    const existed = await tx.tableExists(node.relation.schema, node.relation.identifier);
    if (!existed) {
      const rows = await tx.execute(
        `create table ${target} as (select src.*, ${scd} as dbt_scd_id, ${updated} as dbt_updated_at, ` +
          `${updated} as dbt_valid_from, cast(null as timestamp) as dbt_valid_to` +
          `${
            s.hardDeletes === "new_record" ? ", false as dbt_is_deleted" : ""
          } from (\n${sql}\n) src)`,
      );
      return { rows, existed, message: `SELECT ${rows}` };
    }
    const tmpName = `${node.relation.identifier}__dbt_snapshot_src`;
    const tmp = quote(tmpName);
    const temp = adapter.tempTable(tmp);
    await tx.execute(`${temp.prefix}${sql}\n)`);
    const columns = (await adapter.tempColumns(tx, tmpName)).map((c) => c.name);
    const joinOn = s.uniqueKey.map((k) => `cur.${quote(k)} = src.${quote(k)}`).join(" and ");
    const changed = s.strategy === "timestamp"
      ? `src.${quote(s.updatedAt as string)} > cur.dbt_updated_at`
      : (s.checkCols === "all" ? columns : s.checkCols)
        .map((c) => `cur.${quote(c)} is distinct from src.${quote(c)}`).join(" or ");
    const current = `cur.dbt_valid_to is null${
      s.hardDeletes === "new_record" ? " and not cur.dbt_is_deleted" : ""
    }`;
    // Close changed records.
    let rows = await tx.execute(
      `update ${target} cur set dbt_valid_to = ${updated.replaceAll("src.", "src.")}
       from ${tmp} src where ${joinOn} and ${current} and (${changed})`,
    );
    // Insert new versions and new records.
    const list = columns.map((c) => `src.${quote(c)}`).join(", ");
    const colList = columns.map(quote).join(", ");
    rows += await tx.execute(
      `insert into ${target} (${colList}, dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to${
        s.hardDeletes === "new_record" ? ", dbt_is_deleted" : ""
      })
       select ${list}, ${scd}, ${updated}, ${updated}, null${
        s.hardDeletes === "new_record" ? ", false" : ""
      }
       from ${tmp} src
       where not exists (select 1 from ${target} cur where ${joinOn} and ${current})`,
    );
    if (s.hardDeletes !== "ignore") {
      const gone = `not exists (select 1 from ${tmp} src where ${joinOn})`;
      if (s.hardDeletes === "new_record") {
        rows += await tx.execute(
          `insert into ${target} (${colList}, dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to, dbt_is_deleted)
           select ${
            columns.map((c) => `cur.${quote(c)}`).join(", ")
          }, md5(cur.dbt_scd_id || 'deleted'), ${now}, ${now}, null, true
           from ${target} cur where ${current} and ${gone}`,
        );
        rows += await tx.execute(
          `update ${target} cur set dbt_valid_to = ${now}
           where cur.dbt_valid_to is null and not cur.dbt_is_deleted and ${gone}`,
        );
      } else {
        rows += await tx.execute(
          `update ${target} cur set dbt_valid_to = ${now} where ${current} and ${gone}`,
        );
      }
    }
    if (temp.drop) await tx.execute(temp.drop);
    return { rows, existed, message: `SNAPSHOT ${rows}` };
  });
}
