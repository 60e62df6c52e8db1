/**
 * A static parser for model and snapshot templates (dbt-core has one too):
 * it reads `ref()`, `source()` and `config()` calls with literal arguments
 * straight from the text, so most nodes never run the Jinja engine at parse
 * time. Rendering a template with nunjucks costs about 0.2-0.3 ms (compile
 * to code, build the function, render); this reads a typical model in a few
 * microseconds, which is what makes a 10,000-model project parse in about a
 * second.
 *
 * It is conservative: a template is parsed statically only when the answer
 * cannot differ from a parse render's. It gives up (returns `undefined`, and
 * the caller renders with nunjucks) on any of:
 *
 * - a `ref`/`source`/`config` call whose arguments are not literals, or that
 *   sits inside `{% if %}` (the render would evaluate the condition);
 * - a call of a macro that may itself call `ref`/`source`/`config`, of an
 *   unknown function, or of `exceptions.*` (it would fail at parse time);
 * - `var('x')` / `env_var('X')` without a default when the value is not
 *   set (the render reports that at parse time);
 * - block tags other than `if`, `for`, `set`, `do`, `filter` (`macro`,
 *   `call`, `raw`, `include`, `import`, ...).
 *
 * It is written by hand rather than on nunjucks' parser because nunjucks'
 * lexer and parser are the cost being avoided (measured: about 80 µs per
 * model in compile alone); only a tokenizer for literals and names is needed.
 *
 * @module
 */

/** What a static parse found. */
export interface StaticParse {
  /** Names it refs (the last argument of `ref('pkg', 'name')`), in order of appearance. */
  readonly refs: string[];
  /** `[source, table]` pairs, in order of appearance. */
  readonly sources: [string, string][];
  /** Keyword arguments of its `config()` calls, merged. */
  readonly config: Record<string, unknown>;
}

/** What the static parser needs to know about the project. */
export interface StaticParseContext {
  /**
   * Identifies the macros and vars this context answers for: results of the
   * same text under the same key are the same (a reload reuses them).
   */
  readonly key?: string;
  /** Whether a macro (unqualified name, or `package.name`) exists and never calls ref/source/config. */
  readonly isSafeMacro: (name: string, packageName?: string) => boolean;
  /** Whether `name` is a package namespace (`dbt_utils`). */
  readonly isPackage: (name: string) => boolean;
  /** Whether var `name` has a value. */
  readonly hasVar: (name: string) => boolean;
  /** Whether environment variable `name` is set. */
  readonly hasEnv: (name: string) => boolean;
}

/** Globals that neither ref nor configure, and never fail at parse time. */
const SAFE_CALLS = new Set([
  "is_incremental",
  "log",
  "print",
  "return",
  "run_query",
  "statement",
  "load_result",
  "local_md5",
  "tojson",
  "fromjson",
  "zip",
  "set",
  "range",
  "dict",
  "list",
  "namespace",
  "cycler",
  "joiner",
  "lipsum",
  "caller",
  "super",
  "loop",
]);

/** Namespaces whose members neither ref nor configure. */
const SAFE_NAMESPACES = new Set([
  "adapter",
  "modules",
  "api",
  "target",
  "this",
  "model",
  "graph",
  "loop",
]);

const TAGS_OK = new Set([
  "if",
  "elif",
  "else",
  "endif",
  "for",
  "endfor",
  "set",
  "endset",
  "do",
  "filter",
  "endfilter",
]);

type Token =
  | { readonly t: "name"; readonly v: string }
  | { readonly t: "str"; readonly v: string }
  | { readonly t: "num"; readonly v: number }
  | { readonly t: "op"; readonly v: string };

const GIVE_UP = Symbol("give up");

/**
 * Parses `text` statically, or returns `undefined` when only a render can
 * tell (see the module doc).
 */
