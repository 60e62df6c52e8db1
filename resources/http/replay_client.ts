/**
 * {@linkcode ReplayHttpClient}: the `HttpClient` that answers from recorded
 * or sample responses instead of the network. It is what `SAMPLE_DATA=true`
 * selects, so the quick start runs offline with the same assets, the same
 * request URLs and the same response validation as the live API; only the
 * resource behind `ctx.resources.http` changes.
 *
 * What it can answer comes from {@linkcode ReplaySource}s (the weather
 * pipeline's is `assets/weather/samples.ts`). A request no source answers
 * fails at once with `http.no_sample`, naming the URL and what the sources
 * hold: it never falls through to the network.
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import { CanceledError } from "../../core/errors.ts";
import { HttpError, HttpErrorCode } from "./errors.ts";
import { redactUrl } from "../../core/secrets.ts";
import type { GetJsonOptions, HttpClient, HttpJsonResponse } from "./types.ts";

/** A response a {@linkcode ReplaySource} gives for a request. */
export interface ReplayAnswer {
  /** The body, exactly as the API would send it. */
  readonly bytes: Uint8Array;
  /** Where it came from, e.g. `synthetic sample sample_data/weather/billings/2026-11-03.json`. */
  readonly source: string;
}

/** Something that holds responses for some requests. */
export interface ReplaySource {
  /** What it holds, for the error of a request nobody answers. */
  readonly description: string;
  /** The response for `url`, or `undefined` when it holds none. */
  answer(url: URL): Promise<ReplayAnswer | undefined>;
}

/** Options of {@linkcode ReplayHttpClient}. */
export interface ReplayHttpClientOptions {
  /**
   * Appended to the error of an unanswered request: how to get live data.
   * @default {""}
   */
  readonly hint?: string;
  /**
   * Time source for `durationMs`.
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

/**
 * The HTTP client that replays sample responses.
 *
 * @example
 * ```ts
 * import { ReplayHttpClient } from "./replay_client.ts";
 * // The weather pipeline's source is openMeteoSamples (assets/weather/samples.ts).
 * const http = new ReplayHttpClient([{
 *   description: "one recorded forecast",
 *   answer: (url) =>
 *     Promise.resolve(
 *       url.pathname === "/v1/forecast"
 *         ? { bytes: new TextEncoder().encode('{"hourly": {}}'), source: "recorded forecast" }
 *         : undefined,
 *     ),
 * }]);
 * const { body, source } = await http.getJson("https://api.open-meteo.com/v1/forecast");
 * ```
 */
export class ReplayHttpClient implements HttpClient {
  readonly #sources: readonly ReplaySource[];
  readonly #hint: string;
  readonly #clock: Clock;

  /** Creates a client answering from `sources`, first match wins. */
  constructor(sources: readonly ReplaySource[], options: ReplayHttpClientOptions = {}) {
    this.#sources = sources;
    this.#hint = options.hint ?? "";
    this.#clock = options.clock ?? systemClock;
  }

  /** Answers `url` from the first source holding it; never reaches the network. */
  async getJson(url: string | URL, options: GetJsonOptions = {}): Promise<HttpJsonResponse> {
    const target = new URL(url);
    const shown = redactUrl(target);
    const started = this.#clock.now();
    if (options.signal?.aborted) {
      throw new CanceledError(`GET ${shown} was canceled`, { resourceKey: "http", input: shown });
    }
    for (const source of this.#sources) {
      const answer = await source.answer(target);
      if (!answer) continue;
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(answer.bytes));
      } catch (error) {
        throw new HttpError(
          HttpErrorCode.invalidJson,
          `The sample answering GET ${shown} (${answer.source}) is not JSON: ` +
            `${error instanceof Error ? error.message : error}; restore it from git`,
          { url: shown, attempts: 1, retryable: false, cause: error },
        );
      }
      return {
        body,
        bytes: answer.bytes,
        status: 200,
        headers: new Headers({ "content-type": "application/json; charset=utf-8" }),
        url: shown,
        attempts: 1,
        durationMs: this.#clock.now() - started,
        source: answer.source,
      };
    }
    const held = this.#sources.length === 0
      ? "no sample data is configured"
      : `the samples hold ${this.#sources.map((s) => s.description).join("; ")}`;
    throw new HttpError(
      HttpErrorCode.noSample,
      `No sample response for GET ${shown}: ${held}${this.#hint ? `; ${this.#hint}` : ""}`,
      { url: shown, attempts: 1, retryable: false },
    );
  }
}
