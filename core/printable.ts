/**
 * User input quoted in messages, made safe to print: a selection, a partition
 * key, a file name or an environment value may hold control characters (an
 * ESC starting a terminal sequence, a bell, a carriage return hiding the line
 * before it, a bidirectional override reordering what follows). They are
 * written as JSON escapes (`\u001b`), so the reader sees what was typed and
 * the terminal obeys none of it.
 *
 * @module
 */

// C0 controls, DEL, C1 controls, the line and paragraph separators and the
// bidirectional embeddings, overrides and isolates.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_BUT_LINES =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Options of {@linkcode printable}. */
export interface PrintableOptions {
  /**
   * Keep line feeds and tabs, for a whole message of several lines (its
   * quoted inputs escaped with {@linkcode quote} already).
   * @default {false}
   */
  readonly keepLines?: boolean;
}

/**
 * `text` with its control characters written as JSON escapes.
 *
 * @example
 * ```ts
 * import { printable } from "./printable.ts";
 * printable("fct\x1b[31m"); // "fct\\u001b[31m"
 * printable("a\nb", { keepLines: true }); // "a\nb"
 * ```
 */
export function printable(text: string, options: PrintableOptions = {}): string {
  return text.replace(options.keepLines ? CONTROL_BUT_LINES : CONTROL, escape);
}

/**
 * `'text'`, its control characters escaped: how a message names a user's input.
 *
 * @example
 * ```ts
 * import { quote } from "./printable.ts";
 * quote("raw\tweather"); // "'raw\\tweather'"
 * ```
 */
export function quote(text: string): string {
  return `'${printable(text)}'`;
}

/**
 * At most `max` characters of `text`, saying how long it was when cut: a
 * value quoted in a message may be megabytes long.
 *
 * @example
 * ```ts
 * import { clip } from "./printable.ts";
 * clip("a".repeat(500), 10); // "aaaaaaaaaa... (500 characters)"
 * ```
 */
export function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text;
}

const SHORT: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escape(char: string): string {
  return SHORT[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}
