/**
 * Reads a YAML file and validates it with a zod schema, turning both syntax
 * and shape errors into a {@linkcode DbtError} that names the file and line.
 *
 * @module
 */

import {
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from "yaml";
import type { z } from "zod";
import { type CachedYaml, ParseCache } from "../_cache.ts";
import { digest } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";

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
 * an unchanged file is not parsed again.
 */
export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  cache: ParseCache = ParseCache.empty(),
): YamlFile<z.output<S>> {
  const entry = cache.yaml(digest(`${file}\0${text}`), () => parseWithLines(text, file));
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const line = entry.lines[path.slice(0, depth).join(SEP)];
      if (line !== undefined) return line;
    }
    return undefined;
  };
  const parsed = schema.safeParse(entry.value ?? {});
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

function parseWithLines(text: string, file: string): CachedYaml {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  const [syntax] = doc.errors;
  if (syntax) {
    const line = syntax.linePos?.[0].line ?? counter.linePos(syntax.pos[0]).line;
    throw new DbtError(
      DbtErrorCode.invalidYaml,
      `invalid YAML: ${syntax.message.split("\n")[0]}`,
      { file, line },
      syntax,
    );
  }
  const lines: Record<string, number> = {};
  const walk = (node: unknown, path: readonly (string | number)[]) => {
    if (!isNode(node)) return;
    const typed = node as Node;
    if (typed.range) lines[path.join(SEP)] = counter.linePos(typed.range[0]).line;
    if (isMap(typed)) {
      for (const pair of typed.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(typed)) {
      typed.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(doc.contents, []);
  return { value: doc.toJS() ?? {}, lines };
}
