/**
 * The plain value of a YAML text as dbt's PyYAML reads it: js-yaml's core
 * schema with merge keys (`<<: *anchor`) and PyYAML's floats. One module for
 * the main thread (project/yaml.ts) and the parse worker
 * (project/yaml_worker.ts), so both read the same values; it imports js-yaml
 * and the float box alone, which keeps the worker's start-up short.
 *
 * Booleans and ints are PyYAML's (YAML 1.1): `yes`/`no`/`on`/`off` are
 * booleans (`y`/`n` strings), `010` is 8 and `08` a string.
 * Floats are PyYAML's (YAML 1.1): `1.0`, `1.5e+3`, `.5`, `1_000.0`; `1e3` and
 * `1.0e3` (no dot, or no exponent sign) are strings, as dbt reads them. A float
 * with an integral value (`rate: 1.0`) is a {@linkcode PyFloat}, so
 * `{{ var('rate') }}` prints `1.0` as in dbt (a JavaScript number would print
 * `1`), and a generic test's `values: [1.0]` names and quotes `1.0`. The box
 * survives neither a worker's structured clone (it arrives as a plain
 * `Number` object) nor JSON (the parse cache): {@linkcode reviveFloats} and
 * {@linkcode toCachedYaml} / {@linkcode fromCachedYaml} carry it across.
 *
 * @module
 */

import {
  CORE_SCHEMA,
  defineScalarTag,
  dump,
  DUMP_SCHEMA,
  floatCoreTag,
  floatYaml11Tag,
  intYaml11Tag,
  load,
  loadAll,
  mergeTag,
  NOT_RESOLVED,
} from "js-yaml";
import { formatFloat, PyFloat } from "../jinja/py_number.ts";

/** Integral floats boxed so far in this thread: a parse that moved it holds a box. */
let boxed = 0;

/** PyYAML's implicit floats, integral ones boxed; `!!float 1` is a float too. */
const FLOAT_TAG = defineScalarTag<number | PyFloat>("tag:yaml.org,2002:float", {
  implicit: true,
  implicitFirstChars: floatYaml11Tag.implicitFirstChars,
  resolve(source, isExplicit, tagName) {
    let value = floatYaml11Tag.resolve(source, isExplicit, tagName);
    if (value === NOT_RESOLVED && isExplicit) {
      value = floatCoreTag.resolve(source, isExplicit, tagName);
    }
    if (typeof value !== "number") return value;
    // Counted: JSON would lose an integral float's float-ness, and inf / nan (null in JSON).
    if (Number.isInteger(value) || !Number.isFinite(value)) boxed++;
    return Number.isInteger(value) ? new PyFloat(value) : value;
  },
  // Dumping (`toyaml`): a boxed float as PyYAML writes it (`1.0`), other floats as js-yaml does.
  identify: (data) => data instanceof PyFloat || floatYaml11Tag.identify(data),
  represent(data) {
    if (!(data instanceof PyFloat)) return floatYaml11Tag.represent(data);
    const text = formatFloat(data.valueOf());
    return text.includes("e") && !text.includes(".") ? text.replace("e", ".0e") : text;
  },
});

/** PyYAML's booleans (YAML 1.1 without js-yaml's `y` / `n`, which PyYAML reads as strings). */
const BOOLEANS: Readonly<Record<string, boolean>> = {
  ...Object.fromEntries(
    ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"].map((t) => [t, true]),
  ),
  ...Object.fromEntries(
    ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"].map((t) => [t, false]),
  ),
};

const BOOL_TAG = defineScalarTag<boolean>("tag:yaml.org,2002:bool", {
  implicit: true,
  implicitFirstChars: [..."yYtTfFoOnN"],
  resolve: (source) => Object.hasOwn(BOOLEANS, source) ? BOOLEANS[source] as boolean : NOT_RESOLVED,
  identify: (data) => typeof data === "boolean",
  represent: (data) => data ? "true" : "false",
});

// PyYAML's ints too: `010` is octal 8, `08` and `0o17` are strings, `1_000` is 1000.
const SCHEMA = CORE_SCHEMA.withTags(mergeTag, FLOAT_TAG, BOOL_TAG, intYaml11Tag);
const DUMP = DUMP_SCHEMA.withTags(FLOAT_TAG);

/**
 * The value of `text`: `{}` for an empty document and for a file with no
 * document at all (empty, or only comments: a schema.yml commented out,
 * which dbt reads as no properties); throws js-yaml's error (with `mark`).
 */
