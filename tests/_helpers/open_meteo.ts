/**
 * A loopback Open-Meteo for tests: `Deno.serve` on a free port answering
 * `/v1/archive` and `/v1/forecast` with recorded responses
 * (tests/fixtures/open_meteo/), and able to fail on demand: a status with
 * `Retry-After`, a slow answer (ended early by `close()`), malformed JSON, a
 * wrong shape.
 *
 * A request for the recorded place (Billings) on the recorded day gets the
 * recorded bytes verbatim. Any other place or day gets the recorded response
 * of that endpoint moved to the requested day and coordinates (temperatures
 * shifted by latitude, so places differ), serialised compactly with a fresh
 * `generationtime_ms` each time, as the real API does.
 *
 * @example
 * ```ts ignore
 * await using api = await startOpenMeteo();
 * api.failNext({ kind: "status", status: 429, retryAfter: "2" });
 * const url = `${api.archiveUrl}?latitude=45.7833&longitude=-108.5007&start_date=2026-11-20`;
 * ```
 *
 * @module
 */

const FIXTURES = new URL("../fixtures/open_meteo/", import.meta.url);

/** The recorded responses: endpoint, day, and the file holding the bytes. */
export const RECORDED = {
  archive: { day: "2026-11-20", file: "archive_billings_2026-11-20.json" },
  forecast: { day: "2026-11-23", file: "forecast_billings_2026-11-23.json" },
} as const;

/** Coordinates of the recorded place, as config/places.json gives them. */
export const BILLINGS = { latitude: 45.7833, longitude: -108.5007 } as const;

/** What the server does with the next request instead of answering normally. */
export type Failure =
  /** Answer with this status (and optional `Retry-After` and body). */
  | {
    readonly kind: "status";
    readonly status: number;
    readonly retryAfter?: string;
    readonly body?: string;
  }
  /** Wait this long before answering normally (stops early if the client goes away). */
  | { readonly kind: "slow"; readonly delayMs: number }
  /** 200 with a body cut in the middle of the JSON. */
  | { readonly kind: "malformed" }
  /** 200 with valid JSON of the wrong shape: `hourly.temperature_2m[3]` is a string. */
  | { readonly kind: "wrong_shape" };

/** One request the server received. */
export interface ReceivedRequest {
  /** `archive`, `forecast` or another path. */
  readonly endpoint: string;
  /** The query parameters. */
  readonly params: URLSearchParams;
  /** The full URL. */
  readonly url: string;
}

/** The running server. */
export interface OpenMeteoServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** `<origin>/v1/archive`. */
  readonly archiveUrl: string;
  /** `<origin>/v1/forecast`. */
  readonly forecastUrl: string;
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[];
  /** Queues failures: each one answers one request, then normal answers resume. */
  failNext(...failures: Failure[]): void;
  /**
   * Changes every normal answer (the body is a fresh copy each time); `undefined`
   * restores the recorded data.
   */
  transform: ((body: Record<string, unknown>, request: ReceivedRequest) => void) | undefined;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Reads a recorded response as bytes. */
export async function fixtureBytes(file: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(file, FIXTURES));
}

/** Reads a recorded response, parsed. */
export async function fixtureJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(new TextDecoder().decode(await fixtureBytes(file)));
}

/** A loopback port nothing listens on (bound, then released), for "connection refused". */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts the server on a free loopback port. */
export async function startOpenMeteo(): Promise<OpenMeteoServer> {
  const recorded = {
    archive: await fixtureBytes(RECORDED.archive.file),
    forecast: await fixtureBytes(RECORDED.forecast.file),
  };
  const failures: Failure[] = [];
  const requests: ReceivedRequest[] = [];
  const state: { transform: OpenMeteoServer["transform"] } = { transform: undefined };
  // Slow answers in progress; close() ends them so shutdown does not wait.
  const waiting = new Set<() => void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const endpoint = url.pathname.replace(/^\/v1\//, "");
      const received = { endpoint, params: url.searchParams, url: request.url };
      requests.push(received);
      const failure = failures.shift();
      if (failure?.kind === "slow") {
        await delay(failure.delayMs, waiting);
      } else if (failure) {
        return failed(failure, recorded.archive);
      }
      if (endpoint !== "archive" && endpoint !== "forecast") {
        return json({ error: true, reason: `Unknown endpoint /v1/${endpoint}` }, 404);
      }
      for (const name of ["latitude", "longitude", "start_date", "end_date", "hourly", "daily"]) {
        if (!url.searchParams.get(name)) {
          return json({ error: true, reason: `Parameter '${name}' is missing` }, 400);
        }
      }
      return answer(endpoint, received, recorded[endpoint], state.transform);
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const done of waiting) done();
    await server.shutdown();
  };
  return {
    origin,
    archiveUrl: `${origin}/v1/archive`,
    forecastUrl: `${origin}/v1/forecast`,
    requests,
    failNext: (...next) => void failures.push(...next),
    get transform() {
      return state.transform;
    },
    set transform(fn) {
      state.transform = fn;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function answer(
  endpoint: "archive" | "forecast",
  request: ReceivedRequest,
  bytes: Uint8Array,
  transform: OpenMeteoServer["transform"],
): Response {
  const day = request.params.get("start_date") ?? "";
  const latitude = Number(request.params.get("latitude"));
  const longitude = Number(request.params.get("longitude"));
  const isRecorded = day === RECORDED[endpoint].day && latitude === BILLINGS.latitude &&
    longitude === BILLINGS.longitude;
  if (isRecorded && !transform) return raw(bytes, 200);
  const body = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  if (!isRecorded) relocate(body, day, latitude, longitude);
  body.generationtime_ms = Math.random();
  transform?.(body, request);
  return json(body, 200);
}

/** Moves a recorded body to another day and place, the way the API would answer. */
function relocate(body: Record<string, unknown>, day: string, latitude: number, longitude: number) {
  const shift = Math.round((latitude - BILLINGS.latitude) * -20) / 10;
  body.latitude = Math.round(latitude * 100) / 100;
  body.longitude = Math.round(longitude * 100) / 100;
  const hourly = body.hourly as Record<string, unknown[]>;
  hourly.time = (hourly.time ?? []).map((time) => `${day}${String(time).slice(10)}`);
  hourly.temperature_2m = (hourly.temperature_2m ?? []).map((t) =>
    typeof t === "number" ? Math.round((t + shift) * 10) / 10 : t
  );
  const daily = body.daily as Record<string, unknown[]>;
  daily.time = [day];
}

function failed(failure: Exclude<Failure, { kind: "slow" }>, bytes: Uint8Array): Response {
  if (failure.kind === "status") {
    const headers = new Headers({ "content-type": "application/json" });
    if (failure.retryAfter !== undefined) headers.set("retry-after", failure.retryAfter);
    const body = failure.body ??
      JSON.stringify({ error: true, reason: `status ${failure.status}` });
    return new Response(body, { status: failure.status, headers });
  }
  if (failure.kind === "malformed") {
    return raw(bytes.subarray(0, Math.floor(bytes.length / 2)), 200);
  }
  const body = JSON.parse(new TextDecoder().decode(bytes)) as {
    hourly: { temperature_2m: unknown[] };
  };
  body.hourly.temperature_2m[3] = "warm";
  return json(body, 200);
}

function json(value: unknown, status: number): Response {
  return raw(new TextEncoder().encode(JSON.stringify(value)), status);
}

function raw(bytes: Uint8Array, status: number): Response {
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

function delay(ms: number, waiting: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    waiting.add(done);
    function done() {
      clearTimeout(timer);
      waiting.delete(done);
      resolve();
    }
  });
}
