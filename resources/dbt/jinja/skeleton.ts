/**
 * Templates that differ only in their SQL text and string literals share one
 * compiled function. A project's models are mostly the same few shapes
 * (`select ... from {{ ref('x') }}`, a `config()` then a `source()`...), and
 * building each one's function cost ~0.3 ms a model: nunjucks' parse and
 * code generation, `new Function`, and V8 compiling the new function on its
 * first render (10k generated models: ~3 s of a 10k `dbt compile`).
 *
 * A template's skeleton is its text with each stretch of plain text (its
 * leading and trailing whitespace kept, which `{%-`/`-%}` trim) and each
 * plain string literal replaced by a mark; the tokens are nunjucks' own
 * (its lexer), so the skeleton parses to the same tree as the template with
 * marks for values. The skeleton's code takes the marked values (`__L`) and
 * the template's line and column numbers (`__P`, for error messages) as
 * arguments: each template calls it with its own, so it renders exactly what
 * its own compiled code would. Anything this cannot show to be safe (a
 * `raw` block, a mark in the text, a literal holding quotes or backslashes,
 * a dict key, a file name in the code) keeps the template's own code.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";

/** Opens a mark; no template holds it (private use), else the template is not shared. */
const OPEN = "\uE000";
/** Closes a mark. */
const CLOSE = "\uE001";
/** The file name the skeleton is compiled under: code naming it reads its own file. */
export const SKELETON_FILE = "\uE002";

/** nunjucks' token, as its lexer gives it. */
interface Token {
  readonly type: string;
  readonly value: string;
  readonly lineno: number;
  readonly colno: number;
}

interface Tokenizer {
  index: number;
  nextToken(): Token | null;
}

const lexer = (nunjucks as unknown as {
  lexer: { lex(src: string, opts: Record<string, unknown>): Tokenizer };
}).lexer;

/** A template split into its skeleton and what the marks stand for. */
export interface Split {
  /** The skeleton's text. */
  readonly text: string;
  /** The value of each mark, in order. */
  readonly values: readonly string[];
  /** Line (0-based) of each token of the template, then of its end. */
  readonly lines: readonly number[];
  /** Column (0-based) of each token of the template, then of its end. */
  readonly columns: readonly number[];
}

/** A string literal that may be a mark: its value reads the same in any code position. */
const PLAIN_VALUE = /^[^\\"'\n\r\u2028\u2029\uE000-\uE002]*$/;
/** Blocks whose text the parser reads past the lexer. */
const RAW_BLOCK = /\{%-?\s*(?:raw|verbatim)\b/;

/**
 * Splits `text` (preprocessed) into its skeleton, or undefined when it has
 * nothing to share or cannot be split safely (the template then compiles
 * its own code). Lexer errors give undefined too: the template's own compile
 * reports them.
 */
export function splitTemplate(text: string): Split | undefined {
  if (RAW_BLOCK.test(text) || /[\uE000-\uE002]/.test(text)) return undefined;
  const lexed = lex(text);
  if (lexed === undefined) return undefined;
  const { tokens, starts, lines, columns } = lexed;
  const values: string[] = [];
  let out = "";
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t] as Token;
    const source = text.slice(starts[t], starts[t + 1]);
    if (token.type === "data") {
      if (token.value !== source) return undefined;
      const lead = /^\s*/.exec(source)?.[0].length ?? 0;
      const trail = /\s*$/.exec(source)?.[0].length ?? 0;
      if (lead === source.length) {
        out += source;
        continue;
      }
      out += source.slice(0, lead) + OPEN + values.length + CLOSE +
        source.slice(source.length - trail);
      values.push(source.slice(lead, source.length - trail));
    } else if (token.type === "string" && PLAIN_VALUE.test(token.value) && !isDictKey(tokens, t)) {
      out += `'${OPEN}${values.length}${CLOSE}'`;
      values.push(token.value);
    } else {
      out += source;
    }
  }
  return { text: out, values, lines, columns };
}

/** nunjucks' tokens of `text`, where each starts, and the position of each and of the end. */
function lex(text: string): {
  tokens: Token[];
  starts: number[];
  lines: number[];
  columns: number[];
} | undefined {
  const tokens: Token[] = [];
  const starts: number[] = [];
  const lines: number[] = [];
  const columns: number[] = [];
  try {
    const tk = lexer.lex(text, { throwOnUndefined: false });
    for (;;) {
      const start = tk.index;
      const token = tk.nextToken();
      if (token === null) break;
      tokens.push(token);
      starts.push(start);
      lines.push(token.lineno);
      columns.push(token.colno);
    }
  } catch {
    return undefined;
  }
  let line = 0;
  let last = -1;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
    line++;
    last = i;
  }
  lines.push(line);
  columns.push(text.length - last - 1);
  starts.push(text.length);
  return { tokens, starts, lines, columns };
}