export function yamlValue(text: string, file: string): unknown {
  return parseYamlValue(text, file).value;
}

/** {@linkcode yamlValue}, and whether the value holds a boxed float (which JSON would lose). */
export function parseYamlValue(text: string, file: string): { value: unknown; floats: boolean } {
  const before = boxed;
  const value = loadValue(text, file);
  return { value, floats: boxed !== before };
}

function loadValue(text: string, file: string): unknown {
  return loadDocument(text, file) ?? {};
}

/** The value of the one document of `text`, `undefined` when it holds none. */
function loadDocument(text: string, file?: string): unknown {
  const options = file === undefined ? { schema: SCHEMA } : { schema: SCHEMA, filename: file };
  try {
    return load(text, options);
  } catch (error) {
    // js-yaml's load refuses a source with no document; loadAll reads it as none.
    let documents = -1;
    try {
      documents = loadAll(text, options).length;
    } catch {
      // Not YAML either way: the first error is the one reported.
    }
    if (documents === 0) return undefined;
    throw error;
  }
}

/** The value of a YAML text as PyYAML's safe_load gives it (`null` for no document): `fromyaml`. */
export function loadPyYaml(text: string): unknown {
  return loadDocument(text) ?? null;
}

/** `value` as YAML text, its integral floats written as floats (`1.0`): `toyaml`. */
export function dumpPyYaml(value: unknown): string {
  return dump(value, { schema: DUMP, sortKeys: false, lineWidth: -1 });
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
    /** Whether it holds boxed floats (after a structured clone: {@linkcode reviveFloats}). */
    readonly floats: boolean;
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
    return { kind: "parsed", text, readAt, ...parseYamlValue(text, file) };
  } catch {
    return { kind: "invalid", text, readAt };
  }
}

/**
 * `read` as this thread can use it: a structured clone (the worker's message)
 * turns each boxed float into a plain `Number` object, boxed again here.
 */
export function reviveFloats(read: YamlRead): YamlRead {
  if (read.kind !== "parsed" || !read.floats) return read;
  return {
    ...read,
    value: mapFloats(read.value, (n) => n instanceof Number ? new PyFloat(n.valueOf()) : undefined),
  };
}

/** Marks a float JSON cannot hold (`1.0`, `-0.0`, `inf`), as Python's repr: `{"\u0000float": "1.0"}`. */
const FLOAT_MARK = "\u0000float";
/** Marks a cached YAML value that holds marked floats. */
const FLOATS_MARK = "\u0000floats";

/**
 * The form of a YAML value the JSON parse cache stores: the value itself,
 * or, when it holds boxed floats, a wrapper with each float marked.
 */
export function toCachedYaml(value: unknown, floats: boolean): unknown {
  if (!floats) return value;
  return {
    [FLOATS_MARK]: mapFloats(value, (n) => {
      const float = n instanceof PyFloat || (typeof n === "number" && !Number.isFinite(n));
      return float ? { [FLOAT_MARK]: formatFloat(Number(n)) } : undefined;
    }),
  };
}

/** The YAML value of a parse cache entry written by {@linkcode toCachedYaml}. */
export function fromCachedYaml(entry: unknown): unknown {
  if (typeof entry !== "object" || entry === null || !Object.hasOwn(entry, FLOATS_MARK)) {
    return entry;
  }
  return mapFloats((entry as Record<string, unknown>)[FLOATS_MARK], (n) => {
    if (typeof n !== "object" || n === null || !Object.hasOwn(n, FLOAT_MARK)) return undefined;
    const text = String((n as Record<string, unknown>)[FLOAT_MARK]);
    const value = text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
    return Number.isInteger(value) ? new PyFloat(value) : value;
  });
}

/**
 * A copy of `value` with each node that `replace` answers replaced by the
 * answer (`undefined`: keep walking). Lists and plain mappings are walked.
 */
function mapFloats(value: unknown, replace: (node: unknown) => unknown): unknown {
  const replaced = replace(value);
  if (replaced !== undefined) return replaced;
  if (Array.isArray(value)) return value.map((item) => mapFloats(item, replace));
  if (typeof value !== "object" || value === null || value instanceof Number) return value;
  // fromEntries defines each key, so a `__proto__` key stays a key.
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, mapFloats(item, replace)]),
  );
}
