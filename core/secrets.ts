/**
 * The platform's one redaction helper: secrets that must never be printed or
 * stored (the passwords of connection URLs, secret query values such as
 * `apikey=`, access keys, tokens).
 *
 * Redaction happens at the source and again at every exit:
 *
 * - at the source: configuration parsing registers the secrets of every
 *   variable ({@linkcode registerSecretsOf}), code that shows a URL calls
 *   {@linkcode redactUrl} (which registers the URL's own secrets, so a library
 *   message that repeats them later is caught too), and every
 *   {@linkcode PlatformError} redacts its message and its cause chain when it
 *   is made (core/errors.ts);
 * - at the exits: the CLI's output (text, JSON lines, doctor, failure
 *   reports), and what the executor records in the run store (events, step
 *   errors, summaries), pass through {@linkcode redact} /
 *   {@linkcode redactError} / {@linkcode redactDeep}.
 *
 * Redacting by value catches a secret wherever it ends up, including in
 * messages written by libraries (`Invalid URL: 'postgres://u:PASS@...'`), in
 * its URL-encoded, JSON-escaped and HTML-escaped forms. Credentials are also
 * masked by shape, for URLs never registered: `scheme://user:***@` (the
 * password runs to the last `@` before a space or quote, so one holding an
 * unencoded `@`, `/`, `?` or `#` is hidden whole) and the values of query
 * parameters named like a credential.
 *
 * @example
 * ```ts
 * import { redact, redactUrl, registerSecret } from "./secrets.ts";
 * registerSecret("hunter22");
 * redact("login failed for app:hunter22"); // "login failed for app:***"
 * redactUrl("postgres://app:other@db:99999/x"); // "postgres://app:***@db:99999/x"
 * redact("password other was refused"); // "password *** was refused"
 * ```
 *
 * @module
 */

/** Secrets shorter than this are not registered: masking them would garble any text. */
export const MIN_SECRET_LENGTH = 4;

/** What replaces a secret. */
export const MASK = "***";

const registered = new Set<string>();
/** Every form of every registered secret, longest first (a secret holding another is masked whole). */
let forms: string[] = [];

/** Adds secrets (empty, too short and `undefined` ones are ignored). */
export function registerSecret(...values: readonly (string | undefined)[]): void {
  let added = false;
  for (const value of values) {
    if (value === undefined || value.length < MIN_SECRET_LENGTH || registered.has(value)) continue;
    registered.add(value);
    added = true;
  }
  if (!added) return;
  const all = new Set<string>();
  for (const secret of registered) for (const form of formsOf(secret)) all.add(form);
  forms = [...all].sort((a, b) => b.length - a.length);
}

/** Forgets every registered secret (tests). */
export function clearSecrets(): void {
  registered.clear();
  forms = [];
}

/** A secret as it may appear in a URL, a JSON string or an HTML page. */
function formsOf(secret: string): string[] {
  const html = secret.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  return [
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    JSON.stringify(secret).slice(1, -1),
    html,
    secret.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`),
  ];
}

/**
 * Query parameter names whose values are credentials: any name holding
 * pass, pwd, secret, token, key, signature or credential (`apikey`,
 * `access_token`, `X-Amz-Signature`, `secretAccessKey`...), and `sig`, `auth`,
 * MongoDB's `authMechanismProperties`.
 */
const SECRET_NAME = String
  .raw`[^=&#\s'"]*(?:pass|pwd|secret|token|key|signature|credential)[^=&#\s'"]*|sig|auth|authMechanismProperties`;
/**
 * A secret query value; punctuation that ends it before a space (`...token=x: failed`)
 * belongs to the sentence, which also makes redacting twice give the same text.
 */
const SECRET_PARAM = new RegExp(
  String.raw`([?&;](?:${SECRET_NAME})=)[^&#\s'"]*?(?=[.,:;)\]]*(?:[&#\s'"]|$))`,
  "gi",
);
/**
 * `scheme://user:password@`: the password runs to the last `@` before a space
 * or quote; or it holds spaces (typed unencoded in a `.env`), then it runs to
 * the first `@` on its line when it holds no `/` (a message's `host:5432/db
 * failed for a@b` is no password).
 */
// The second branch (a password with unencoded spaces) is written as runs of
// non-blanks split by single blanks so that no two ways match the same text:
// `[^@/'"\n]*[ \t][^@/'"\n]*` backtracked quadratically on a long line with
// no '@' (1.7 s for 100 KB of log text after `scheme://u:`).
const USERINFO =
  /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]*):(?:[^\s'"]*|[^@/'"\n \t]*(?:[ \t][^@/'"\n \t]*)+)@/gi;

/**
 * `text` with every registered secret (in any of its forms), every URL
 * password and every secret query value replaced by `***`.
 */
export function redact(text: string, options: RedactOptions = {}): string {
  // Callers pass unknown values through (a PlatformError's `input` may be a
  // number): anything that is not a string is shown as its string form.
  let out = typeof text === "string" ? text : String(text);
  for (const form of forms) if (out.includes(form)) out = out.replaceAll(form, MASK);
  out = out.replace(USERINFO, `$1:${MASK}@`);
  return options.queryValues === false ? out : out.replace(SECRET_PARAM, `$1${MASK}`);
}

/** How {@linkcode redact} masks. */
export interface RedactOptions {
  /**
   * Mask the values of query parameters named like a credential even when
   * they are not registered (default `true`). The UI turns it off for its own
   * pages: their links carry `key=` (a lake object key) and `token=` (a
   * listing page token), which are not secrets; the configuration's secret
   * query values are registered and still masked by value.
   */
  queryValues?: boolean;
}

