/**
 * {@linkcode FetchHttpClient}: the `HttpClient` on the platform's `fetch`, with
 * a timeout per attempt, retries with exponential backoff and jitter on 429,
 * 5xx and broken connections (honouring `Retry-After`), and a total time
 * budget, so no request hangs a run.
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import { CanceledError, toError } from "../../core/errors.ts";
import {
  HttpError,
  HttpErrorCode,
  HttpStatusError,
  HttpTimeoutError,
  HttpUnreachableError,
} from "./errors.ts";
import { classifyNetworkError } from "./_network.ts";
import { redactUrl } from "../../core/secrets.ts";
import { parseRetryAfter } from "./retry_after.ts";
import type { GetJsonOptions, HttpClient, HttpJsonResponse } from "./types.ts";

/** What {@linkcode FetchHttpClientOptions.onRetry} is told before each wait. */
export interface HttpRetryInfo {
  /** The URL, secrets redacted. */
  readonly url: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the client waits before the next attempt, in milliseconds. */
  readonly delayMs: number;
  /** Why the attempt failed, e.g. `HTTP 503` or `timed out after 10000 ms`. */
  readonly reason: string;
}

/** Options of {@linkcode FetchHttpClient}. */
export interface FetchHttpClientOptions {
  /**
   * Time allowed for one attempt (connect, headers and body), in milliseconds.
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /**
   * Retries after a 429, a 5xx, a broken connection or a timed out attempt.
   * @default {3}
   */
  readonly retries?: number;
  /**
   * Retries when the host cannot be reached at all (DNS failure, connection
   * refused). Kept low so that a machine without network fails in well under
   * two seconds.
   * @default {1}
   */
  readonly unreachableRetries?: number;
  /**
   * Delay before the first retry; each further retry doubles it.
   * @default {500}
   */
  readonly baseDelayMs?: number;
  /**
   * Upper bound of one backoff delay, in milliseconds.
   * @default {10000}
   */
  readonly maxDelayMs?: number;
  /**
   * Random spread of each backoff delay as a fraction (0.2 = ±20 %), so
   * clients that failed together do not retry together.
   * @default {0.2}
   */
  readonly jitter?: number;
  /**
   * Longest `Retry-After` the client honours, in milliseconds; a longer one is
   * cut to this.
   * @default {30000}
   */
  readonly maxRetryAfterMs?: number;
  /**
   * Budget for all attempts and waits of one call, in milliseconds: the client
   * gives up rather than start a wait that would end past it.
   * @default {60000}
   */
  readonly totalTimeoutMs?: number;
  /**
   * Time source for backoff waits and the budget (a `FakeClock` in tests).
   * The per-attempt timeout always uses real timers, since it guards real I/O.
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Random source for the jitter, in [0, 1).
   * @default {Math.random}
   */
  readonly random?: () => number;
  /**
   * The `fetch` to call (a stub in tests).
   * @default {globalThis.fetch}
   */
  readonly fetch?: typeof fetch;
  /**
   * `User-Agent` header sent with every request.
   * @default {"deno-data-platform/1"}
   */
  readonly userAgent?: string;
  /** Called before each wait, e.g. to log the retry. */
  readonly onRetry?: (info: HttpRetryInfo) => void;
  /**
   * Largest response body read, in bytes: a bigger one is `http.too_large`
   * (not retried) instead of filling memory. An Open-Meteo day is a few KB;
   * a URL pointing at a download, or a server streaming without end, is not.
   * @default {67108864}
   */
  readonly maxBodyBytes?: number;
}

/** One failed attempt: the error to throw if it was the last, and whether to try again. */
interface Failure {
  readonly error: HttpError;
  readonly retry: "normal" | "unreachable" | "never";
  readonly retryAfterMs?: number;
  readonly reason: string;
}

const EXCERPT_CHARS = 500;

/**
 * The HTTP client on `fetch`.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "./fetch_client.ts";
 * const http = new FetchHttpClient({ timeoutMs: 5_000 });
 * const { body, bytes } = await http.getJson("https://api.open-meteo.com/v1/forecast?latitude=45.78&longitude=-108.5");
 * ```
 */
export class FetchHttpClient implements HttpClient {
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #unreachableRetries: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #jitter: number;
  readonly #maxRetryAfterMs: number;
  readonly #totalTimeoutMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;
  readonly #onRetry: ((info: HttpRetryInfo) => void) | undefined;
  readonly #maxBodyBytes: number;

