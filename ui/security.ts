/**
 * The UI's security rules:
 *
 * - It binds to 127.0.0.1 unless told otherwise; on any other address it
 *   refuses to start without `UI_TOKEN`.
 * - With a token set, every mutating request carries it, as
 *   `Authorization: Bearer TOKEN` (scripts) or the `ui_token` cookie that
 *   `/login` sets (browsers; HttpOnly, SameSite=Strict).
 * - Mutations are POST only, and a POST whose `Origin` (or, without one,
 *   `Referer`) is not this server is refused (CSRF); a POST with neither is
 *   accepted only with the bearer header, which no cross-site page can send,
 *   or, without a token, from a client that is not a browser (curl). A POST
 *   whose `Sec-Fetch-Site` is not `same-origin` (or `none`) is refused too.
 * - On a loopback bind, a `Host` other than the loopback names is refused
 *   (DNS rebinding).
 * - A request body over {@linkcode MAX_BODY_BYTES} is a 413 before it is
 *   read: `/login` needs no token, so without a limit anyone who reaches a
 *   token-protected server could make it buffer gigabytes.
 * - A request body must arrive within {@linkcode BODY_TIMEOUT_MS} of its
 *   head, or the answer is a 408: a client sending it a byte now and then
 *   (slowloris on POST) held its request, and the handler awaiting the
 *   body, for ever. The front door's deadline covers the head only.
 * - Secrets (the passwords of every configured URL, the S3 secret key, the
 *   token) are replaced by `***` in every response body.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie } from "hono/cookie";
import { ConfigError, toError } from "../core/errors.ts";
import { redact, registerSecret } from "../core/secrets.ts";

/** Name of the cookie holding the token. */
export const TOKEN_COOKIE = "ui_token";

/** Whether `host` is a loopback address or name. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/**
 * Throws a `ConfigError` (exit 2) when the UI would listen beyond this
 * machine without a token.
 */
export function checkBind(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new ConfigError(
      "ui.token_required",
      `Cannot serve the UI on '${host}' without UI_TOKEN: anyone who reaches it could launch runs. ` +
        "Set UI_TOKEN to a long random string (e.g. `openssl rand -hex 24`), or bind to 127.0.0.1",
      { input: "UI_TOKEN" },
    );
  }
}

/** What the security middleware needs. */
export interface SecurityOptions {
  /** The bind address. */
  readonly host: string;
  /** The token mutating requests need, or `undefined` (loopback only). */
  readonly token: string | undefined;
  /** The methods served at a path, for the `Allow` header of a 405. */
  readonly allowed?: (path: string) => readonly string[];
}

/** Whether the request carries the token (always true when none is set). */
export function hasToken(c: Context, token: string | undefined): boolean {
  if (!token) return true;
  const header = c.req.header("authorization") ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  const given = bearer ?? getCookie(c, TOKEN_COOKIE);
  return given !== undefined && constantTimeEqual(given, token);
}

/** Whether `given` is `token`, in a time that does not depend on where they differ. */
export function tokenMatches(given: unknown, token: string): boolean {
  return typeof given === "string" && constantTimeEqual(given, token);
}

/**
 * The largest request body served: a launch form or JSON is a few KiB, so a
 * MiB leaves room for long selections and tags.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Refuses a body over {@linkcode MAX_BODY_BYTES} with a 413: by its
 * `Content-Length` before reading it, or once a chunked body passes it.
 */
export function bodyLimitMiddleware(): MiddlewareHandler {
  return bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
}

/** The 413 of a body over {@linkcode MAX_BODY_BYTES}. */
function tooLarge(c: Context): Response {
  return c.json({
    error: "body_too_large",
    message: `The request body is over ${
      MAX_BODY_BYTES / 1024 / 1024
    } MiB; a launch needs a few KiB: send the selection, not data`,
  }, 413);
}

/** How long a request's body may take to arrive once its head has, in milliseconds. */
export const BODY_TIMEOUT_MS = 10_000;

/**
 * Reads a request's whole body within `timeoutMs` (from when the handler
 * sees its head) and at most {@linkcode MAX_BODY_BYTES}, and hands the
 * handlers a copy in memory: a body slower than that is a 408, a bigger one a
 * 413, one the HTTP layer cannot decode (a bad chunk size) a 400, each saying
 * what to do. Placed before {@linkcode bodyLimitMiddleware}, which reads a
 * chunked body itself with no deadline.
 */
