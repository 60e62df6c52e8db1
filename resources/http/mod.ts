/**
 * The HTTP client resource: GET JSON from public APIs (Open-Meteo) with a
 * timeout per attempt, retries with backoff and jitter on 429, 5xx and broken
 * connections (honouring `Retry-After`), a total time budget, and typed errors
 * that name the URL without its secrets.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "./mod.ts";
 * const http = new FetchHttpClient({ timeoutMs: 10_000 });
 * const { body, bytes, attempts } = await http.getJson("https://api.open-meteo.com/v1/forecast?latitude=45.78&longitude=-108.5");
 * ```
 *
 * @module
 */

export type { GetJsonOptions, HttpClient, HttpJsonResponse } from "./types.ts";
export {
  HttpError,
  HttpErrorCode,
  type HttpErrorFields,
  HttpStatusError,
  HttpTimeoutError,
  HttpUnreachableError,
} from "./errors.ts";
export {
  FetchHttpClient,
  type FetchHttpClientOptions,
  type HttpRetryInfo,
} from "./fetch_client.ts";
export {
  type ReplayAnswer,
  ReplayHttpClient,
  type ReplayHttpClientOptions,
  type ReplaySource,
} from "./replay_client.ts";
export { parseRetryAfter } from "./retry_after.ts";
