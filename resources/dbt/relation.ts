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

  /** Creates a relation; `cte` (or `external`) makes it print as that instead. */
  constructor(
    database: string,
    schema: string,
    identifier: string,
    cte?: string,
    external?: string,
  ) {
    this.database = database;
    this.schema = schema;
    this.identifier = identifier;
    this.cte = cte;
    this.external = external;
  }

  /** Same as `identifier` (dbt's `this.name`). */
  get name(): string {
    return this.identifier;
  }

  /** `"schema"."identifier"`, the CTE name of an ephemeral model, or an external source's SQL. */
  toString(): string {
    return this.cte ?? this.external ?? `${quote(this.schema)}.${quote(this.identifier)}`;
  }
}

/** Double-quotes an identifier, doubling embedded quotes. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