export function bodyTimeoutMiddleware(timeoutMs: number = BODY_TIMEOUT_MS): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    if (raw.body === null) return await next();
    const declared = raw.headers.get("content-length");
    if (declared !== null && Number(declared) > MAX_BODY_BYTES) return tooLarge(c);
    const reader = raw.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    try {
      for (;;) {
        const step = await Promise.race([
          // A body the HTTP layer cannot decode (a bad chunk size) rejects the read.
          reader.read().catch((error: unknown) => ({ error })),
          late,
        ]);
        if (step !== "late" && "error" in step) {
          c.header("Connection", "close");
          return c.json({
            error: "bad_body",
            message: `The request body cannot be read (${
              toError(step.error).message
            }); send it whole, with a correct Content-Length or chunked encoding`,
          }, 400);
        }
        if (step === "late") {
          // Not awaited: a client that stopped sending never settles the cancel.
          reader.cancel().catch(() => {});
          c.header("Connection", "close");
          return c.json({
            error: "body_timeout",
            message: `The request body did not arrive within ${
              timeoutMs / 1000
            } s of its headers; send the whole request at once (a launch needs a few KiB)`,
          }, 408);
        }
        if (step.done) break;
        size += step.value.length;
        if (size > MAX_BODY_BYTES) {
          reader.cancel().catch(() => {});
          c.header("Connection", "close");
          return tooLarge(c);
        }
        chunks.push(step.value);
      }
    } finally {
      clearTimeout(timer);
    }
    const body = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.length;
    }
    c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body });
    return await next();
  };
}

/** Host-header check, method rule, same-origin check and token check. */
export function securityMiddleware(options: SecurityOptions): MiddlewareHandler {
  const loopback = isLoopback(options.host);
  return async (c, next) => {
    const url = new URL(c.req.url);
    if (loopback && !isLoopback(url.hostname)) {
      return c.json({
        error: "forbidden_host",
        message: `Host '${url.host}' is not this server; open it as http://127.0.0.1:${
          url.port || 80
        }`,
      }, 403);
    }
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return await next();
    if (method !== "POST") {
      const allowed = options.allowed?.(url.pathname) ?? [];
      // RFC 9110: a 405 lists what the resource serves (GET, HEAD and POST where unknown).
      c.header("Allow", allowed.length > 0 ? allowed.join(", ") : "GET, HEAD, POST");
      return c.json({
        error: "method_not_allowed",
        message: `${method} is not served${
          allowed.length > 0
            ? ` at ${url.pathname}: use ${allowed.join(" or ")}`
            : ": only GET and POST are"
        }`,
      }, 405);
    }
    const origin = c.req.header("origin") ?? referrerOrigin(c.req.header("referer"));
    const bearer = /^Bearer\s+/i.test(c.req.header("authorization") ?? "");
    // Browsers mark every request with Sec-Fetch-Site; one from another site is refused even
    // when its Origin was dropped (an extension, a quirk), which the rule below would accept.
    const site = c.req.header("sec-fetch-site");
    const foreign = site !== undefined && site !== "same-origin" && site !== "none";
    if (
      foreign ||
      (origin === undefined ? !bearer && options.token !== undefined : origin !== url.origin)
    ) {
      return c.json({
        error: "cross_origin",
        message: `POST from ${
          origin ?? (foreign ? `a ${site} page` : "an unknown origin")
        } refused: only this server's pages (or a client sending the bearer token) may change anything`,
      }, 403);
    }
    if (url.pathname !== "/login" && !hasToken(c, options.token)) {
      return c.json({
        error: "token_required",
        message: "This server needs UI_TOKEN for changes: send 'Authorization: Bearer TOKEN', " +
          "or sign in at /login",
      }, 401);
    }
    return await next();
  };
}

/**
 * Replaces every secret in text responses by `***`: `secrets` and every
 * other registered one, in their URL-, JSON- and HTML-escaped forms too, and
 * any `user:password@` of a URL (core/secrets.ts). The UI's own query
 * parameters (`key=` object keys, `token=` page tokens) are kept: only
 * registered query values are masked, not every one named like a credential.
 */
export function redactMiddleware(secrets: readonly string[]): MiddlewareHandler {
  registerSecret(...secrets);
  return async (c, next) => {
    await next();
    const type = c.res.headers.get("content-type") ?? "";
    if (!/^(text\/html|application\/json)/.test(type) || c.res.status === 304) return;
    const body = await c.res.text();
    const clean = redact(body, { queryValues: false });
    if (clean === body) {
      c.res = new Response(body, c.res);
      return;
    }
    const headers = new Headers(c.res.headers);
    headers.delete("content-length");
    c.res = new Response(clean, { status: c.res.status, headers });
  };
}

function referrerOrigin(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return "invalid";
  }
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