/** Whether the string token at `t` is followed by `:` (a dict key: compiled as a JS key). */
function isDictKey(tokens: readonly Token[], t: number): boolean {
  for (let i = t + 1; i < tokens.length; i++) {
    const type = tokens[i]?.type;
    if (type === "whitespace") continue;
    return type === "colon";
  }
  return false;
}

/** A skeleton's compiled code, made to take its marks' values and its positions. */
export interface SharedCode {
  /** Makes a template's functions (`{root, b_..., ...}`) from its values and positions. */
  readonly make: (values: readonly string[], positions: readonly number[]) => Record<
    string,
    unknown
  >;
  /** For each position argument pair, the token of the skeleton it is the start of. */
  readonly slots: readonly number[];
}

/**
 * The shared code of a skeleton from nunjucks' compiled `code` for it (with
 * {@linkcode SKELETON_FILE} as its file name), or undefined when the code
 * cannot be shared: a mark outside a string literal, a string literal whose
 * mark cannot be cut out, a position that starts no token, the file name in
 * the code, or code that does not build.
 */
export function sharedCode(skeleton: string, code: string): SharedCode | undefined {
  if (code.includes(SKELETON_FILE)) return undefined;
  const split = lex(skeleton);
  if (split === undefined) return undefined;
  // Token starts of the skeleton by position, to turn its positions into token numbers.
  const tokenAt = new Map<number, number>();
  for (let t = 0; t < split.lines.length; t++) {
    const key = (split.lines[t] as number) * 0x100000 + (split.columns[t] as number);
    if (!tokenAt.has(key)) tokenAt.set(key, t);
  }
  const slots: number[] = [];
  const slot = (line: string, column: string): string | undefined => {
    const t = tokenAt.get(Number(line) * 0x100000 + Number(column));
    if (t === undefined) return undefined;
    slots.push(t);
    return `__P[${2 * slots.length - 2}]`;
  };
  let out = "";
  let failed = false;
  const positions = (segment: string): string =>
    segment
      .replace(/var lineno = (\d+);\nvar colno = (\d+);/g, (whole, l: string, c: string) => {
        const at = slot(l, c);
        if (at === undefined) failed = true;
        return at === undefined
          ? whole
          : `var lineno = ${at};\nvar colno = __P[${2 * slots.length - 1}];`;
      })
      .replace(/lineno = (\d+), colno = (\d+)/g, (whole, l: string, c: string) => {
        const at = slot(l, c);
        if (at === undefined) failed = true;
        return at === undefined ? whole : `lineno = ${at}, colno = __P[${2 * slots.length - 1}]`;
      });
  // The generated code has no comments, regexes or template literals: quotes delimit strings.
  let plainFrom = 0;
  for (let i = 0; i < code.length; i++) {
    const quote = code[i];
    if (quote !== '"' && quote !== "'") continue;
    let end = i + 1;
    while (end < code.length && code[end] !== quote) end += code[end] === "\\" ? 2 : 1;
    if (end >= code.length) return undefined;
    const literal = code.slice(i, end + 1);
    if (literal.includes(OPEN)) {
      const plain = code.slice(plainFrom, i);
      if (plain.includes(OPEN)) return undefined;
      out += positions(plain);
      const parts = literal.slice(1, -1).split(OPEN);
      let expr = `${quote}${parts[0]}${quote}`;
      if (escapesNext(parts[0] as string)) return undefined;
      for (const part of parts.slice(1)) {
        const close = part.indexOf(CLOSE);
        if (close < 0 || !/^\d+$/.test(part.slice(0, close))) return undefined;
        const rest = part.slice(close + 1);
        if (escapesNext(rest)) return undefined;
        expr += ` + __L[${part.slice(0, close)}] + ${quote}${rest}${quote}`;
      }
      out += `(${expr})`;
      plainFrom = end + 1;
    }
    i = end;
  }
  const tail = code.slice(plainFrom);
  if (tail.includes(OPEN)) return undefined;
  out += positions(tail);
  if (failed) return undefined;
  try {
    const make = new Function("__L", "__P", out) as SharedCode["make"];
    return { make, slots };
  } catch {
    return undefined;
  }
}

/** Whether `text` ends in an odd run of backslashes (it would escape what follows). */
function escapesNext(text: string): boolean {
  let n = 0;
  while (n < text.length && text[text.length - 1 - n] === "\\") n++;
  return n % 2 === 1;
}

/** The position arguments of a template of `shared`'s skeleton, split as `split`. */
export function positionsOf(shared: SharedCode, split: Split): number[] {
  const positions: number[] = [];
  for (const t of shared.slots) {
    positions.push(split.lines[t] as number, split.columns[t] as number);
  }
  return positions;
}