/**
 * `url` safe to show: its password and secret query values masked, whether it
 * parses or not. Its secrets are registered first, so a message that repeats
 * them later (a driver's error text) is redacted as well.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./secrets.ts";
 * redactUrl("mongodb://u:pw@h1:27017,h2:27017/db?authSource=admin");
 * // "mongodb://u:***@h1:27017,h2:27017/db?authSource=admin"
 * redactUrl("https://h/v1?apikey=abc&x=1"); // "https://h/v1?apikey=***&x=1"
 * ```
 */
export function redactUrl(url: string | URL): string {
  const text = String(url);
  registerSecret(...urlSecrets(text));
  return redact(text);
}

/**
 * `value` with {@linkcode redact} applied to every string in it (plain
 * objects and arrays are copied, errors cleaned by {@linkcode redactError};
 * other values are returned as they are).
 */
export function redactDeep<T>(value: T): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map(redactDeep) as T;
  if (value instanceof Error) return redactError(value) as T;
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}

/**
 * An error safe to print or store: its message, stack and own string fields
 * are redacted in place, through its whole `cause` chain (and the `errors` of
 * an `AggregateError`). An error whose other fields (a driver's options,
 * nested objects) still hold a secret cannot be cleaned without touching
 * objects it shares with its library, so it is replaced by a clean copy
 * (same name, message, stack and `code`): always use the returned value.
 *
 * @example
 * ```ts
 * import { redactError, registerSecret } from "./secrets.ts";
 * registerSecret("topsecret1");
 * const error = redactError(new Error("login failed: topsecret1"));
 * error.message; // "login failed: ***"
 * ```
 */
export function redactError<E>(error: E): E {
  return clean(error, new Set()) as E;
}

function clean(error: unknown, seen: Set<unknown>): unknown {
  if (!(error instanceof Error) || seen.has(error)) return error;
  seen.add(error);
  for (const key of ["message", "stack", ...Object.keys(error)]) {
    const text = (error as unknown as Record<string, unknown>)[key];
    if (typeof text !== "string") continue;
    const redacted = redact(text);
    if (redacted !== text) define(error, key, redacted);
  }
  if (error.cause !== undefined) {
    const cause = clean(error.cause, seen);
    if (cause !== error.cause) define(error, "cause", cause);
  }
  if (error instanceof AggregateError) {
    const inner = error.errors.map((e) => clean(e, seen));
    if (inner.some((e, i) => e !== error.errors[i])) define(error, "errors", inner);
  }
  if (!fieldsMentionSecrets(error)) return error;
  const copy = new Error(error.message, error.cause === undefined ? {} : { cause: error.cause });
  copy.name = error.name;
  define(copy, "stack", error.stack ?? "");
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") define(copy, "code", code);
  return copy;
}

/** Whether an error's own non-string fields (what `Deno.inspect` prints) hold a secret. */
function fieldsMentionSecrets(error: Error): boolean {
  const fields = Object.entries(error).filter(([key, value]) =>
    typeof value === "object" && value !== null && key !== "cause" && key !== "errors"
  );
  if (fields.length === 0) return false;
  let text: string;
  try {
    text = JSON.stringify(
      Object.fromEntries(fields),
      (_, v) => typeof v === "bigint" ? String(v) : v,
    );
  } catch {
    return true; // circular fields cannot be checked: assume the worst
  }
  return redact(text) !== text;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Names of environment variables whose values are secrets in full. */
const SECRET_VARIABLE = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY)/i;

/**
 * Registers the secrets an environment (or `.env` file) holds: the values of
 * variables named like a secret (`*_PASSWORD`, `*SECRET*`, `*TOKEN*`, ...,
 * `S3_SECRET_ACCESS_KEY`), and the password and secret query values of every
 * URL value (`*_URL`, `DATABASE_URL`, whatever its name).
 */
export function registerSecretsOf(env: Readonly<Record<string, string | undefined>>): void {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === "") continue;
    if (SECRET_VARIABLE.test(name)) registerSecret(value);
    if (/^[a-z][a-z0-9+.-]*:/i.test(value.trim())) registerSecret(...urlSecrets(value.trim()));
    // A list of URLs (NOTIFY_URLS): the passwords of the second and later ones too.
    for (const token of value.trim().split(/\s+/).slice(1)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(token)) registerSecret(...urlSecrets(token));
    }
  }
}

/**
 * The password and secret query values of a URL, raw and decoded, also when
 * it does not parse (a bad port, a stray character): read by shape, the
 * password runs from the first `:` of the userinfo to the last `@` before
 * the first space, or, when it holds spaces, to the first `@`.
 */
export function urlSecrets(url: string): string[] {
  const out: string[] = [];
  // A password holding spaces (a whole value, unencoded: URL parsing accepts it).
  const spaced = /^[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:([^@\n]*\s[^@\n]*)@/i.exec(url.trim())?.[1];
  if (spaced !== undefined) out.push(spaced, safeDecode(spaced));
  const authority = /^[a-z][a-z0-9+.-]*:\/\/(\S*)/i.exec(url.trim())?.[1];
  if (authority !== undefined && spaced === undefined) {
    const at = authority.lastIndexOf("@");
    if (at > 0) {
      const userinfo = authority.slice(0, at);
      const colon = userinfo.indexOf(":");
      if (colon >= 0) {
        const password = userinfo.slice(colon + 1);
        out.push(password, safeDecode(password));
      }
    }
  }
  for (const match of url.matchAll(SECRET_PARAM)) {
    const value = match[0].slice(match[1]!.length);
    out.push(value, safeDecode(value));
  }
  return [...new Set(out.filter((s) => s.length > 0))];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
