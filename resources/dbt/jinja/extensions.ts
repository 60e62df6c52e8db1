/**
 * Jinja tags dbt has and nunjucks lacks: `{% do expr %}` (evaluate, print
 * nothing), and `{% test name(...) %}` blocks, which are macros named
 * `test_<name>` (as dbt names them).
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";

interface Parser {
  nextToken(): { value: string; lineno: number; colno: number };
  parseExpression(): unknown;
  advanceAfterBlockEnd(name: string): void;
}

interface Nodes {
  CallExtension: new (ext: unknown, prop: string, args: unknown, contentArgs?: unknown) => unknown;
  NodeList: new (lineno: number, colno: number, children: unknown[]) => unknown;
}

/** `{% do expr %}`: evaluates `expr` (e.g. `list.append(x)`) and prints nothing. */
export class DoExtension {
  /** Tags this extension parses. */
  readonly tags = ["do"];
  /** Name nunjucks finds it by at run time. */
  readonly __name = "do";

  /** Parses `do <expression>`. */
  parse(parser: Parser, nodes: Nodes): unknown {
    const token = parser.nextToken();
    const expression = parser.parseExpression();
    parser.advanceAfterBlockEnd(token.value);
    return new nodes.CallExtension(
      this,
      "run",
      new nodes.NodeList(token.lineno, token.colno, [expression]),
    );
  }

  /** Discards the value. */
  run(): string {
    return "";
  }
}

/**
 * Rewrites dbt-only block tags into ones nunjucks knows, keeping every line
 * where it was: `{% test x(...) %}...{% endtest %}` becomes
 * `{% macro test_x(...) %}...{% endmacro %}`.
 */
export function preprocess(source: string): string {
  if (!source.includes("test") || !/\{%-?\s*(end)?test\b/.test(source)) return source;
  return source
    .replace(/(\{%-?\s*)test\s+([A-Za-z_][A-Za-z0-9_]*)/g, "$1macro test_$2")
    .replace(/(\{%-?\s*)endtest(\s*-?%\})/g, "$1endmacro$2");
}

/** nunjucks' node classes, for extensions that build nodes. */
export const NODES = (nunjucks as unknown as { nodes: Nodes }).nodes;