export function staticParse(text: string, ctx: StaticParseContext): StaticParse | undefined {
  const out: StaticParse = { refs: [], sources: [], config: {} };
  const locals = new Set<string>();
  const blocks: string[] = [];
  let ifDepth = 0;
  let i = 0;
  try {
    while (true) {
      const open = text.indexOf("{", i);
      if (open < 0) break;
      const kind = text[open + 1];
      if (kind !== "{" && kind !== "%" && kind !== "#") {
        i = open + 1;
        continue;
      }
      if (kind === "#") {
        const end = text.indexOf("#}", open + 2);
        if (end < 0) return undefined;
        i = end + 2;
        continue;
      }
      const { tokens, end } = tokenize(text, open + 2, kind === "{" ? "}}" : "%}");
      i = end;
      if (kind === "%") {
        const head = tokens[0];
        if (head?.t !== "name" || !TAGS_OK.has(head.v)) return undefined;
        if (head.v === "if") ifDepth++;
        if (head.v === "endif") ifDepth--;
        // Blocks must balance here, or the engine's syntax error would come only at compile time.
        const blockSet = head.v === "set" && indexOfOp(tokens, "=") === tokens.length;
        if (head.v === "if" || head.v === "for" || head.v === "filter" || blockSet) {
          blocks.push(head.v);
        } else if (head.v.startsWith("end") && blocks.pop() !== head.v.slice(3)) return undefined;
        if (head.v === "for") collectNames(tokens.slice(1, indexOfName(tokens, "in")), locals);
        if (head.v === "set") collectNames(tokens.slice(1, indexOfOp(tokens, "=")), locals);
      }
      scanCalls(tokens, out, ctx, locals, ifDepth > 0);
    }
  } catch (error) {
    if (error === GIVE_UP) return undefined;
    throw error;
  }
  return blocks.length === 0 ? out : undefined;
}

function indexOfName(tokens: readonly Token[], name: string): number {
  const at = tokens.findIndex((t) => t.t === "name" && t.v === name);
  return at < 0 ? tokens.length : at;
}

function indexOfOp(tokens: readonly Token[], op: string): number {
  const at = tokens.findIndex((t) => t.t === "op" && t.v === op);
  return at < 0 ? tokens.length : at;
}

function collectNames(tokens: readonly Token[], into: Set<string>): void {
  for (const token of tokens) if (token.t === "name") into.add(token.v);
}

/** Checks every call in one tag or expression, recording ref/source/config. */
function scanCalls(
  tokens: readonly Token[],
  out: StaticParse,
  ctx: StaticParseContext,
  locals: ReadonlySet<string>,
  inIf: boolean,
): void {
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k] as Token;
    if (token.t !== "name") continue;
    const previous = tokens[k - 1];
    // An attribute (checked with its owner), or a filter (`| replace('a', 'b')`).
    if (previous?.t === "op" && (previous.v === "." || previous.v === "|")) continue;
    const next = tokens[k + 1];
    if (next?.t === "op" && next.v === ".") {
      const member = tokens[k + 2];
      const called = tokens[k + 3]?.t === "op" && (tokens[k + 3] as Token).v === "(";
      if (token.v === "exceptions") throw GIVE_UP;
      if (token.v === "config") continue; // config.get / require: reads only
      if (!called || member?.t !== "name") continue;
      if (SAFE_NAMESPACES.has(token.v) || locals.has(token.v)) continue;
      if (token.v === "dbt" || ctx.isPackage(token.v)) {
        if (!ctx.isSafeMacro(member.v, token.v)) throw GIVE_UP;
        continue;
      }
      throw GIVE_UP;
    }
    if (!(next?.t === "op" && next.v === "(")) {
      if (token.v === "ref" || token.v === "source") throw GIVE_UP; // passed around as a value
      continue;
    }
    const args = () => literalArgs(tokens, k + 2);
    switch (token.v) {
      case "ref":
      case "source": {
        if (inIf) throw GIVE_UP;
        const { positional, keywords } = args();
        if (keywords.size > 0 || !positional.every((p) => typeof p === "string")) throw GIVE_UP;
        if (token.v === "ref") {
          if (positional.length < 1 || positional.length > 2) throw GIVE_UP;
          const name = positional[positional.length - 1] as string;
          if (!out.refs.includes(name)) out.refs.push(name);
        } else {
          if (positional.length !== 2) throw GIVE_UP;
          const pair = positional as [string, string];
          if (!out.sources.some(([s, t]) => s === pair[0] && t === pair[1])) {
            out.sources.push(pair);
          }
        }
        break;
      }
      case "config": {
        if (inIf) throw GIVE_UP;
        const { positional, keywords } = args();
        if (positional.length > 0) throw GIVE_UP;
        for (const [key, value] of keywords) out.config[key] = value;
        break;
      }
      case "var":
      case "env_var": {
        const first = tokens[k + 2];
        const closes = tokens[k + 3]?.t === "op" && (tokens[k + 3] as Token).v === ")";
        // `var('x')` with no default fails at parse time when x is unset: let the render say so.
        if (first?.t === "str" && closes) {
          const known = token.v === "var" ? ctx.hasVar(first.v) : ctx.hasEnv(first.v);
          if (!known) throw GIVE_UP;
        } else if (first?.t !== "str") throw GIVE_UP;
        break;
      }
      default:
        if (SAFE_CALLS.has(token.v) || locals.has(token.v)) break;
        if (!ctx.isSafeMacro(token.v)) throw GIVE_UP;
    }
  }
}

