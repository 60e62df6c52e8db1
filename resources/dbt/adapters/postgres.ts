/**
 * The Postgres adapter (PGlite and PostgreSQL): catalog lookups in
 * `pg_catalog`, `on commit drop` temporary tables, seeds through the
 * warehouse's COPY bulk load. Its `postgres__` macros live with the global
 * project (`jinja/global_project.ts`), as dbt-core ships them.
 *
 * @module
 */

import type { WarehouseSession } from "../../warehouse/types.ts";
import { quote } from "../relation.ts";
import type { ColumnType, DbtAdapter, RelationKind, SeedLoad } from "./types.ts";

const TYPE_ALIASES: Readonly<Record<string, string>> = {
  int: "integer",
  int4: "integer",
  int8: "bigint",
  int2: "smallint",
  float: "double precision",
  float8: "double precision",
  float4: "real",
  varchar: "character varying",
  text: "text",
  bool: "boolean",
  timestamp: "timestamp without time zone",
  timestamptz: "timestamp with time zone",
  numeric: "numeric",
  decimal: "numeric",
  string: "text",
};

function toKind(relkind: string): RelationKind {
  if (relkind === "r" || relkind === "p") return "table";
  if (relkind === "v") return "view";
  return "other";
}

const COLUMNS_OF = `select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type
  from pg_catalog.pg_attribute a where a.attrelid = to_regclass($1) and a.attnum > 0
  and not a.attisdropped order by a.attnum`;

/** The Postgres adapter. */
export const postgresAdapter: DbtAdapter = {
  type: "postgres",
  macros: "",
  async relationKinds(session, schema, names) {
    if (names.length === 0) return new Map();
    const rows = await session.query<{ relname: string; relkind: string }>(
      `select c.relname::text as relname, c.relkind::text as relkind from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname = any(string_to_array($2, chr(1)))`,
      [schema, names.join("\u0001")],
    );
    return new Map(rows.map((r) => [r.relname, toKind(r.relkind)]));
  },
  tempTable(name) {
    return { prefix: `create temporary table ${name} on commit drop as (\n`, drop: undefined };
  },
  async tempColumns(session, name) {
    return await session.query<ColumnType>(COLUMNS_OF, [quote(name)]);
  },
  async queryColumns(session: WarehouseSession, sql: string) {
    const view = `__dbt_contract_${crypto.randomUUID().replaceAll("-", "")}`;
    await session.execute(`create temporary view ${view} as (\n${sql}\n)`);
    try {
      return await session.query<ColumnType>(COLUMNS_OF, [view]);
    } finally {
      await session.execute(`drop view if exists ${view}`);
    }
  },
  normalType(type) {
    const base = type.trim().toLowerCase().replace(/\(.*\)$/, "").trim();
    return TYPE_ALIASES[base] ?? base;
  },
  seedType: (inferred) => inferred,
  async loadSeed(tx, load: SeedLoad) {
    const { relation, columns, rows } = load;
    if (load.keepTable) await tx.execute(`delete from ${relation}`);
    else {
      await tx.execute(`drop table if exists ${relation} cascade`);
      await tx.execute(
        `create table ${relation} (${columns.map((c) => `${c.sql} ${c.type}`).join(", ")})`,
      );
    }
    if (rows.length === 0) return 0;
    return await tx.bulkLoad(
      { schema: relation.schema, name: relation.identifier },
      columns.map((c) => c.name),
      rows,
    );
  },
  async grant(session, privilege, relation, grantee) {
    await session.execute(`grant ${privilege} on ${relation} to ${quote(grantee)}`);
  },
};
