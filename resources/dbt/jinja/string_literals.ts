/**
 * String literals as Jinja2 3.1 (and so dbt) reads them: the text between
 * the quotes is decoded as Python's `unicode-escape` codec decodes it
 * (lexer.py). nunjucks knew only `\n`, `\t`, `\r` and dropped the backslash
 * of every other escape, so the regex `'\d+'` became `d+` and
 * `modules.re.sub('\d', ...)` matched nothing, silently; `'\x41'` and
 * `'\u00e9'` were `x41` and `u00e9`.
 *
 * Python keeps a backslash before a character that starts no escape (`\d`,
 * `\w`, `\.` stay as written); it decodes `\\ \' \" \n \t \r \a \b \f \v`,
 * octal `\o` to `\ooo`, `\xhh`, `\uhhhh`, `\Uhhhhhhhh`, and drops a
 * backslash before a newline.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";

interface Tokenizer {
  str: string;
  index: number;
  current(): string;
  forward(): void;
  isFinished(): boolean;
  _parseString(this: Tokenizer, delimiter: string): string;
}

const SIMPLE: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\n": "",
};

const HEX_LENGTH: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

let installed = false;

/** Patches nunjucks' tokenizer to decode string literals as Jinja2 does (once per process). */
export function installStringLiterals(): void {
  if (installed) return;
  installed = true;
  const lexer = (nunjucks as unknown as { lexer: { lex(src: string): Tokenizer } }).lexer;
  const proto = Object.getPrototypeOf(lexer.lex("")) as Tokenizer;
  proto._parseString = function (delimiter) {
    this.forward(); // the opening quote
    let out = "";
    while (!this.isFinished() && this.current() !== delimiter) {
      const cur = this.current();
      this.forward();
      if (cur !== "\\" || this.isFinished()) {
        out += cur;
        continue;
      }
      const next = this.current();
      this.forward();
      const simple = SIMPLE[next];
      if (simple !== undefined) {
        out += simple;
        continue;
      }
      const hexLength = HEX_LENGTH[next];
      if (hexLength !== undefined) {
        const digits = this.str.slice(this.index, this.index + hexLength);
        if (digits.length !== hexLength || !/^[0-9a-fA-F]+$/.test(digits)) {
          throw new Error(`truncated \\${next} escape in a string literal`);
        }
        for (let i = 0; i < hexLength; i++) this.forward();
        out += String.fromCodePoint(parseInt(digits, 16));
        continue;
      }
      if (next >= "0" && next <= "7") {
        let digits = next;
        while (digits.length < 3 && !this.isFinished() && /[0-7]/.test(this.current())) {
          digits += this.current();
          this.forward();
        }
        out += String.fromCodePoint(parseInt(digits, 8));
        continue;
      }
      out += `\\${next}`; // not an escape: Python keeps the backslash
    }
    this.forward(); // the closing quote
    return out;
  };
}
