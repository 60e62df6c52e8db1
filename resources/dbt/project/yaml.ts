/**
 * Reads a YAML file and validates it with a zod schema, turning both syntax
 * and shape errors into a {@linkcode DbtError} that names the file and line.
 *
 * Values come from js-yaml (project/yaml_value.ts; about ten times faster than the `yaml` package
 * on large property files: 2.5 MB of schema.yml in ~0.25 s instead of
 * ~2.5 s, measured by bench/dbt.ts), with YAML merge keys (`<<: *anchor`)
 * as dbt's PyYAML reads them. Line numbers are worked out only when asked
 * for (an error, a test's line), from js-yaml's event stream of that one
 * file, which carries source offsets.
 *
 * @module
 */

import { type Event, EVENT_ID, getScalarValue, parseEvents } from "js-yaml";
import { z } from "zod";
import { PyFloat } from "../jinja/py_number.ts";
import { ParseCache } from "../_cache.ts";
import { digest } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { fromCachedYaml, parseYamlValue, toCachedYaml } from "./yaml_value.ts";

/** A parsed YAML file: its value and a way to find the line of any path in it. */
export interface YamlFile<T> {
  /** The validated value. */
  readonly value: T;
  /** File name relative to the project. */
  readonly file: string;
  /** 1-based line of the node at `path` (e.g. `["models", 2, "name"]`), or of its nearest parent. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

const SEP = "\u0001";

/**
 * Parses `text` (the content of `file`) as YAML and validates it with `schema`.
 * Throws `dbt.invalid_yaml` at the first syntax error or the first value that
 * does not fit, naming the line and the path of that value. With a `cache`,
 * an unchanged file is not parsed again. `parsed` is the value of `text`
 * when it was parsed already (by the parse worker, project/yaml_pool.ts).
 */
export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  cache: ParseCache = ParseCache.empty(),
  parsed?: { readonly value: unknown; readonly floats: boolean },
): YamlFile<z.output<S>> {
  // A reload in the same process (a daemon, a watch loop) parses and validates only what changed.
  const memoKey = `${file}\0${text.length}`;
  const memo = VALIDATED.get(memoKey);
  if (memo && memo.text === text && memo.schema === schema) {
    // Still written to partial_parse.json.
    if (cache.persistent) cache.keep(digest(`${file}\0${text}`), memo.cached);
    return memo.parsed as YamlFile<z.output<S>>;
  }
  // The JSON cache keeps boxed floats (`1.0`) in a form of its own (project/yaml_value.ts).
  const read = () => {
    const { value, floats } = parsed ?? readValue(text, file);
    return toCachedYaml(value, floats);
  };
  const cached = cache.persistent ? cache.yaml(digest(`${file}\0${text}`), read) : read();
  const value = fromCachedYaml(cached);
  const valid = validate(text, file, schema, value);
  VALIDATED.set(memoKey, { text, schema, parsed: valid, cached });
  if (VALIDATED.size > VALIDATED_MAX) VALIDATED.delete(VALIDATED.keys().next().value as string);
  return valid;
}

/**
 * `schema` for a number YAML may write as a float (`version: 1.0`, `limit:
 * 10.0`): the boxed float (project/yaml_value.ts) is validated as its plain
 * number. Free-form values (vars, meta, config) keep the box.
 */
export function yamlNumber<T extends z.ZodType = z.ZodNumber>(
  schema: T = z.number() as unknown as T,
): z.ZodPreprocess<T, unknown> {
  return z.preprocess((value) => value instanceof PyFloat ? value.valueOf() : value, schema);
}

/** Validated files of this process by file and length; the text is compared on a hit. */
const VALIDATED = new Map<
  string,
  { text: string; schema: unknown; parsed: YamlFile<unknown>; cached: unknown }
>();
const VALIDATED_MAX = 20_000;

function validate<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  value: unknown,
): YamlFile<z.output<S>> {
  let lines: Readonly<Record<string, number>> | undefined;
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    lines ??= linesOf(text, file);
    for (let depth = path.length; depth >= 0; depth--) {
      const line = lines[path.slice(0, depth).join(SEP)];
      if (line !== undefined) return line;
    }
    return undefined;
  };
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const path = (issue?.path ?? []).filter((p): p is string | number => typeof p !== "symbol");
    const where = path.length > 0 ? `at ${path.join(".")}: ` : "";
    throw new DbtError(
      DbtErrorCode.invalidYaml,
      `${where}${issue?.message ?? "unexpected shape"}`,
      { file, line: lineOf(path) },
    );
  }
  return { value: parsed.data, file, lineOf };
}

/** The plain value of `text`; a syntax error names the line. */
function readValue(text: string, file: string): { value: unknown; floats: boolean } {
  try {
    return parseYamlValue(text, file);
  } catch (error) {
    throw syntaxError(error, file);
  }
}

function syntaxError(error: unknown, file: string): DbtError {
  const mark = (error as { mark?: { line?: number } }).mark;
  const reason = (error as { reason?: unknown }).reason;
  const message = typeof reason === "string"
    ? reason
    : (error instanceof Error ? error.message : String(error)).split("\n")[0];
  return new DbtError(
    DbtErrorCode.invalidYaml,
    `invalid YAML: ${message}`,
    { file, line: mark?.line === undefined ? undefined : mark.line + 1 },
    error,
  );
}

interface Frame {
  readonly path: readonly (string | number)[];
  readonly mapping: boolean;
  index: number;
  key: string | undefined;
}

/** The 1-based line of every node of `text`, by path joined with {@linkcode SEP}. */
function linesOf(text: string, file: string): Record<string, number> {
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file });
  } catch (error) {
    throw syntaxError(error, file);
  }
  const starts: number[] = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  const lineAt = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const lines: Record<string, number> = {};
  const stack: Frame[] = [];
  // The path of the node an event opens, or undefined for a mapping key.
  const place = (): (string | number)[] | undefined => {
    const frame = stack.at(-1);
    if (!frame) return [];
    if (!frame.mapping) return [...frame.path, frame.index++];
    if (frame.key === undefined) return undefined;
    const path = [...frame.path, frame.key];
    frame.key = undefined;
    return path;
  };
  for (const event of events) {
    if (event.type === EVENT_ID.DOCUMENT) continue;
    if (event.type === EVENT_ID.POP) {
      stack.pop();
      continue;
    }
    const path = place();
    if (path === undefined) {
      // A mapping key: a scalar gives the key of the next value; a complex key is skipped.
      const frame = stack.at(-1) as Frame;
      frame.key = event.type === EVENT_ID.SCALAR ? getScalarValue(text, event) : "?";
      if (event.type === EVENT_ID.MAPPING || event.type === EVENT_ID.SEQUENCE) {
        stack.push({
          path: [...frame.path, "?"],
          mapping: event.type === EVENT_ID.MAPPING,
          index: 0,
          key: undefined,
        });
      }
      continue;
    }
    const offset = event.type === EVENT_ID.SCALAR
      ? event.valueStart
      : event.type === EVENT_ID.ALIAS
      ? event.anchorStart
      : event.start;
    if (offset >= 0) lines[path.join(SEP)] ??= lineAt(offset);
    if (event.type === EVENT_ID.MAPPING || event.type === EVENT_ID.SEQUENCE) {
      stack.push({ path, mapping: event.type === EVENT_ID.MAPPING, index: 0, key: undefined });
    }
  }
  return lines;
}