  /** Creates a client; throws `RangeError` for a negative or non-finite option. */
  constructor(options: FetchHttpClientOptions = {}) {
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs ?? 10_000);
    this.#retries = count("retries", options.retries ?? 3);
    this.#unreachableRetries = count("unreachableRetries", options.unreachableRetries ?? 1);
    this.#baseDelayMs = nonNegative("baseDelayMs", options.baseDelayMs ?? 500);
    this.#maxDelayMs = nonNegative("maxDelayMs", options.maxDelayMs ?? 10_000);
    this.#jitter = options.jitter ?? 0.2;
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new RangeError(
        `Cannot create the HTTP client with jitter ${this.#jitter}: expected a fraction between 0 and 1`,
      );
    }
    this.#maxRetryAfterMs = nonNegative("maxRetryAfterMs", options.maxRetryAfterMs ?? 30_000);
    this.#totalTimeoutMs = positive("totalTimeoutMs", options.totalTimeoutMs ?? 60_000);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#userAgent = options.userAgent ?? "deno-data-platform/1";
    this.#onRetry = options.onRetry;
    this.#maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes ?? 64 * 1024 * 1024);
  }

  /** GETs `url`, retrying what may pass, and parses the body as JSON. */
  async getJson(url: string | URL, options: GetJsonOptions = {}): Promise<HttpJsonResponse> {
    const target = new URL(url);
    const shown = redactUrl(target);
    const timeoutMs = positive("timeoutMs", options.timeoutMs ?? this.#timeoutMs);
    const started = this.#clock.now();
    const deadline = started + this.#totalTimeoutMs;
    let unreachable = 0;
    for (let attempt = 1;; attempt++) {
      if (options.signal?.aborted) throw canceled(shown);
      const budget = Math.max(1, Math.min(timeoutMs, deadline - this.#clock.now()));
      const result = await this.#attempt(target, shown, attempt, budget, timeoutMs, options);
      if (!("error" in result)) {
        return { ...result, attempts: attempt, durationMs: this.#clock.now() - started };
      }
      if (result.retry === "unreachable") unreachable++;
      const allowed = result.retry === "never"
        ? false
        : result.retry === "unreachable"
        ? unreachable <= this.#unreachableRetries
        : attempt - unreachable <= this.#retries;
      if (!allowed) throw result.error;
      const delayMs = this.#delay(attempt, result.retryAfterMs);
      if (this.#clock.now() + delayMs >= deadline) {
        throw new HttpError(
          HttpErrorCode.deadline,
          `${result.error.message}; gave up after ${attempt} attempts because waiting ` +
            `${delayMs} ms more would pass the ${this.#totalTimeoutMs} ms budget of one request`,
          { url: shown, attempts: attempt, retryable: result.error.retryable, cause: result.error },
        );
      }
      this.#onRetry?.({ url: shown, attempt, delayMs, reason: result.reason });
      await this.#clock.sleep(delayMs, options.signal);
    }
  }

  /** Milliseconds to wait after failed attempt `attempt`. */
  #delay(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.#maxRetryAfterMs);
    const base = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1));
    const spread = base * this.#jitter * (this.#random() * 2 - 1);
    return Math.max(0, Math.round(base + spread));
  }

  async #attempt(
    target: URL,
    shown: string,
    attempt: number,
    budgetMs: number,
    timeoutMs: number,
    options: GetJsonOptions,
  ): Promise<Omit<HttpJsonResponse, "attempts" | "durationMs"> | Failure> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, budgetMs);
    let response: Response;
    let bytes: Uint8Array;
    try {
      response = await this.#fetch(target, {
        method: "GET",
        signal: controller.signal,
        headers: { accept: "application/json", "user-agent": this.#userAgent, ...options.headers },
      });
      // The body is read under the same timeout: a server that sends headers
      // and then stalls must not hang the run.
      bytes = await readBody(response, this.#maxBodyBytes);
    } catch (thrown) {
      if (options.signal?.aborted) throw canceled(shown);
      if (thrown instanceof BodyTooLarge) {
        return {
          error: new HttpError(
            HttpErrorCode.tooLarge,
            `GET ${shown} returned a body of more than ${thrown.limit} bytes, far more than ` +
              "any JSON answer of the API: check that the URL points at the API (not a " +
              "download) and its parameters",
            { url: shown, attempts: attempt, retryable: false },
          ),
          retry: "never",
          reason: "body too large",
        };
      }
      if (timedOut) {
        const message = `GET ${shown} timed out after ${budgetMs} ms (attempt ${attempt}); ` +
          "the server is slow or stalled: raise HTTP_TIMEOUT_MS or try again later";
        return {
          error: new HttpTimeoutError(message, {
            url: shown,
            attempts: attempt,
            retryable: true,
            timeoutMs,
          }),
          retry: "normal",
          reason: `timed out after ${budgetMs} ms`,
        };
      }
      return networkFailure(thrown, target, shown, attempt);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (response.ok) return parseJson(response, bytes, shown, attempt);
    return statusFailure(response, bytes, shown, attempt, this.#clock.now());
  }
}

