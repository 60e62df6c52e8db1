/**
 * Relations (schema-qualified tables and views) as dbt's Jinja prints them,
 * and identifier quoting.
 *
 * @module
 */

/** A relation as Jinja sees it: prints as `"database"."schema"."identifier"`. */
export class Relation {
  /** Database (catalog) name. */
  readonly database: string;
  /** Schema name. */
  readonly schema: string;
  /** Table or view name. */
  readonly identifier: string;
  /** For an ephemeral model: the CTE name it prints as instead. */
  readonly cte: string | undefined;
  /**
   * For a source read in place (DuckDB `meta.external_location`): the file
   * literal or table function it prints as instead.
   */
  readonly external: string | undefined;
  /** Which parts print quoted (dbt's `quoting:`); all of them unless said otherwise. */
  readonly quoting: Readonly<Quoting>;
  /** `table`, `view`... when known (a relation found in the warehouse), else null. */
  type: string | null = null;
  /**
   * Which parts print (dbt's `include()`): all three by default, as dbt's
   * `BaseRelation.include_policy` (and dbt-postgres and dbt-duckdb, which keep
   * it). Leaving the database out breaks DuckDB when a schema shares the
   * database file's name (`gl.duckdb`, schema `gl`: "Ambiguous reference").
   */
  #parts: { database: boolean; schema: boolean; identifier: boolean } = {
    database: true,
    schema: true,
    identifier: true,
  };

  /** Creates a relation; `cte` (or `external`) makes it print as that instead. */
  constructor(
    database: string,
    schema: string,
    identifier: string,
    cte?: string,
    external?: string,
    quoting: Readonly<Partial<Quoting>> = {},
  ) {
    this.database = database;
    this.schema = schema;
    this.identifier = identifier;
    this.cte = cte;
    this.external = external;
    this.quoting = {
      database: quoting.database ?? true,
      schema: quoting.schema ?? true,
      identifier: quoting.identifier ?? true,
    };
  }

  /** Same as `identifier` (dbt's `this.name`). */
  get name(): string {
    return this.identifier;
  }

  /**
   * `"database"."schema"."identifier"`, the CTE name of an ephemeral model, or an
   * external source's SQL; with an event-time filter (a microbatch model's
   * input), a subquery reading only the batch's window, as dbt prints it.
   */
  toString(): string {
    // dbt's --empty (dbt-adapters' render_limited): no rows, the columns kept.
    if (this.emptyLimit) {
      const alias = `_dbt_limit_subq_${this.identifier}`.replace(/\W/g, "_");
      return `(select * from ${this.#plain()} where false limit 0) ${alias}`;
    }
    const filter = this.eventTimeFilter;
    if (filter === undefined) return this.#plain();
    const alias = `_dbt_et_filter_subq_${this.identifier}`.replace(/\W/g, "_");
    return `(select * from ${this.#plain()} where ${filter.column} >= '${
      filterTime(filter.start)
    }' and ${filter.column} < '${filterTime(filter.end)}') ${alias}`;
  }

  #plain(): string {
    if (this.cte !== undefined) return this.cte;
    if (this.external !== undefined) return this.external;
    // Printed once: a big project prints each node's relation for every test on it.
    return this.#text ??= this.#print();
  }

  /**
   * The batch window this relation is read through inside a microbatch model
   * (the parent's `event_time` column, start inclusive, end exclusive, ms
   * since the epoch), or undefined.
   */
  eventTimeFilter: EventTimeFilter | undefined = undefined;

  /** Read as no rows (`--empty`): see {@linkcode withEmptyLimit}. */
  emptyLimit = false;

  /** A copy read as zero rows of the same columns, as `ref()`/`source()` are under `--empty`. */
  withEmptyLimit(): Relation {
    const copy = this.#copy({});
    copy.emptyLimit = true;
    return copy;
  }

  /** A copy read through `filter` (a microbatch batch's window). */
  withEventTimeFilter(filter: EventTimeFilter): Relation {
    const copy = this.#copy({});
    copy.eventTimeFilter = filter;
    return copy;
  }

  /**
   * dbt's `relation_name` in manifest.json and run_results.json:
   * `"database"."schema"."identifier"`, the database included as dbt-postgres
   * (and dbt-duckdb) write it, quoted as `quoting:` says; an external
   * source's SQL as it prints (the same as {@linkcode toString} unless
   * `include()` left a part out).
   */
  get relationName(): string {
    if (this.cte !== undefined || this.external !== undefined) return this.toString();
    return this.include({ database: true, schema: true, identifier: true, __keywords: true })
      .toString();
  }

  /** The text of {@linkcode toString}, kept: every part it reads is fixed once the copy is made. */
  #text: string | undefined;

  #print(): string {
    const parts: string[] = [];
    for (const part of ["database", "schema", "identifier"] as const) {
      const value = this[part];
      if (!this.#parts[part] || value === "") continue;
      parts.push(this.quoting[part] ? quote(value) : value);
    }
    return parts.join(".");
  }

  // dbt's Relation methods that macros call (`relation.include(database=false)`...). Keyword
  // arguments arrive as one object (nunjucks), positional ones in dbt's order.

  /**
   * `render()`: the relation's name as SQL, without a batch's event-time
   * filter (dbt's way to opt a microbatch model's input out of filtering:
   * `{{ ref('x').render() }}`).
   */
  render(): string {
    return this.#plain();
  }

  /** `is_table`: only a relation known to be a table (dbt: an untyped relation is not one). */
  get is_table(): boolean {
    return this.type === "table";
  }

  /** `is_view`. */
  get is_view(): boolean {
    return this.type === "view";
  }

  /** `is_cte`. */
  get is_cte(): boolean {
    return this.cte !== undefined;
  }

  /** dbt's relation metadata: packages tell a Relation from a string by its type's name. */
  get metadata(): { type: string } {
    return { type: "BaseRelation" };
  }

  /** `path`: the three names. */
  get path(): { database: string; schema: string; identifier: string } {
    return { database: this.database, schema: this.schema, identifier: this.identifier };
  }

  /** `relation.get('identifier')`: an attribute, or the default (dbt's API objects are mappings). */
  get(key: unknown, fallback: unknown = null): unknown {
    const name = String(key);
    if (!RELATION_KEYS.has(name)) return fallback;
    const value = (this as unknown as Record<string, unknown>)[name];
    return value === undefined ? fallback : value;
  }

  /** `include(database=, schema=, identifier=)`: a copy printing only those parts. */
  include(...args: unknown[]): Relation {
    const flags = partFlags(args);
    const copy = this.#copy({});
    copy.#parts = { ...this.#parts, ...flags };
    copy.#text = undefined;
    return copy;
  }

  /** `quote(database=, schema=, identifier=)`: a copy quoting those parts as told. */
  quote(...args: unknown[]): Relation {
    return this.#copy({ quoting: { ...this.quoting, ...partFlags(args) } });
  }

  /** `incorporate(path={...}, type=...)`: a copy with other names or type. */
  incorporate(...args: unknown[]): Relation {
    const kwargs = keywordsOf(args);
    const path = (kwargs.path ?? {}) as Record<string, unknown>;
    const copy = this.#copy({
      database: typeof path.database === "string" ? path.database : this.database,
      schema: typeof path.schema === "string" ? path.schema : this.schema,
      identifier: typeof path.identifier === "string" ? path.identifier : this.identifier,
    });
    if (typeof kwargs.type === "string") copy.type = kwargs.type;
    return copy;
  }

  /**
   * `information_schema(view_name)`: the database's information schema (dbt's
   * InformationSchema relation), `INFORMATION_SCHEMA.columns` unquoted, with
   * the database in front where this relation prints it; audit_helper and
   * other packages' `postgres__` macros read `from {{ relation.information_schema('columns') }}`.
   */
  information_schema(viewName?: unknown): Relation {
    const view = typeof viewName === "string" ? viewName : "";
    const info = new Relation(this.database, "INFORMATION_SCHEMA", view, undefined, undefined, {
      database: this.quoting.database,
      schema: false,
      identifier: false,
    });
    info.#parts = { database: this.#parts.database, schema: true, identifier: view !== "" };
    return info;
  }

  /** `information_schema_only()`: the information schema itself, no view. */
  information_schema_only(): Relation {
    return this.information_schema();
  }

  /** `without_identifier()`: the schema alone (`"schema"`). */
  without_identifier(): Relation {
    return this.include({ identifier: false, __keywords: true });
  }

  #copy(change: {
    database?: string;
    schema?: string;
    identifier?: string;
    quoting?: Quoting;
  }): Relation {
    const copy = new Relation(
      change.database ?? this.database,
      change.schema ?? this.schema,
      change.identifier ?? this.identifier,
      this.cte,
      this.external,
      change.quoting ?? this.quoting,
    );
    copy.type = this.type;
    copy.eventTimeFilter = this.eventTimeFilter;
    copy.emptyLimit = this.emptyLimit;
    copy.#parts = { ...this.#parts };
    copy.#text = undefined;
    return copy;
  }
}

