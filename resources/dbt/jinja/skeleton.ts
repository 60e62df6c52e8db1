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
 * plain string literal replaced by a mark, read as nunjucks' lexer reads it,
 * so the skeleton parses to the same tree as the template with marks for
 * values. The skeleton's code takes the marked values (`__L`) and the
 * template's line and column numbers (`__P`, for error messages) as
 * arguments: each template calls it with its own, so it renders exactly what
 * its own compiled code would. Anything this cannot show to be safe (a `raw`
 * block, a mark in the text, a literal holding quotes or backslashes, a dict
 * key, a file name in the code) keeps the template's own code.
 *
 * The split is a scan of the text (a few µs a model), not nunjucks' lexer:
 * lexing 10k models with it cost ~0.45 s, more than the rest of the compile.
 *
 * @module
 */

/** Opens a mark; no template holds it (private use), else the template is not shared. */
const OPEN = "\uE000";
/** Closes a mark. */
const CLOSE = "\uE001";
/** The file name the skeleton is compiled under: code naming it reads its own file. */
export const SKELETON_FILE = "\uE002";

/** A template split into its skeleton and what the marks stand for. */
export interface Split {
  /** The skeleton's text. */
  readonly text: string;
  /** The value of each mark, in order. */
  readonly values: readonly string[];
  /**
   * Each mark's span, four numbers a mark: where it starts and ends in the
   * skeleton, then where what it stands for starts and ends in the template.
   */
  readonly spans: readonly number[];
}

