/**
 * The `HttpClient` role: GET a JSON document from a public API with timeouts,
 * retries and clear errors, so assets never call `fetch` themselves.
 *
 * @module
 */

/** Options of {@linkcode HttpClient.getJson}. */
export interface GetJsonOptions {
  /** Cancels the request and any wait between attempts (pass the asset's `ctx.signal`). */
  readonly signal?: AbortSignal;
  /**
   * Time allowed for one attempt (connect, headers and body), in milliseconds.
   *
   * @default {the client's timeoutMs}
   */
  readonly timeoutMs?: number;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A successful JSON response: the parsed value plus the exact bytes it was parsed from. */
export interface HttpJsonResponse {
  /** The parsed JSON body; validate it (zod) before use. */
  readonly body: unknown;
  /** The body exactly as received, for storing the raw response unchanged. */
  readonly bytes: Uint8Array;
  /** HTTP status (2xx). */
  readonly status: number;
  /** Response headers. */
  readonly headers: Headers;
  /** The requested URL with secrets (passwords, `apikey=`...) replaced by `***`. */
  readonly url: string;
  /** Attempts made, 1 when the first one succeeded. */
  readonly attempts: number;
  /** Time from the first attempt to the end of the body, in milliseconds (by the client's clock). */
  readonly durationMs: number;
  /**
   * Where the body came from when it is not the live API: set by the replay
   * client (`SAMPLE_DATA=true`), e.g. `synthetic sample sample_data/weather/...`.
   * Absent for a live response.
   */
  readonly source?: string;
}

/**
 * Fetches JSON over HTTP.
 *
 * Implementations retry what may pass on its own (429, 5xx, a dropped
 * connection, a timed out attempt) and fail at once, with a typed error naming
 * the URL without its secrets, on anything else:
 *
 * - `http.status`: a 4xx other than 429 (or a 429/5xx left after the last retry);
 * - `http.unreachable`: the host cannot be reached (DNS, refused, no route);
 * - `http.timeout`: the last attempt took longer than its timeout;
 * - `http.invalid_json`: a 2xx whose body is not JSON;
 * - `run.canceled`: the signal aborted.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "./fetch_client.ts";
 * import type { HttpClient } from "./types.ts";
 * const http: HttpClient = new FetchHttpClient({ timeoutMs: 10_000 });
 * const response = await http.getJson(
 *   "https://archive-api.open-meteo.com/v1/archive?latitude=45.78&longitude=-108.5",
 *   { signal: AbortSignal.timeout(30_000) },
 * );
 * ```
 */
export interface HttpClient {
  /** GETs `url` and parses its body as JSON. */
  getJson(url: string | URL, options?: GetJsonOptions): Promise<HttpJsonResponse>;
}