/** A microbatch batch's window on a parent's event-time column. */
export interface EventTimeFilter {
  /** The parent's `event_time` column. */
  readonly column: string;
  /** Window start, inclusive (ms since the epoch, UTC). */
  readonly start: number;
  /** Window end, exclusive. */
  readonly end: number;
}

/** A UTC instant as dbt prints a batch bound: `2024-01-01 00:00:00+00:00`. */
export function filterTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  const fraction = iso.slice(20, 23) === "000" ? "" : `.${iso.slice(20, 23)}000`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}+00:00`;
}

/** What `Relation.get()` reads (dbt's relation fields and properties). */
const RELATION_KEYS = new Set([
  "database",
  "schema",
  "identifier",
  "name",
  "type",
  "metadata",
  "path",
  "is_table",
  "is_view",
  "is_cte",
  "quote_policy",
  "include_policy",
]);

function keywordsOf(args: readonly unknown[]): Record<string, unknown> {
  const last = args.at(-1);
  return typeof last === "object" && last !== null &&
      (last as { __keywords?: unknown }).__keywords === true
    ? last as Record<string, unknown>
    : {};
}

/** `database`, `schema`, `identifier` flags from positional or keyword arguments. */
function partFlags(args: readonly unknown[]): Partial<Quoting> {
  const kwargs = keywordsOf(args);
  const positional = kwargs === args.at(-1) ? args.slice(0, -1) : args;
  const out: { -readonly [K in keyof Quoting]?: boolean } = {};
  (["database", "schema", "identifier"] as const).forEach((part, i) => {
    const value = kwargs[part] ?? positional[i];
    if (typeof value === "boolean") out[part] = value;
  });
  return out;
}

/** dbt's `quoting:` of a relation: which parts print in double quotes. */
export interface Quoting {
  /** Quote the database name. */
  readonly database: boolean;
  /** Quote the schema name. */
  readonly schema: boolean;
  /** Quote the table or view name. */
  readonly identifier: boolean;
}

/**
 * `quoting:` as written in YAML (`{identifier: false}`), later layers
 * winning; anything not a boolean is left to the defaults.
 */
export function quotingOf(...layers: unknown[]): Partial<Quoting> {
  const out: { -readonly [K in keyof Quoting]?: boolean } = {};
  for (const layer of layers) {
    if (typeof layer !== "object" || layer === null) continue;
    for (const key of ["database", "schema", "identifier"] as const) {
      const value = (layer as Record<string, unknown>)[key];
      if (typeof value === "boolean") out[key] = value;
    }
  }
  return out;
}

/** Double-quotes an identifier, doubling embedded quotes. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
