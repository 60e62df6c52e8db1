/**
 * Keeping the passwords of database URLs (`RUNS_URL`, `WAREHOUSE_URL`) out of
 * descriptions, messages and causes.
 *
 * @module
 */

/** The password of `url` (raw and decoded) and `PGPASSWORD`, which postgres.js also reads. */
export function secretsOf(url: string): string[] {
  const secrets: string[] = [];
  try {
    const password = new URL(url).password;
    if (password) secrets.push(password, safeDecode(password));
  } catch {
    // Unparsable: `redactUrl` still masks any `user:password@`.
  }
  try {
    const fromEnv = Deno.env.get("PGPASSWORD");
    if (fromEnv) secrets.push(fromEnv);
  } catch {
    // No env permission: postgres.js cannot read it either.
  }
  return secrets.filter((secret) => secret.length > 0);
}

/** `url` without its password or any query parameter whose name mentions one. */
export function redactUrl(url: string, secrets: readonly string[] = []): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass/i.test(key)) parsed.searchParams.delete(key);
    }
    return parsed.href;
  } catch {
    return scrub(url, secrets);
  }
}

/** `text` with every secret (and any `user:password@` of a URL) replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\/\/[^:/@\s]*):[^@\s]*@/g, "$1:***@");
  for (const secret of secrets) {
    if (secret.length > 0) out = out.replaceAll(secret, "***");
  }
  return out;
}

/** `error` itself, or a copy with a scrubbed message when its message holds a secret. */
export function scrubbedCause(error: unknown, secrets: readonly string[]): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (scrub(message, secrets) === message) return error;
  const copy = new Error(scrub(message, secrets));
  copy.name = error instanceof Error ? error.name : "Error";
  return copy;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
