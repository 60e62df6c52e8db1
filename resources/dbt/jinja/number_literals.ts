/**
 * Number literals as Jinja2 3.1 (and so dbt) reads them. nunjucks lexes a
 * number as digits with an optional `.digits`, so `1e-5` was the name `1e`
 * minus 5 (printed `nan`), `1.5e-3` a syntax error and `1_000` an undefined
 * name (printed nothing). Jinja2's lexer takes, in code:
 *
 * - floats: `1.5`, `1e5`, `1E-5`, `1.5e+3`, `1_000.5` (underscores between
 *   digits), never starting right after a `.` (so `x.0.1` is two lookups);
 * - ints: `42`, `1_000`, `0`, `0x1F`, `0o17`, `0b101`; right after a `.`
 *   an int is an item lookup (`row.0` is `row[0]`).
 *
 * `.5` and `5.` are not numbers in Jinja2 (a syntax error in dbt), and are not
 * read as numbers here either. The token is handed to nunjucks' parser as its
 * own `float` / `int` token with the underscores removed and a prefixed int in
 * decimal, so the parser's `parseFloat` / `parseInt` read the value Python
 * would.
 *
 * An int past 2**53 is a bigint (`9007199254740993n` in the compiled code):
 * Python's ints are exact, and a number printed `{{ 9007199254740993 }}` as
 * ...992 (py_number.ts keeps arithmetic on it exact).
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";

interface Tokenizer {
  in_code: boolean;
  str: string;
  index: number;
  lineno: number;
  colno: number;
  nextToken(this: Tokenizer): unknown;
  forwardN(n: number): void;
}

/** Jinja2's `float_re` (lexer.py): digits with a fraction, an exponent, or both. */
const FLOAT = /(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?[eE][+-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)/y;
/** Jinja2's `integer_re`: binary, octal, hex, decimal without a leading zero, or zeros. */
const INTEGER =
  /0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0[xX](?:_?[\da-fA-F])+|[1-9](?:_?\d)*|0(?:_?0)*/y;

interface Token {
  type: string;
  value: string;
}

interface Internals {
  lexer: { lex(src: string): Tokenizer };
  parser: {
    Parser: {
      prototype: {
        parsePrimary(this: { peekToken(): Token | null }, noPostfix?: boolean): unknown;
      };
    };
  };
  compiler: {
    Compiler: {
      prototype: {
        compileLiteral(this: { _emit(code: string): void }, node: unknown, frame: unknown): void;
      };
    };
  };
  nodes: { Literal: new (...args: unknown[]) => { value: unknown } };
}

let installed = false;

/** Patches nunjucks' tokenizer to read number literals as Jinja2 does (once per process). */
export function installNumberLiterals(): void {
  if (installed) return;
  installed = true;
  const internals = nunjucks as unknown as Internals;
  const lexer = internals.lexer;
  const proto = Object.getPrototypeOf(lexer.lex("")) as Tokenizer;
  const nextToken = proto.nextToken;
  proto.nextToken = function () {
    if (!this.in_code) return nextToken.call(this);
    const first = this.str.charCodeAt(this.index);
    if (first < 48 || first > 57) return nextToken.call(this); // not a digit
    const { lineno, colno } = this;
    let text: string | undefined;
    let type = "int";
    if (this.str[this.index - 1] !== ".") {
      FLOAT.lastIndex = this.index;
      text = FLOAT.exec(this.str)?.[0];
      if (text !== undefined) type = "float";
    }
    if (text === undefined) {
      INTEGER.lastIndex = this.index;
      // One of the alternatives matches any digit (`0` or `[1-9]`).
      text = (INTEGER.exec(this.str) as RegExpExecArray)[0];
    }
    this.forwardN(text.length);
    const clean = text.replaceAll("_", "");
    const value = type === "int" && /^0[box]/i.test(clean) ? BigInt(clean).toString() : clean;
    // Right after a `.` it is a lookup (`row.0` is `row[0]` in Jinja2): nunjucks takes a name
    // there, and its lookup of "0" finds a list's item or a mapping's key 0.
    if (this.str[this.index - text.length - 1] === ".") type = "symbol";
    return { type, value, lineno, colno };
  };
  installBigInts(internals);
}

/** Int literals past 2**53 as bigints (parsed and compiled exactly). */
function installBigInts(internals: Internals): void {
  const parser = internals.parser.Parser.prototype;
  const parsePrimary = parser.parsePrimary;
  parser.parsePrimary = function (noPostfix) {
    const first = this.peekToken();
    const node = parsePrimary.call(this, noPostfix);
    if (
      first?.type === "int" && node instanceof internals.nodes.Literal &&
      !Number.isSafeInteger(node.value)
    ) {
      node.value = BigInt(first.value);
    }
    return node;
  };
  const compiler = internals.compiler.Compiler.prototype;
  const compileLiteral = compiler.compileLiteral;
  compiler.compileLiteral = function (node, frame) {
    const value = (node as { value: unknown }).value;
    if (typeof value === "bigint") this._emit(`${value}n`);
    else compileLiteral.call(this, node, frame);
  };
}
