/**
 * The plain value of a YAML text as dbt's PyYAML reads it: js-yaml's core
 * schema with merge keys (`<<: *anchor`). One module for the main thread
 * (project/yaml.ts) and the parse worker (project/yaml_worker.ts), so both
 * read the same values; it imports js-yaml alone, which keeps the worker's
 * start-up short.
 *
 * @module
 */

import { CORE_SCHEMA, load, mergeTag } from "js-yaml";

const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

/** The value of `text` (`{}` for an empty document); throws js-yaml's error (with `mark`). */
export function yamlValue(text: string, file: string): unknown {
  return load(text, { schema: SCHEMA, filename: file }) ?? {};
}
