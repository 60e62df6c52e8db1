/**
 * Jinja tags dbt has and nunjucks lacks: `{% do expr %}` (evaluate, print
 * nothing), `{% test name(...) %}` blocks, which are macros named
 * `test_<name>` (as dbt names them), and `{% materialization name, default %}`
 * / `{% materialization name, adapter='postgres' %}` blocks, which are macros
 * named `materialization_<name>_<adapter or default>` (dbt's names; the
 * runner picks one by dbt's resolution rules and calls it).
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { rewritePythonSyntax } from "./python.ts";

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

/** nunjucks' base node class, to define the loop-control node. */
const NodeBase = (nunjucks as unknown as {
  nodes: {
    Node: {
      extend(
        name: string,
        props: Record<string, unknown>,
      ): new (...args: unknown[]) => { kind: string };
    };
  };
}).nodes.Node;

/** `{% break %}` / `{% continue %}`, compiled by the patched compiler (python.ts). */
const LoopControl = NodeBase.extend("LoopControl", { fields: ["kind"] });

/**
 * `{% break %}` and `{% continue %}`: dbt's Jinja environment enables
 * Jinja2's loopcontrols extension, so packages may stop or skip a loop.
 */
export class LoopControlExtension {
  /** Tags this extension parses. */
  readonly tags = ["break", "continue"];
  /** Name nunjucks finds it by at run time. */
  readonly __name = "loopcontrols";

  /** Parses `break` / `continue` (nothing follows the word). */
  parse(parser: Parser): unknown {
    const token = parser.nextToken();
    parser.advanceAfterBlockEnd(token.value);
    const node = new LoopControl(token.lineno, token.colno);
    node.kind = token.value;
    return node;
  }
}

/**
 * Rewrites dbt-only block tags into ones nunjucks knows, keeping every line
 * where it was: `{% test x(...) %}...{% endtest %}` becomes
 * `{% macro test_x(...) %}...{% endmacro %}`.
 */
export function preprocess(source: string): string {
  // `{%+` / `+%}` keep the whitespace lstrip_blocks / trim_blocks would remove; dbt sets
  // neither, so they mean `{%` / `%}`.
  let text = rewritePythonSyntax(
    source.includes("+") ? source.replace(/\{%\+/g, "{%").replace(/\+%\}/g, "%}") : source,
  );
  if (text.includes("materialization")) {
    // The opening tag becomes a macro without arguments, on the same lines (errors keep theirs).
    text = text
      .replace(MATERIALIZATION_TAG, (tag, open: string, name: string, args: string, close) => {
        const adapter = materializationAdapter(args);
        if (adapter === undefined) return tag; // nunjucks then names the unknown tag and its line
        const lines = "\n".repeat(tag.split("\n").length - 1);
        return `${open}macro materialization_${name}_${adapter}()${lines}${close}`;
      })
      .replace(/(\{%-?\s*)endmaterialization(\s*-?%\})/g, "$1endmacro$2");
  }
  if (!text.includes("test") || !/\{%-?\s*(end)?test\b/.test(text)) return text;
  return text
    .replace(/(\{%-?\s*)test\s+([A-Za-z_][A-Za-z0-9_]*)/g, "$1macro test_$2")
    .replace(/(\{%-?\s*)endtest(\s*-?%\})/g, "$1endmacro$2");
}

/**
 * Each macro's block as written in `source`, by the name it loads under
 * (`{% test x %}` is `test_x`): dbt's `macro_sql` in the manifest, from the
 * opening tag through `{% endmacro %}` / `{% endtest %}`.
 */
export function macroBlocks(source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of source.matchAll(MACRO_BLOCK)) {
    const name = m[1] === "test" ? `test_${m[2]}` : m[2] as string;
    if (!out.has(name)) out.set(name, m[0]);
  }
  if (source.includes("endmaterialization")) {
    for (const m of source.matchAll(MATERIALIZATION_BLOCK)) {
      const adapter = materializationAdapter(m[2] as string);
      if (adapter !== undefined) out.set(`materialization_${m[1]}_${adapter}`, m[0]);
    }
  }
  return out;
}

const MACRO_BLOCK = /\{%-?\s*(macro|test)\s+([A-Za-z_][A-Za-z0-9_]*)[\s\S]*?\{%-?\s*end\1\s*-?%\}/g;

/** The adapter of a materialization tag's arguments (`default`, `adapter='x'`), else undefined. */
function materializationAdapter(args: string): string | undefined {
  return /\badapter\s*=\s*['"](\w+)['"]/.exec(args)?.[1] ??
    (/^\s*default\b/.test(args) ? "default" : undefined);
}

const MATERIALIZATION_BLOCK =
  /\{%-?\s*materialization\s+([A-Za-z_][A-Za-z0-9_]*)\s*,([^%]*)-?%\}[\s\S]*?\{%-?\s*endmaterialization\s*-?%\}/g;

/** `{% materialization name, default %}`, `{% materialization name, adapter='x', supported_languages=[...] %}`. */
const MATERIALIZATION_TAG =
  /(\{%-?\s*)materialization\s+([A-Za-z_][A-Za-z0-9_]*)\s*,([^%]*(?:%(?!\})[^%]*)*?)(-?%\})/g;

/** nunjucks' node classes, for extensions that build nodes. */
export const NODES = (nunjucks as unknown as { nodes: Nodes }).nodes;