/** A string literal that may be a mark: its value reads the same in any code position. */
const PLAIN_VALUE = /^[^\\"'\n\r\u2028\u2029\uE000-\uE002]*$/;
/** Blocks whose text the parser reads past the lexer. */
const RAW_BLOCK = /\{%-?\s*(?:raw|verbatim)\b/;
/** nunjucks' lexer: whitespace between tokens, and the characters that end a name or number. */
const WHITESPACE = " \n\t\r\xA0";
const DELIMITERS = "()[]{}%*-+~/#,:|.<>=!";
/** What matters in a tag: a quote, its end, an `r/regex/`. */
const TAG_STOPS = /['"]|[%}]\}|r\//g;
/**
 * What nunjucks' parser trims beside `{%-`/`-%}` (`\s`), one character at a time: `/\s*$/`
 * tries every start in the text (~50 ms for 10k models).
 */
const SPACE = /^\s$/;

/** Whether `c` (one UTF-16 unit) is `\s`; ASCII without a regex (a test per character cost ~10 ms per 10k models). */
function isSpace(c: string): boolean {
  const code = c.charCodeAt(0);
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return SPACE.test(c);
}

/** The text of mark `k`, made once per process. */
const MARK_IDS: string[] = [];

/**
 * Splits `text` (preprocessed) into its skeleton, or undefined when it has
 * nothing to share or cannot be split safely (the template then compiles
 * its own code). It reads the text as nunjucks' lexer does (lexer.js: text
 * up to `{{`, `{%` or `{#`; a comment up to `#}`; in a tag, a quote where a
 * token starts opens a string, `%}` or `}}` ends the tag) and gives up on
 * anything else that lexer treats apart: a quote inside a name, an `r/regex/`,
 * a `#}` in the text, an unclosed tag, comment or string (the template's own
 * compile reports those).
 */
export function splitTemplate(text: string): Split | undefined {
  if (RAW_BLOCK.test(text) || /[\uE000-\uE002]/.test(text)) return undefined;
  const values: string[] = [];
  const spans: number[] = [];
  let out = "";
  let from = 0; // text up to here is in `out`
  const mark = (start: number, end: number, value: string) => {
    out += text.slice(from, start);
    const id = MARK_IDS[values.length] ??= `${OPEN}${values.length}${CLOSE}`;
    spans.push(out.length, out.length + id.length, start, end);
    out += id;
    values.push(value);
    from = end;
  };
  const n = text.length;
  let i = 0;
  let comment = -1;
  while (i < n) {
    // Text, up to the next tag or comment.
    let next = text.indexOf("{", i);
    while (next >= 0 && next + 1 < n && !"{%#".includes(text[next + 1] as string)) {
      next = text.indexOf("{", next + 1);
    }
    const end = next < 0 || next + 1 >= n ? n : next;
    // A `#}` in the text (the first at or after `i`, searched again only once passed).
    if (comment < i) {
      const found = text.indexOf("#}", i);
      comment = found < 0 ? n : found;
    }
    if (comment + 2 <= end) return undefined;
    let lead = i;
    while (lead < end && isSpace(text[lead] as string)) lead++;
    if (lead < end) {
      let trail = end;
      while (isSpace(text[trail - 1] as string)) trail--;
      mark(lead, trail, text.slice(lead, trail));
    }
    if (end >= n) break;
    if (text[end + 1] === "#") {
      const close = text.indexOf("#}", end + 2);
      if (close < 0) return undefined;
      i = close + 2;
      continue;
    }
    // A tag: strings and its end. Only quotes, `%}`/`}}` and `r/` matter, found by a regex (a
    // character loop cost ~10 ms of a cold process on the global project's 15 kB).
    let start = end + 2; // where the last token known to start is
    TAG_STOPS.lastIndex = start;
    for (;;) {
      // test() and lastIndex, not exec(): no match array per stop. A stop ends in its quote,
      // in the `}` of `%}`/`}}`, or in the `/` of `r/`.
      if (!TAG_STOPS.test(text)) return undefined;
      const last = text[TAG_STOPS.lastIndex - 1] as string;
      const at = TAG_STOPS.lastIndex - (last === "'" || last === '"' ? 1 : 2);
      const prev = text[at - 1] as string;
      const boundary = at === start || WHITESPACE.includes(prev) || DELIMITERS.includes(prev);
      if (last === "}") {
        i = at + 2;
        break;
      }
      if (last === "/") {
        if (boundary) return undefined;
        continue;
      }
      const c = last;
      if (!boundary) return undefined;
      const close = text.indexOf(c, at + 1);
      if (close < 0) return undefined;
      const value = text.slice(at + 1, close);
      if (value.includes("\\")) return undefined; // escapes: left to the lexer
      let after = close + 1;
      while (after < n && WHITESPACE.includes(text[after] as string)) after++;
      // A dict key is compiled as a JS key; a value that is not plain is written into code.
      if (text[after] !== ":" && PLAIN_VALUE.test(value)) mark(at + 1, close, value);
      start = close + 1;
      TAG_STOPS.lastIndex = start;
    }
  }
  if (values.length === 0) return undefined;
  out += text.slice(from);
  return { text: out, values, spans };
}

/** A string literal of generated code. */
const CODE_STRING = /"(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\]|\\[\s\S])*'/g;

/** A skeleton's compiled code, made to take its marks' values and its positions. */
export interface SharedCode {
  /** Makes a template's functions (`{root, b_..., ...}`) from its values and positions. */
  readonly make: (values: readonly string[], positions: readonly number[]) => Record<
    string,
    unknown
  >;
  /** For each position argument pair, its offset in the skeleton. */
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
  const lineStarts = [0];
  for (let i = skeleton.indexOf("\n"); i >= 0; i = skeleton.indexOf("\n", i + 1)) {
    lineStarts.push(i + 1);
  }
  const slots: number[] = [];
  const slot = (line: string, column: string): string | undefined => {
    const start = lineStarts[Number(line)];
    if (start === undefined) return undefined;
    slots.push(start + Number(column));
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
  // Found by a regex: a character loop cost ~50 ms of a cold process on the global project.
  let plainFrom = 0;
  // Positions are read only outside them: a literal left as written (`"it's lineno = 0, colno =
  // 5"`) holds the same text, and rewriting it would print `__P[0]` for the template's text.
  for (const found of code.matchAll(CODE_STRING)) {
    const literal = found[0];
    const i = found.index;
    const quote = literal[0] as string;
    const plain = code.slice(plainFrom, i);
    if (plain.includes(OPEN)) return undefined;
    out += positions(plain);
    plainFrom = i + literal.length;
    if (!literal.includes(OPEN)) {
      out += literal;
      continue;
    }
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

/**
 * The position arguments of the template `text`, split as `split`, for
 * `shared`: each skeleton offset moved by the marks before it, then as
 * nunjucks counts (0-based line, column from the line's start). Undefined
 * when a position falls inside a mark (no token starts there).
 */
export function positionsOf(
  shared: SharedCode,
  split: Split,
  text: string,
): number[] | undefined {
  const positions: number[] = [];
  const { spans } = split;
  for (const offset of shared.slots) {
    let at = offset;
    for (let s = 0; s < spans.length; s += 4) {
      const start = spans[s] as number;
      const end = spans[s + 1] as number;
      if (end <= offset) at += (spans[s + 3] as number) - (spans[s + 2] as number) - (end - start);
      else if (start < offset) return undefined;
      else break;
    }
    let line = 0;
    let lineStart = 0;
    for (let i = text.indexOf("\n"); i >= 0 && i < at; i = text.indexOf("\n", i + 1)) {
      line++;
      lineStart = i + 1;
    }
    positions.push(line, at - lineStart);
  }
  return positions;
}
