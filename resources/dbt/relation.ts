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

  /** Creates a relation; `cte` makes it print as that CTE name. */
  constructor(database: string, schema: string, identifier: string, cte?: string) {
    this.database = database;
    this.schema = schema;
    this.identifier = identifier;
    this.cte = cte;
  }

  /** Same as `identifier` (dbt's `this.name`). */
  get name(): string {
    return this.identifier;
  }

  /** `"schema"."identifier"`, or the CTE name for an ephemeral model. */
  toString(): string {
    return this.cte ?? `${quote(this.schema)}.${quote(this.identifier)}`;
  }
}

/** Double-quotes an identifier, doubling embedded quotes. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
