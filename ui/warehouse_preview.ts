/**
 * The first rows of a warehouse table or view an asset writes: which
 * relation (from the asset's static metadata `relation`/`table`/`tables`, or
 * its latest materialization's `relation`), and a bounded, read-only query
 * of it. Identifiers are validated and quoted; nothing from a request ever
 * reaches SQL except as a quoted identifier of a relation the graph names.
 *
 * @module
 */

import type { AssetDefinition } from "../core/asset.ts";
import { toError } from "../core/errors.ts";
import type { Metadata } from "../core/metadata.ts";
import { quoteTable } from "../resources/warehouse/sql.ts";
import type { UiContext } from "./context.ts";
import { empty, h, type Html } from "./html.ts";

/** A schema-qualified relation. */
export interface Relation {
  /** Schema. */
  readonly schema: string;
  /** Table or view. */
  readonly name: string;
}

/** Rows shown in a preview. */
export const PREVIEW_ROWS = 20;

/** One part of a relation: a quoted identifier (`""` inside for a quote) or a bare one. */
const RELATION_PART = /"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)/y;

/**
 * Parses `"schema"."name"`, `schema.name` or, as dbt prints a relation,
 * `"database"."schema"."name"` (the database is the warehouse the UI is
 * connected to, so only schema and name are kept); `undefined` for
 * anything else.
 */
export function parseRelation(text: string): Relation | undefined {
  const source = text.trim();
  const parts: string[] = [];
  let at = 0;
  while (at <= source.length) {
    RELATION_PART.lastIndex = at;
    const m = RELATION_PART.exec(source);
    if (!m) return undefined;
    parts.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2] as string);
    at = RELATION_PART.lastIndex;
    if (at === source.length) break;
    if (source[at] !== ".") return undefined;
    at++;
  }
  if (parts.length < 2 || parts.length > 3) return undefined;
  return { schema: parts.at(-2) as string, name: parts.at(-1) as string };
}

/** The relations `asset` writes, as far as its metadata says. */
export function relationOf(asset: AssetDefinition, latest: Metadata | undefined): Relation[] {
  const texts: string[] = [];
  const add = (value: unknown) => {
    if (typeof value === "string") texts.push(value);
    if (Array.isArray(value)) { for (const v of value) if (typeof v === "string") texts.push(v); }
  };
  if (asset.metadata.materialized !== "ephemeral") {
    add(asset.metadata.relation);
    add(asset.metadata.table);
    add(asset.metadata.tables);
    if (texts.length === 0 && latest && latest.materialized !== "ephemeral") add(latest.relation);
  }
  const seen = new Set<string>();
  return texts.map(parseRelation).filter((r): r is Relation => {
    if (!r || seen.has(`${r.schema}.${r.name}`)) return false;
    seen.add(`${r.schema}.${r.name}`);
    return true;
  });
}

/** The first rows of a relation. */
export interface Preview {
  /** Column names, in table order. */
  readonly columns: string[];
  /** Column types as the warehouse prints them (`""` when unknown). */
  readonly types: string[];
  /** Up to {@linkcode PREVIEW_ROWS} rows, values in column order. */
  readonly rows: unknown[][];
  /** Rows in the relation. */
  readonly total: number | null;
}

/**
 * Columns and first rows of `relation`; no columns when it does not exist
 * (yet).
 */
export async function readPreview(ctx: UiContext, relation: Relation): Promise<Preview> {
  return await ctx.withWarehouse(async (warehouse) => {
    const info = await warehouse.columns(relation.schema, relation.name);
    if (info.length === 0) return { columns: [], types: [], rows: [], total: null };
    const rows = await warehouse.query(
      `SELECT * FROM ${quoteTable(relation)} LIMIT ${PREVIEW_ROWS}`,
    );
    const [count] = await warehouse.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteTable(relation)}`,
    );
    const columns = rows[0] ? Object.keys(rows[0]) : info.map((c) => c.name);
    const typeOf = new Map(info.map((c) => [c.name, c.type]));
    const types = columns.map((c) => typeOf.get(c) ?? "");
    return {
      columns,
      types,
      rows: rows.map((row) => columns.map((c, i) => cellValue(row[c], types[i] ?? ""))),
      total: count?.n ?? null,
    };
  });
}

/** A `date` column's value as `YYYY-MM-DD` (drivers give a Date at midnight UTC). */
function cellValue(value: unknown, type: string): unknown {
  return value instanceof Date && /^date$/i.test(type) ? value.toISOString().slice(0, 10) : value;
}

/** A preview table for `relation`, or a line saying why it cannot be shown. */
export async function previewRows(ctx: UiContext, relation: Relation): Promise<Html> {
  try {
    const { columns, types, rows, total } = await readPreview(ctx, relation);
    if (columns.length === 0) {
      return empty(
        `${relation.schema}.${relation.name} does not exist yet: materialize this asset first.`,
      );
    }
    return h`<h3>${relation.schema}.${relation.name} <span class="muted">(${
      total ?? "?"
    } rows; first ${rows.length})</span></h3>
<div class="scroll"><table class="list preview" data-preview="${relation.schema}.${relation.name}"><thead><tr>${
      columns.map((c, i) => h`<th title="${types[i] ?? ""}">${c}</th>`)
    }</tr></thead><tbody>${
      rows.map((row) => h`<tr>${row.map((v) => h`<td>${cellText(v)}</td>`)}</tr>`)
    }</tbody></table></div>`;
  } catch (error) {
    return h`<p class="warn">Cannot preview ${relation.schema}.${relation.name}: ${
      toError(error).message
    }</p>`;
  }
}

/** A cell value as text. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  if (value instanceof Date) {
    return Number.isNaN(value.getTime())
      ? "invalid date"
      : value.toISOString().replace("T", " ").replace(".000Z", "Z");
  }
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