/** The literal arguments of a call whose `(` is just before `start`. */
function literalArgs(
  tokens: readonly Token[],
  start: number,
): { positional: unknown[]; keywords: Map<string, unknown> } {
  const positional: unknown[] = [];
  const keywords = new Map<string, unknown>();
  let k = start;
  const peek = () => tokens[k];
  const isOp = (v: string) => peek()?.t === "op" && (peek() as Token).v === v;
  while (!isOp(")")) {
    const token = peek();
    if (token === undefined) throw GIVE_UP;
    const after = tokens[k + 1];
    if (token.t === "name" && after?.t === "op" && after.v === "=") {
      k += 2;
      const [value, next] = literal(tokens, k);
      keywords.set(token.v, value);
      k = next;
    } else {
      if (keywords.size > 0) throw GIVE_UP;
      const [value, next] = literal(tokens, k);
      positional.push(value);
      k = next;
    }
    if (isOp(",")) k++;
    else if (!isOp(")")) throw GIVE_UP;
  }
  return { positional, keywords };
}

/** A literal (string, number, boolean, none, list, tuple, dict) at `k`: its value and what follows. */
function literal(tokens: readonly Token[], k: number): [unknown, number] {
  const token = tokens[k];
  if (token === undefined) throw GIVE_UP;
  if (token.t === "str" || token.t === "num") {
    // 'a' 'b' is one string in Jinja, and 'a' ~ x is not a literal.
    const next = tokens[k + 1];
    if (
      next?.t === "str" || (next?.t === "op" && next.v !== "," && next.v !== ")" &&
        next.v !== "]" && next.v !== "}" && next.v !== ":")
    ) throw GIVE_UP;
    return [token.v, k + 1];
  }
  if (token.t === "name") {
    const next = tokens[k + 1];
    if (next?.t === "op" && (next.v === "." || next.v === "(" || next.v === "[")) throw GIVE_UP;
    switch (token.v) {
      case "true":
      case "True":
        return [true, k + 1];
      case "false":
      case "False":
        return [false, k + 1];
      case "none":
      case "None":
        return [null, k + 1];
      default:
        throw GIVE_UP;
    }
  }
  if (token.v === "[" || token.v === "(") {
    const close = token.v === "[" ? "]" : ")";
    const items: unknown[] = [];
    let j = k + 1;
    while (!(tokens[j]?.t === "op" && (tokens[j] as Token).v === close)) {
      const [value, next] = literal(tokens, j);
      items.push(value);
      j = next;
      const sep = tokens[j];
      if (sep?.t === "op" && sep.v === ",") j++;
      else if (!(sep?.t === "op" && sep.v === close)) throw GIVE_UP;
    }
    return [items, j + 1];
  }
  if (token.v === "{") {
    const map: Record<string, unknown> = {};
    let j = k + 1;
    while (!(tokens[j]?.t === "op" && (tokens[j] as Token).v === "}")) {
      const key = tokens[j];
      if (key?.t !== "str" || !(tokens[j + 1]?.t === "op" && (tokens[j + 1] as Token).v === ":")) {
        throw GIVE_UP;
      }
      const [value, next] = literal(tokens, j + 2);
      map[key.v] = value;
      j = next;
      const sep = tokens[j];
      if (sep?.t === "op" && sep.v === ",") j++;
      else if (!(sep?.t === "op" && sep.v === "}")) throw GIVE_UP;
    }
    return [map, j + 1];
  }
  if (token.v === "-" && tokens[k + 1]?.t === "num") {
    return [-((tokens[k + 1] as { v: number }).v), k + 2];
  }
  throw GIVE_UP;
}