/** Thrown by {@linkcode readBody} past its limit. */
class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
  }
}

/** The whole body, refusing (and canceling) one past `limit` bytes. */
async function readBody(response: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => {}); // refused unread: its error does not matter
    throw new BodyTooLarge(limit);
  }
  if (response.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {}); // refused: the rest is not read
        throw new BodyTooLarge(limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function parseJson(
  response: Response,
  bytes: Uint8Array,
  shown: string,
  attempt: number,
): Omit<HttpJsonResponse, "attempts" | "durationMs"> {
  try {
    const body: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return { body, bytes, status: response.status, headers: response.headers, url: shown };
  } catch (error) {
    const start = new TextDecoder().decode(bytes.subarray(0, 80)).replace(/\s+/g, " ");
    const why = toError(error).message;
    throw new HttpError(
      HttpErrorCode.invalidJson,
      `GET ${shown} returned HTTP ${response.status} but its body is not JSON (${why}); ` +
        `it starts with ${JSON.stringify(start)}`,
      { url: shown, attempts: attempt, retryable: true },
    );
  }
}

function statusFailure(
  response: Response,
  bytes: Uint8Array,
  shown: string,
  attempt: number,
  now: number,
): Failure {
  const excerpt = new TextDecoder().decode(bytes.subarray(0, EXCERPT_CHARS * 4)).slice(
    0,
    EXCERPT_CHARS,
  );
  const status = response.status;
  const label = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const said = serverReason(excerpt);
  const transient = status === 429 || status >= 500;
  const advice = transient
    ? `; the server is ${status === 429 ? "rate limiting" : "failing"}: try again later`
    : status === 401 || status === 403
    ? "; check the API key or credentials in the URL"
    : "; check the request (the URL and its parameters); a 4xx is not retried";
  const message = `GET ${shown} failed with ${label}` +
    `${said ? `: ${said}` : ""}${transient ? ` after ${attempt} attempts` : ""}${advice}`;
  const error = new HttpStatusError(message, {
    url: shown,
    attempts: attempt,
    retryable: transient,
    status,
    bodyExcerpt: excerpt,
  });
  if (!transient) return { error, retry: "never", reason: label };
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now);
  return {
    error,
    retry: "normal",
    reason: label,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

/** The reason an API gave in a JSON error body (`reason`, `message` or `error`), if any. */
function serverReason(excerpt: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(excerpt);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    for (const field of ["reason", "message", "error"]) {
      const value = (parsed as Record<string, unknown>)[field];
      if (typeof value === "string" && value.trim() !== "") return value.trim().slice(0, 200);
    }
  } catch {
    // Not JSON (or cut off): fall through to the raw excerpt below.
  }
  const text = excerpt.replace(/\s+/g, " ").trim();
  return text === "" ? undefined : text.slice(0, 200);
}

function networkFailure(thrown: unknown, target: URL, shown: string, attempt: number): Failure {
  const { kind, detail } = classifyNetworkError(thrown);
  if (kind === "connect") {
    const host = target.host;
    const message = `Cannot reach ${target.hostname}: no network? (${detail} for GET ${shown}, ` +
      `${attempt} attempt${attempt === 1 ? "" : "s"}); check the connection, a proxy, or the URL`;
    return {
      // Not retryable at the asset level: minutes of asset retries would only
      // delay the same answer when the machine has no network.
      error: new HttpUnreachableError(message, {
        url: shown,
        attempts: attempt,
        retryable: false,
        host,
      }),
      retry: "unreachable",
      reason: detail,
    };
  }
  const message = `GET ${shown} failed: ${detail} after ${attempt} attempt${
    attempt === 1 ? "" : "s"
  }`;
  return {
    // The raw cause names the unredacted URL, so only the classified detail is kept.
    error: new HttpError(HttpErrorCode.network, message, {
      url: shown,
      attempts: attempt,
      retryable: true,
    }),
    retry: "normal",
    reason: detail,
  };
}

function canceled(shown: string): CanceledError {
  return new CanceledError(`GET ${shown} was canceled`, { resourceKey: "http", input: shown });
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `Cannot create the HTTP client with ${name} ${value}: expected milliseconds > 0`,
    );
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new RangeError(
      `Cannot create the HTTP client with ${name} ${value}: expected milliseconds >= 0`,
    );
  }
  return value;
}

function count(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(
      `Cannot create the HTTP client with ${name} ${value}: expected a whole number >= 0`,
    );
  }
  return value;
}
