/**
 * `node:util` `parseArgs` with its complaints turned into usage errors that
 * name the command and suggest the nearest option.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { closest } from "../suggest.ts";
import { UsageError } from "./app.ts";
import { toError } from "../errors.ts";
import { printable } from "../printable.ts";

/**
 * Parses `config.args` for `command` (strict, as `parseArgs` is by default);
 * throws {@linkcode UsageError} on anything unknown, and on a value option
 * given twice (`--concurrency 2 --concurrency 3`): `parseArgs` keeps the last
 * one silently, so a value set early in a long command line (or in a wrapper
 * script) was quietly overridden. Options with `multiple: true` repeat freely,
 * and so do flags (`--json --json` means the same as once).
 */
export function parseCommandArgs<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  let parsed;
  try {
    parsed = parseArgs({ ...config, tokens: true });
  } catch (error) {
    throw new UsageError(explain(command, Object.keys(config.options ?? {}), error));
  }
  const seen = new Map<string, string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const option = config.options?.[token.name];
    if (option === undefined || option.type !== "string" || option.multiple) continue;
    const earlier = seen.get(token.name);
    if (earlier !== undefined) {
      throw new UsageError(
        `--${token.name} is given twice ('${printable(earlier)}', then ` +
          `'${printable(token.value ?? "")}'); give it once (${command})`,
      );
    }
    seen.set(token.name, token.value ?? "");
  }
  const { tokens: _tokens, ...result } = parsed;
  return result as ReturnType<typeof parseArgs<T>>;
}

function explain(command: string, options: readonly string[], error: unknown): string {
  const message = toError(error).message;
  const code = (error as { code?: unknown }).code;
  const help = `'${command} --help' lists the options`;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    // Node's own text ends with advice about `--` that only confuses here.
    const option = /'(-{1,2}[^']*)'/.exec(message)?.[1] ?? message;
    // A name that is not one ('--=', '---'): a suggestion two edits away would be a guess.
    const name = option.replace(/^-+/, "");
    const near = /^--?[A-Za-z]/.test(option) ? closest(name, options) : undefined;
    return `Unknown option '${option}' for ${command}${
      near ? ` (did you mean '--${near}'?)` : ""
    }; ${help}`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const value = /'([^']*)'/.exec(message)?.[1] ?? message;
    return `${command} takes no argument '${value}'; ${help}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    // e.g. `--concurrency -1`: Node reads `-1` as an option and explains over three lines.
    const option = /'(-{1,2}[^' ]*)/.exec(message)?.[1] ?? "the option";
    const first = message.split("\n")[0]?.replace(/\.$/, "") ?? message;
    return /ambiguous/.test(first)
      ? `${option} needs a value; write ${option}=VALUE for a value starting with '-'`
      : `${first} (${command}); ${help}`;
  }
  return `${message.split("\n")[0]?.replace(/\.$/, "")} (${command}); ${help}`;
}

/**
 * Reads the value of a numeric option as a whole number from `min` up to
 * `max`, written in decimal digits only: `Number()` alone took `0x10` as 16,
 * `1e3` as 1000, `''` as 0 and `99999999999999999999` as a number it cannot
 * hold. Throws {@linkcode UsageError} naming the option and the value given.
 */
export function wholeNumberOption(
  option: string,
  text: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${option} must be a whole number ${range}, got '${text}'`);
  }
  return value;
}
