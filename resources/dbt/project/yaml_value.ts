/**
 * The plain value of a YAML text as dbt's PyYAML reads it: js-yaml's core
 * schema with merge keys (`<<: *anchor`). One module for the main thread
 * (project/yaml.ts) and the parse worker (project/yaml_worker.ts), so both
 * read the same values; it imports js-yaml alone, which keeps the worker's
 * start-up short.
 *
 * @module
 */

import { CORE_SCHEMA, load, loadAll, mergeTag } from "js-yaml";

const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

/**
 * The value of `text`: `{}` for an empty document and for a file with no
 * document at all (empty, or only comments: a schema.yml commented out,
 * which dbt reads as no properties); throws js-yaml's error (with `mark`).
 */
export function yamlValue(text: string, file: string): unknown {
  const options = { schema: SCHEMA, filename: file };
  try {
    return load(text, options) ?? {};
  } catch (error) {
    // js-yaml's load refuses a source with no document; loadAll reads it as none.
    let documents = -1;
    try {
      documents = loadAll(text, options).length;
    } catch {
      // Not YAML either way: the first error is the one reported.
    }
    if (documents === 0) return {};
    throw error;
  }
}

/** What one thread read of one property file. */
export type YamlRead =
  | {
    /** Read and parsed. */
    readonly kind: "parsed";
    /** Its text. */
    readonly text: string;
    /** Wall time (ms) just before it was read. */
    readonly readAt: number;
    /** js-yaml's value. */
    readonly value: unknown;
  }
  | {
    /** Read, but not YAML: parsed again where the error is reported. */
    readonly kind: "invalid";
    /** Its text. */
    readonly text: string;
    /** Wall time (ms) just before it was read. */
    readonly readAt: number;
  }
  | {
    /** Not read (gone, unreadable): read again where the error is reported. */
    readonly kind: "unread";
  };

/**
 * Reads and parses the property file at `path` (`file`: its name in the
 * project). Failures are answered, not thrown: the load reports them in file
 * order, by reading and parsing the file again on the main thread, which
 * throws the typed error naming the file and line.
 */
export function readYamlFile(path: string, file: string): YamlRead {
  const readAt = Date.now();
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return { kind: "unread" };
  }
  try {
    return { kind: "parsed", text, readAt, value: yamlValue(text, file) };
  } catch {
    return { kind: "invalid", text, readAt };
  }
}