/** Whether the char code starts a name (`[A-Za-z_]`). */
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

/** Whether the char code continues a name (`[A-Za-z0-9_]`). */
function isNamePart(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

/**
 * Tokens of one `{{ ... }}` or `{% ... %}` from `start` to its `close`, and the index after it.
 * Characters are compared by code: a load tokenizes every model (10k: a regex test per
 * character and a new two-character string per operator were ~15-20 ms of a cold load).
 */
function tokenize(text: string, start: number, close: string): { tokens: Token[]; end: number } {
  const tokens: Token[] = [];
  let i = start;
  if (text[i] === "-" || text[i] === "+") i++; // whitespace control
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13) { // space, \n, \t, \r
      i++;
      continue;
    }
    if ((c === 45 || c === 43) && text.startsWith(close, i + 1)) return { tokens, end: i + 3 }; // - +
    if (text.startsWith(close, i)) return { tokens, end: i + 2 };
    if (c === 39 || c === 34) { // ' "
      const quote = text[i] as string;
      let value = "";
      let j = i + 1;
      while (j < text.length && text[j] !== quote) {
        if (text[j] === "\\") {
          const escaped = text[j + 1];
          value += escaped === "n" ? "\n" : escaped === "t" ? "\t" : escaped ?? "";
          j += 2;
        } else value += text[j++];
      }
      if (j >= text.length) throw GIVE_UP;
      tokens.push({ t: "str", v: value });
      i = j + 1;
      continue;
    }
    if (c >= 48 && c <= 57) {
      const match = /^\d+(\.\d+)?/.exec(text.slice(i, i + 40)) as RegExpExecArray;
      tokens.push({ t: "num", v: Number(match[0]) });
      i += match[0].length;
      continue;
    }
    if (isNameStart(c)) {
      let j = i + 1;
      while (j < text.length && isNamePart(text.charCodeAt(j))) j++;
      tokens.push({ t: "name", v: text.slice(i, j) });
      i = j;
      continue;
    }
    // Two-character operators: == != <= >= // **
    const d = text.charCodeAt(i + 1);
    if (
      (d === 61 && (c === 61 || c === 33 || c === 60 || c === 62)) ||
      (c === d && (c === 47 || c === 42))
    ) {
      tokens.push({ t: "op", v: text.slice(i, i + 2) });
      i += 2;
      continue;
    }
    tokens.push({ t: "op", v: text[i] as string });
    i++;
  }
  throw GIVE_UP; // never closed: the engine reports the syntax error
}

/**
 * Names of the macros in `text` (`{% macro name(...) %}` and
 * `{% test name(...) %}` blocks) that may call `ref`, `source` or `config`,
 * or another macro in `unsafe`, directly; the caller iterates to a fixpoint
 * across files.
 */
export function macroCalls(text: string): { name: string; mentions: Set<string> }[] {
  const out: { name: string; mentions: Set<string> }[] = [];
  const block =
    /\{%-?\s*(?:macro|test)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([\s\S]*?)\{%-?\s*end(?:macro|test)\s*-?%\}/g;
  for (const match of text.matchAll(block)) {
    const mentions = new Set<string>();
    for (const name of (match[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) {
      mentions.add(name[1] as string);
    }
    for (const name of (match[2] ?? "").matchAll(/\b(ref|source|config)\b/g)) {
      mentions.add(name[1] as string);
    }
    out.push({ name: match[1] as string, mentions });
  }
  return out;
}
