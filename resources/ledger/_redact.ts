/**
 * Keeps secrets in connection strings out of messages and logs.
 *
 * @module
 */

const SECRET_PARAM = /^(?:password|pass|pwd|secret|token|.*_token|authMechanismProperties)$/i;

/**
 * `url` with its password and secret-looking query values replaced by `***`.
 * Works on multi-host MongoDB strings, which `URL` cannot parse.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./_redact.ts";
 * redactUrl("mongodb://alice:s3cret@h1,h2/db?authSource=admin");
 * // "mongodb://alice:***@h1,h2/db?authSource=admin"
 * ```
 */
export function redactUrl(url: string): string {
  const withoutPassword = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@");
  const queryAt = withoutPassword.indexOf("?");
  if (queryAt === -1) return withoutPassword;
  const query = withoutPassword.slice(queryAt + 1).split("&").map((pair) => {
    const [name = "", ...value] = pair.split("=");
    return value.length > 0 && SECRET_PARAM.test(name) ? `${name}=***` : pair;
  });
  return `${withoutPassword.slice(0, queryAt)}?${query.join("&")}`;
}

/** The password of a `scheme://user:password@host` string, raw and decoded. */
export function passwordsOf(url: string): string[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:([^@/?#]*)@/i.exec(url);
  const raw = match?.[1];
  if (raw === undefined || raw.length === 0) return [];
  return [...new Set([raw, safeDecode(raw)])];
}

/** `text` with every occurrence of `secrets` replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((result, secret) => result.split(secret).join("***"), text);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
