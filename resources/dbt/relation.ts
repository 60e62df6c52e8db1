/**
 * Relations (schema-qualified tables and views) as dbt's Jinja prints them,
 * and identifier quoting.
 *
 * @module
 */

/** A relation as Jinja sees it: prints as `"schema"."identifier"`. */
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

  /** `"schema"."identifier"`, the CTE name of an ephemeral model, or an external source's SQL. */
  toString(): string {
    if (this.cte !== undefined) return this.cte;
    if (this.external !== undefined) return this.external;
    const schema = this.quoting.schema ? quote(this.schema) : this.schema;
    return `${schema}.${this.quoting.identifier ? quote(this.identifier) : this.identifier}`;
  }
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
